//! Property: the rules whose value runs are walked in code (`run.rs`) match exactly what their full
//! patterns, with the counted runs, matched before — and still stream exactly as they mask whole.

use crate::engine::find_captures;
use crate::rule::{Rule, RuleSpec};
use crate::{MaskReport, Masker};
use proptest::prelude::*;
use regex::bytes::{Regex, RegexBuilder};
use std::sync::OnceLock;

/// The patterns as they were before the runs were cut, one per rule.
const FULL: [(&str, &str); 3] = [
    (
        "url_password",
        r#"(?i)(?-u:\b)[a-z][a-z0-9+.-]{1,31}://[^\s:/?#@'"<>]{0,128}:([^\s/?#'"<>]{1,256})@"#,
    ),
    (
        "auth_header",
        concat!(
            r#"(?i:(?-u:\b)(?:proxy-)?authorization["']?[ \t]{0,4}[:=][ \t]{0,4}["']?"#,
            r#"(?:[a-z][a-z0-9-]{1,24}[ \t]{1,4})?([^\s"',;]{1,4096}))"#,
            r"|(?-u:\b)Bearer[ \t]{1,4}([A-Za-z0-9._~+/=-]{20,4096})"
        ),
    ),
    (
        "secret_value",
        concat!(
            r"(?i)(?-u:\b)[a-z0-9_.-]{0,48}",
            r"(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)",
            r#"["']?[ \t]{0,4}(?:[:=]|=>)[ \t]{0,4}"#,
            r#"(?:"([^"\r\n]{1,256})"|'([^'\r\n]{1,256})'|([^\s"',;&<>{}\[\]]{1,256}))"#
        ),
    ),
];

/// Each rule compiled as the masker compiles it, beside its full pattern's regex.
fn rules() -> &'static [(Rule, Regex)] {
    static R: OnceLock<Vec<(Rule, Regex)>> = OnceLock::new();
    R.get_or_init(|| {
        FULL.iter()
            .map(|&(name, full)| {
                let b = super::by_name(name).unwrap_or_else(|| panic!("no built-in `{name}`"));
                let spec = RuleSpec {
                    name,
                    pattern: b.pattern,
                    validator: b.validator,
                    target: b.target.spec(),
                    replacement: Default::default(),
                    hint: b.hint,
                    runs: b.runs,
                };
                let rule = Rule::compile(&spec).unwrap_or_else(|e| panic!("{name}: {e}"));
                let regex = RegexBuilder::new(full)
                    .size_limit(64 << 20)
                    .build()
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                (rule, regex)
            })
            .collect()
    })
}

type Found = (usize, usize, Option<(usize, usize)>);

/// Every match of the full pattern, as `captures_iter` finds them: span and first group that took part.
fn full_matches(regex: &Regex, hay: &[u8]) -> Vec<Found> {
    regex
        .captures_iter(hay)
        .filter_map(|c| {
            let m = c.get(0)?;
            let g = c
                .iter()
                .skip(1)
                .flatten()
                .next()
                .map(|g| (g.start(), g.end()));
            Some((m.start(), m.end(), g))
        })
        .collect()
}

/// Every match of the rule as the engine finds them.
fn rule_matches(rule: &Rule, hay: &[u8]) -> Vec<Found> {
    let mut locs = rule.regex().capture_locations();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos <= hay.len() {
        let Some((s, e, gs, ge)) = find_captures(rule, &mut locs, hay, pos) else {
            break;
        };
        out.push((s, e, Some((gs, ge))));
        pos = e.max(s + 1);
    }
    out
}

/// Keywords, separators, quotes, Unicode whitespace and look-alikes, invalid UTF-8.
const FRAGMENTS: &[&[u8]] = &[
    b"Authorization",
    b"authorization",
    b"Proxy-Authorization",
    b"AUTHORIZATION",
    b"Bearer",
    b"bearer",
    b"Basic",
    b"x-api-key",
    b"password",
    b"DB_PASSWORD",
    b"client_secret",
    b"api_key",
    b"token",
    b"tokens",
    b"postgres://",
    b"https://",
    b"user",
    b"a",
    b"Z9",
    b"_",
    b":",
    b"=",
    b"=>",
    b": ",
    b" ",
    b"  ",
    b"\t",
    b"\"",
    b"'",
    b",",
    b";",
    b"@",
    b"@@",
    b"/",
    b"?",
    b"#",
    b"<",
    b">",
    b"{",
    b"[",
    b"]",
    b"&",
    b".",
    b"~",
    b"+",
    b"-",
    b"\r\n",
    b"\n",
    "\u{a0}".as_bytes(),
    "\u{85}".as_bytes(),
    "\u{1680}".as_bytes(),
    "\u{2003}".as_bytes(),
    "\u{2028}".as_bytes(),
    "\u{3000}".as_bytes(),
    "\u{180e}".as_bytes(),
    "\u{200b}".as_bytes(),
    "\u{feff}".as_bytes(),
    "é".as_bytes(),
    "日".as_bytes(),
    "😀".as_bytes(),
    b"\xff",
    b"\xc3",
    b"\xe2\x80",
    b"\xed\xa0\x80",
    b"\xc0\x80",
    b"\x80",
];

/// A run of one repeated fragment, with lengths around the limits (20, 256, 4096).
fn long_run() -> impl Strategy<Value = Vec<u8>> {
    let unit = prop::sample::select(vec![
        &b"a"[..],
        b"Z",
        b"9",
        b"-",
        b"=",
        b"@",
        b"a@",
        b"x_",
        b"Q~",
        "é".as_bytes(),
        "日".as_bytes(),
        "😀".as_bytes(),
    ]);
    let len = prop_oneof![
        0..30usize,
        240..270usize,
        1010..1030usize,
        4080..4110usize,
        4100..4400usize,
    ];
    (unit, len).prop_map(|(u, n)| u.repeat(n))
}

/// Characters that some of the run classes take and others do not, or that end every run.
const EDGES: &[char] = &[
    ' ', '\t', '\r', '\n', '"', '\'', ',', ';', '&', '<', '>', '{', '}', '[', ']', '/', '?', '#',
    '@', ':', '=', '_', '.', '~', '+', '-', '!', '\u{a0}', '\u{2003}', '\u{3000}', '\u{200b}', 'é',
];

fn edge() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(EDGES).prop_map(|c| c.to_string().into_bytes())
}

fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        5 => prop::sample::select(FRAGMENTS).prop_map(<[u8]>::to_vec),
        4 => edge(),
        2 => long_run(),
        1 => prop::collection::vec(any::<u8>(), 0..4),
    ]
}

/// How the rules' matches begin: a key or URL, then a separator.
const KEYS: &[&str] = &[
    "Authorization",
    "proxy-authorization",
    "Bearer",
    " Bearer ",
    "password",
    "X_API_KEY",
    "client_secret",
    "https://user:",
    "postgres://u:",
    "s3://:",
];
const SEPARATORS: &[&str] = &[
    "",
    ":",
    ": ",
    "=",
    "=>",
    " => ",
    "\":",
    "': ",
    "=\"",
    " = '",
    ": Basic ",
    "=Bearer\t",
    " ",
];

/// A key, a separator and a value made of pieces, a few times over: most inputs reach the runs.
fn keyed() -> impl Strategy<Value = Vec<u8>> {
    let one = (
        prop::sample::select(KEYS),
        prop::sample::select(SEPARATORS),
        prop::collection::vec(
            prop_oneof![
                3 => edge(),
                2 => piece(),
                1 => long_run(),
                1 => Just(b"@".to_vec()),
            ],
            0..12,
        ),
    )
        .prop_map(|(k, s, v)| [k.as_bytes(), s.as_bytes(), &v.concat()].concat());
    prop::collection::vec(one, 1..4).prop_map(|ps| ps.concat())
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(piece(), 0..16).prop_map(|ps| ps.concat()),
        keyed(),
    ]
}

fn builtin() -> &'static Masker {
    static M: OnceLock<Masker> = OnceLock::new();
    M.get_or_init(|| Masker::builtin().unwrap_or_else(|e| panic!("built-ins compile: {e}")))
}

#[test]
fn max_len_is_the_full_patterns() {
    let lens = |of: &dyn Fn(&Rule, &str) -> Option<usize>| -> Vec<_> {
        rules()
            .iter()
            .zip(FULL)
            .map(|((rule, _), (name, full))| (name, of(rule, full)))
            .collect()
    };
    let full = lens(&|_, full| {
        let hir = regex_syntax::ParserBuilder::new()
            .utf8(false)
            .build()
            .parse(full);
        hir.ok().and_then(|h| h.properties().maximum_len())
    });
    assert_eq!(lens(&|rule, _| Some(rule.max_len)), full);
}

#[test]
fn runs_stop_at_their_limits() {
    let (url, header, secret) = match rules() {
        [u, h, s] => (u, h, s),
        _ => unreachable!("three rules"),
    };
    let value = "é".repeat(5000);
    let hay = format!("Authorization: Basic {value}");
    assert_eq!(
        rule_matches(&header.0, hay.as_bytes()),
        full_matches(&header.1, hay.as_bytes())
    );
    let hay = format!("password={} x", "b".repeat(300));
    assert_eq!(
        rule_matches(&secret.0, hay.as_bytes()),
        full_matches(&secret.1, hay.as_bytes())
    );
    // The last `@` within 256 characters ends the password; one past that does not count.
    for n in [250, 254, 255, 256, 257, 300] {
        let hay = format!(
            "https://u:{}@{}@host/ p://u:@x@",
            "a".repeat(n),
            "c".repeat(3)
        );
        let full = full_matches(&url.1, hay.as_bytes());
        assert_eq!(rule_matches(&url.0, hay.as_bytes()), full, "n = {n}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2048),
        ..ProptestConfig::default()
    })]

    #[test]
    fn cut_runs_match_like_the_full_patterns(data in input()) {
        for (rule, full) in rules() {
            prop_assert_eq!(
                rule_matches(rule, &data),
                full_matches(full, &data),
                "rule {} on {:?}", rule.name, String::from_utf8_lossy(&data)
            );
        }
    }

    #[test]
    fn long_values_stream_like_whole(data in input(), chunk in 1..600usize) {
        let masker = builtin();
        let whole = masker.mask(&data, &mut MaskReport::new()).into_owned();
        let mut stream = masker.stream();
        let mut out = Vec::new();
        for piece in data.chunks(chunk) {
            stream.push_into(piece, &mut out);
            prop_assert!(stream.held() <= 17 * 1024 + piece.len(), "held {}", stream.held());
        }
        stream.finish_into(&mut out);
        prop_assert_eq!(out, whole);
    }
}
