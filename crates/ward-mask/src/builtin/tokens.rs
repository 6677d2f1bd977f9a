//! Vendor token formats recognisable by their prefix: cloud keys, code-host and chat tokens, payment
//! and AI API keys, JWTs.

use super::{Builtin, BuiltinTarget};
use crate::prefilter::Hint;
use crate::validate::Validator;

/// A whole-match, on-by-default token rule whose every match starts with one of `starts` (for the
/// shared prefilter).
const fn whole(
    name: &'static str,
    pattern: &'static str,
    validator: Validator,
    starts: &'static [&'static str],
) -> Builtin {
    Builtin {
        name,
        pattern,
        validator,
        target: BuiltinTarget::Whole,
        on_by_default: true,
        runs: None,
        hint: Hint::Starts(starts),
    }
}

/// `aws_secret_key` up to its operator.
macro_rules! aws_secret_key {
    () => {
        concat!(
            r"(?i)(?-u:\b)(?:aws[_.-]?)?secret[_.-]?(?:access[_.-]?)?key",
            r#"["']?[ \t]{0,4}"#
        )
    };
}

pub(crate) const BUILTINS: &[Builtin] = &[
    // Access key ids are 20 upper-case base32 characters with a type prefix.
    whole(
        "aws_access_key",
        r"(?-u:\b)(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?-u:\b)",
        Validator::None,
        &["A3T", "AKIA", "ASIA", "ABIA", "ACCA"],
    ),
    Builtin {
        name: "aws_secret_key",
        // Secret keys are 40 base64 characters with nothing to recognise them by, so only in context:
        // `aws_secret_access_key = …`, `AWS_SECRET_ACCESS_KEY: "…"`, `secret_key=…`.
        pattern: concat!(
            aws_secret_key!(),
            r#"(?:[:=]|=>)[ \t]{0,4}["']?([A-Za-z0-9/+]{40})["']?"#
        ),
        validator: Validator::None,
        target: BuiltinTarget::Value,
        on_by_default: true,
        runs: None,
        hint: Hint::Keys {
            words: &["key"],
            before: aws_secret_key!(),
        },
    },
    whole(
        "github_token",
        r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,240})(?-u:\b)",
        Validator::None,
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
    ),
    whole(
        "gitlab_token",
        r"(?-u:\b)gl(?:pat|dt|rt|ptt|ft|soat|cbt)-[A-Za-z0-9_-]{20,64}",
        Validator::None,
        &[
            "glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glsoat-", "glcbt-",
        ],
    ),
    whole(
        "slack_token",
        r"(?-u:\b)xox[abposr]-[A-Za-z0-9-]{10,250}",
        Validator::None,
        &["xox"],
    ),
    whole(
        "stripe_key",
        r"(?-u:\b)(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,247}(?-u:\b)",
        Validator::None,
        &["sk_", "rk_"],
    ),
    whole(
        "google_api_key",
        r"(?-u:\b)AIza[0-9A-Za-z_-]{35}",
        Validator::None,
        &["AIza"],
    ),
    // OpenAI (sk-, sk-proj-, sk-svcacct-) and Anthropic (sk-ant-api03-…) keys. Requiring a digit and a
    // letter keeps hyphenated words such as `sk-learn-…` out.
    whole(
        "ai_api_key",
        r"(?-u:\b)sk-(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}",
        Validator::Mixed,
        &["sk-"],
    ),
    // header.payload.signature; the header must decode to JSON naming an `alg`. The prefilter keeps this
    // rule's large automaton (bounded runs of up to 8 KiB) unbuilt until a possible JWT shows up.
    whole(
        "jwt",
        r"(?-u:\b)eyJ[A-Za-z0-9_-]{4,2048}\.[A-Za-z0-9_-]{2,8192}\.[A-Za-z0-9_-]{0,1024}",
        Validator::JwtHeader,
        &["eyJ"],
    ),
];
