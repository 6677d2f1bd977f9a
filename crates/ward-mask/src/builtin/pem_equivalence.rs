//! Property: `private_key` with its body walked in code (`pem.rs`) matches exactly what its full
//! pattern matched — END lines near and far, lines too long or empty, CRLF, truncated keys.

use crate::engine::find_captures;
use crate::rule::{Rule, RuleSpec};
use proptest::prelude::*;
use regex::bytes::{Regex, RegexBuilder};
use std::sync::OnceLock;

fn rule() -> &'static (Rule, Regex) {
    static R: OnceLock<(Rule, Regex)> = OnceLock::new();
    R.get_or_init(|| {
        let b = super::by_name("private_key").expect("private_key is built in");
        let runs = b.runs.expect("private_key walks its body");
        let spec = RuleSpec {
            name: b.name,
            pattern: b.pattern,
            validator: b.validator,
            target: b.target.spec(),
            replacement: Default::default(),
            hint: b.hint,
            runs: b.runs,
        };
        let rule = Rule::compile(&spec).expect("private_key compiles");
        // The tail pattern is the full pattern (its runs are bounded, not open-ended).
        let full = RegexBuilder::new(runs.tail)
            .size_limit(64 << 20)
            .build()
            .expect("full pattern compiles");
        (rule, full)
    })
}

fn full_matches(regex: &Regex, hay: &[u8]) -> Vec<(usize, usize)> {
    regex.find_iter(hay).map(|m| (m.start(), m.end())).collect()
}

fn rule_matches(rule: &Rule, hay: &[u8]) -> Vec<(usize, usize)> {
    let mut locs = rule.regex().capture_locations();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos <= hay.len() {
        let Some((s, e, gs, ge)) = find_captures(rule, &mut locs, hay, pos) else {
            break;
        };
        assert_eq!((gs, ge), (s, e), "the whole match is masked");
        out.push((s, e));
        pos = e.max(s + 1);
    }
    out
}

const FRAGMENTS: &[&str] = &[
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY BLOCK-----",
    "-----BEGIN PRIVATE KEY -----",
    "-----BEGIN ",
    "-----END RSA PRIVATE KEY-----",
    "-----END PRIVATE KEY-----",
    "-----END PRIVATE KEY BLOCK-----",
    "-----END PRIVATE KEY",
    "-----END ",
    "-----",
    "PRIVATE KEY",
    " BLOCK",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "\n",
    "\r\n",
    "\r",
    "QUJD",
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn",
    "+/=",
    " ",
    "x",
    "é",
];

fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::sample::select(FRAGMENTS).prop_map(|s| s.as_bytes().to_vec()),
        1 => (95usize..106).prop_map(|n| b"Q".repeat(n)),
        1 => (150usize..170).prop_map(|n| b"\nQQ".repeat(n)),
        1 => prop::collection::vec(any::<u8>(), 0..4),
    ]
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(piece(), 0..14).prop_map(|ps| ps.concat())
}

#[test]
fn max_len_is_the_full_patterns() {
    let (rule, _) = rule();
    let b = super::by_name("private_key").expect("private_key is built in");
    let full = b.runs.expect("private_key walks its body").tail;
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(full)
        .expect("parses");
    assert_eq!(Some(rule.max_len), hir.properties().maximum_len());
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn walked_bodies_match_like_the_full_pattern(data in input()) {
        let (rule, full) = rule();
        prop_assert_eq!(rule_matches(rule, &data), full_matches(full, &data), "{:?}", String::from_utf8_lossy(&data));
    }
}
