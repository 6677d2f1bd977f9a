//! Credential detectors that depend on surrounding syntax: PEM private keys, URL passwords,
//! `Authorization` headers and `password=`-style assignments.

use super::{Builtin, BuiltinTarget};
use crate::pem;
use crate::prefilter::Hint;
use crate::run::{Run, RunClass, RunEnd, Runs};
use crate::shape::Shape;
use crate::validate::Validator;

// The long value runs of `url_password`, `auth_header` and `secret_value` are walked in code (see
// `run.rs`): each pattern below stops after a run's first characters, and `Runs` says how far the run
// goes. The full forms are `{1,256}`, `{1,4096}`, `{20,4096}` and `{1,256}`, as their `tail` patterns
// show with the limit left open.

macro_rules! url_password {
    ($run:literal) => {
        concat!(
            r#"(?i)(?-u:\b)[a-z][a-z0-9+.-]{1,31}://[^\s:/?#@'"<>]{0,128}:"#,
            $run
        )
    };
}

const URL_PASSWORD: Runs = Runs {
    runs: &[Run {
        group: 1,
        class: RunClass::UrlPassword,
        min: 1,
        max: 256,
        end: RunEnd::LastAt,
    }],
    tail: url_password!(r#"([^\s/?#'"<>]+)@"#),
    max_len: 1637,
};

/// `auth_header`'s first alternative up to its `:` or `=`.
macro_rules! auth_key {
    () => {
        r#"(?-u:\b)(?:proxy-)?authorization["']?[ \t]{0,4}"#
    };
}

macro_rules! auth_header {
    ($value:literal, $token:literal) => {
        concat!(
            "(?i:",
            auth_key!(),
            r#"[:=][ \t]{0,4}["']?"#,
            r#"(?:[a-z][a-z0-9-]{1,24}[ \t]{1,4})?"#,
            $value,
            r#")|(?-u:\b)Bearer[ \t]{1,4}"#,
            $token
        )
    };
}

const AUTH_HEADER: Runs = Runs {
    runs: &[
        Run {
            group: 1,
            class: RunClass::HeaderValue,
            min: 1,
            max: 4096,
            end: RunEnd::Greedy,
        },
        Run {
            group: 2,
            class: RunClass::BearerToken,
            min: 20,
            max: 4096,
            end: RunEnd::Greedy,
        },
    ],
    tail: auth_header!(r#"([^\s"',;]+)"#, r"([A-Za-z0-9._~+/=-]{20,})"),
    max_len: 16_493,
};

/// `secret_value` up to its operator.
macro_rules! secret_key {
    () => {
        concat!(
            r"(?i)(?-u:\b)[a-z0-9_.-]{0,48}",
            r"(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)",
            r#"["']?[ \t]{0,4}"#
        )
    };
}

macro_rules! secret_value {
    ($bare:literal) => {
        concat!(
            secret_key!(),
            r#"(?:[:=]|=>)[ \t]{0,4}"#,
            r#"(?:"([^"\r\n]{1,256})"|'([^'\r\n]{1,256})'|"#,
            $bare,
            ")"
        )
    };
}

const SECRET_VALUE: Runs = Runs {
    runs: &[Run {
        group: 3,
        class: RunClass::BareValue,
        min: 1,
        max: 256,
        end: RunEnd::Greedy,
    }],
    tail: secret_value!(r#"([^\s"',;&<>{}\[\]]+)"#),
    max_len: 1195,
};

macro_rules! pem_header {
    () => {
        r"-----BEGIN[A-Z0-9 ]{0,48}PRIVATE KEY(?: BLOCK)?-----"
    };
}

const PRIVATE_KEY: Runs = Runs {
    runs: &[Run {
        group: 1,
        class: RunClass::BareValue,
        min: 0,
        max: pem::MAX_BODY,
        end: RunEnd::PemBody,
    }],
    tail: concat!(
        pem_header!(),
        r"(?:(?s-u:.){0,16384}?-----END[A-Z0-9 ]{0,48}PRIVATE KEY(?: BLOCK)?-----",
        r"|(?:\r?\n[A-Za-z0-9+/=]{1,100}){0,160}(?:\r?\n|$))"
    ),
    max_len: 16_542,
};

pub(crate) const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "private_key",
        // The whole BEGIN…END block, body up to 16 KiB (RSA-16384 keys are ~12.6 KiB of PEM). Without an
        // END within that, the second alternative masks the header and the complete base64 lines after
        // it (up to 160 lines of 100), so a truncated key (`head id_rsa`) is still hidden.
        // The body is walked in code (`pem.rs`); the pattern is the header and an empty group after it.
        pattern: concat!(pem_header!(), "()"),
        validator: Validator::None,
        target: BuiltinTarget::Whole,
        on_by_default: true,
        hint: Hint::Literals(&["-----BEGIN"]),
        runs: Some(&PRIVATE_KEY),
    },
    Builtin {
        name: "url_password",
        // scheme://user:PASSWORD@host — only the password. It may contain `@`; the last `@` before the
        // path ends it.
        pattern: url_password!(r#"([^\s/?#'"<>])"#),
        validator: Validator::None,
        target: BuiltinTarget::Value,
        on_by_default: true,
        hint: Hint::Shape(Shape::Userinfo),
        runs: Some(&URL_PASSWORD),
    },
    Builtin {
        name: "auth_header",
        // `Authorization: Bearer X` / `Basic X` / bare value: mask X, keep the scheme. A bare
        // `Bearer <token>` elsewhere (curl -H, logs) too, when the token is long enough to be one.
        pattern: auth_header!(r#"([^\s"',;])"#, r"([A-Za-z0-9._~+/=-]{20})"),
        validator: Validator::None,
        target: BuiltinTarget::Value,
        on_by_default: true,
        hint: Hint::Any(&[
            Hint::Keys {
                words: &["authorization"],
                before: concat!("(?i)", auth_key!()),
            },
            Hint::Starts(&["Bearer"]),
        ]),
        runs: Some(&AUTH_HEADER),
    },
];

/// Generic assignments go after the specific token detectors so a known token format wins ties.
pub(crate) const GENERIC: &[Builtin] = &[
    Builtin {
        name: "sql_password",
        // SQL's `PASSWORD '…'`: CREATE/ALTER ROLE … PASSWORD 'x' (psql's \password sends the
        // SCRAM verifier there, itself a secret), CREATE USER MAPPING … OPTIONS (password 'x').
        // The literal may be E'…' and hold '' (an escaped quote), or be dollar-quoted ($$x$$).
        pattern: r"(?i-u:\bpassword)[ \t\r\n]{1,8}(?i-u:e)?(?:'((?:[^']|''){1,256})'|\$\$([^$]{1,256})\$\$)",
        validator: Validator::None,
        target: BuiltinTarget::Value,
        on_by_default: true,
        hint: Hint::Literals(&["password"]),
        runs: None,
    },
    Builtin {
        name: "secret_value",
        // key = value, key: value, "key": "value", key => value, where the key ends in a secret-ish word
        // (DB_PASSWORD, client_secret, api-key, auth_token …). Only the value is masked. Keys that merely
        // contain the word (`tokens`, `password_hash`) do not match.
        pattern: secret_value!(r#"([^\s"',;&<>{}\[\]])"#),
        validator: Validator::None,
        target: BuiltinTarget::Value,
        on_by_default: true,
        // The key part ends in one of these right before the quote, blanks and operator.
        hint: Hint::Keys {
            words: &[
                "password",
                "passwd",
                "passphrase",
                "secret",
                "token",
                "key",
                "credential",
                "credentials",
            ],
            before: secret_key!(),
        },
        runs: Some(&SECRET_VALUE),
    },
];
