//! Property: masking with the prefilter (each rule's regex searched only around its anchors) equals
//! masking with every rule's regex run over the whole input — for near misses, odd case and
//! separators, Unicode case variants of keys, invalid UTF-8, and inputs long enough to cross the
//! prefilter's segments. Also: the bulk shape scan finds exactly the positions the plain shape
//! definitions accept.

use crate::engine::{Scratch, Span, find_captures, slice};
use crate::prefilter::{Anchor, Hint, Prefilter};
use crate::shape::{self, Shape};
use crate::stream::Tail;
use crate::{MaskReport, Masker, MaskingConfig, TokenKey};
use proptest::prelude::*;
use std::cmp::Reverse;
use std::sync::OnceLock;

fn maskers() -> &'static [Masker] {
    static M: OnceLock<Vec<Masker>> = OnceLock::new();
    M.get_or_init(|| {
        let all = r#"
            enable = ["ipv4", "ipv6"]
            replacements = { card = "partial", email = "token", secret_value = "same_length" }
            [[rules]]
            name = "ticket"
            pattern = 'TICKET-([0-9]{4,8})'
            group = 1
            validator = "luhn"
        "#;
        let cfg: MaskingConfig = toml::from_str(all).expect("config parses");
        let key = TokenKey::new(b"test key");
        vec![
            Masker::builtin().expect("built-ins compile"),
            cfg.compile(Some(&key))
                .expect("config compiles")
                .default_profile()
                .clone(),
        ]
    })
}

/// Every rule's matches over the whole input, merged as the engine merges them, then rendered.
fn reference(masker: &Masker, hay: &[u8]) -> (Vec<u8>, MaskReport) {
    let set = &masker.set;
    let mut cands = Vec::new();
    for (i, rule) in set.rules.iter().enumerate() {
        let mut locs = rule.regex().capture_locations();
        let mut pos = 0;
        while pos <= hay.len() {
            let Some((s, e, ms, me)) = find_captures(rule, &mut locs, hay, pos) else {
                break;
            };
            if rule.validator.accepts(slice(hay, ms, me)) {
                cands.push(Span {
                    start: s,
                    end: e,
                    mask_start: ms,
                    mask_end: me,
                    rule: i,
                });
            }
            pos = e.max(s + 1);
        }
    }
    cands.sort_unstable_by_key(|c| (c.start, Reverse(c.end), c.rule));
    let mut spans = Vec::new();
    let mut accepted_end = 0;
    for c in cands {
        if c.start >= accepted_end {
            accepted_end = c.end;
            spans.push(c);
        }
    }
    let mut out = Vec::new();
    let mut report = MaskReport::new();
    set.render(hay, 0, (0, hay.len()), &spans, &mut out, &mut report);
    (out, report)
}

const PIECES: &[&str] = &[
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111111111111111",
    "4111 1111 1111 1112",
    "378282246310005",
    "3782 822463 10005",
    "4111 1111 1111 1 111",
    "1764075045123",
    "2026-11-25 12:30:45",
    "2026-11-25T12:30:45.123Z",
    "ORD-2026-000042",
    "123-45-6789",
    "12-345-6789",
    "DE89370400440532013000",
    "GB82 WEST 1234 5698 7654 32",
    "xGB82WEST12345698765432",
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAIOSFODNN7EXAMPLE",
    "A3TXIOSFODNN7EXAMPLE",
    "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "github_pat_0123456789abcdefghijAB",
    "glpat-abcdefghij0123456789",
    "xoxb-123456789012-abcdefghij",
    "sk_live_51H8abcdefghijklmnop",
    "sk-proj-abc123DEF456ghi789JKL012mno",
    "AIzaSyA-1234567890abcdefghijklmnopqrstu",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "eyJpZCI6MTIzfQ==",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\naFDrBz9vFqU4yV5nP1Bm2wOVGQ9q=\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n",
    "----------+---------",
    "postgres://app:s3cr3t@db:5432/x",
    "s3://key:secret@bucket/x",
    "https://shop.example.com/cart",
    "http://user@host/",
    "://",
    "Authorization: Bearer abc.def-123",
    "AUTHORIZATION = \"Basic dXNlcjpwYXNz\"",
    "Bearer abcdefghijklmnopqrstuvwxyz0123",
    "password=hunter2",
    "PassWord :  'x y'",
    "pa\u{17f}\u{17f}word=hunter2",
    "to\u{212a}en: abc",
    "DB_PASSWORD=\"s3cr3t\"",
    "\"client_secret\": \"a b c\"",
    "api-KEY => v",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "request_id=123e4567-e89b-12d3-a456-426614174000",
    "status: 200",
    "alice@example.com",
    "a.b+c@d-e.fg",
    "\"@timestamp\"",
    "x@",
    "10.0.0.1",
    "2001:db8::1",
    "TICKET-4111111",
    "the quick brown fox",
    " ",
    "    ",
    "\t",
    "\n",
    "\r\n",
    "-",
    ":",
    "=",
    "\"",
    "'",
    "@",
    ".",
    "é",
    "\u{212a}",
    "\u{17f}",
];

fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::sample::select(PIECES).prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..6),
        1 => prop::collection::vec(prop::sample::select(b"0123456789 -:AZ".to_vec()), 0..24),
        1 => Just(vec![0xff, 0xc3]),
    ]
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(piece(), 0..16).prop_map(|ps| ps.concat())
}

/// Pieces with stretches of filler between them, so anchors land on and across the 32 KiB
/// segment and 64-byte block edges.
fn long_input() -> impl Strategy<Value = Vec<u8>> {
    let filler =
        (0usize..40_000).prop_map(|n| b"lorem ipsum 12 ".iter().copied().cycle().take(n).collect());
    prop::collection::vec((filler, piece(), piece()), 1..4).prop_map(|parts| {
        parts
            .into_iter()
            .flat_map(|(f, a, b)| [f, a, b].concat())
            .collect()
    })
}

fn check(data: &[u8]) -> Result<(), TestCaseError> {
    for masker in maskers() {
        let mut report = MaskReport::new();
        let fast = masker.mask(data, &mut report).into_owned();
        let (slow, slow_report) = reference(masker, data);
        prop_assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&slow),
            "input {:?}",
            String::from_utf8_lossy(data)
        );
        prop_assert_eq!(&fast, &slow);
        prop_assert_eq!(report, slow_report);
    }
    Ok(())
}

/// A shape's plain definition at one position.
type ShapeAt = fn(&[u8], usize) -> bool;

/// Anchor positions the prefilter reports for a single-shape rule.
fn scanned(shape: Shape, hay: &[u8]) -> Vec<usize> {
    let p = Prefilter::new([Hint::Shape(shape)]);
    let mut anchors: Vec<Anchor> = Vec::new();
    p.scan(hay, 0, 0, &mut anchors);
    anchors.iter().map(|a| a.at).collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn anchored_search_equals_whole_search(data in input()) {
        check(&data)?;
    }

    #[test]
    fn arbitrary_bytes_equal_whole_search(data in prop::collection::vec(any::<u8>(), 0..300)) {
        check(&data)?;
    }

    #[test]
    fn bulk_shapes_equal_their_definitions(data in input()) {
        let cases: [(Shape, ShapeAt); 5] = [
            (Shape::CardDigits, |h, p| shape::card_at(h, p).is_some()),
            (Shape::DashedDigits, shape::ssn_at),
            (Shape::IbanStart, shape::iban_at),
            (Shape::At, shape::mail_at),
            (Shape::Userinfo, shape::userinfo_at),
        ];
        for (s, at) in cases {
            let plain: Vec<usize> = (0..data.len()).filter(|&p| at(&data, p)).collect();
            prop_assert_eq!(scanned(s, &data), plain, "{:?} in {:?}", s, String::from_utf8_lossy(&data));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24),
        ..ProptestConfig::default()
    })]

    #[test]
    fn long_inputs_equal_whole_search(data in long_input()) {
        check(&data)?;
    }
}

/// The streaming tail check looking only where the prefilter allows matches gives the same first
/// open position as looking everywhere, for every rule and starting point.
fn tail_agrees(data: &[u8], froms: &[usize]) -> Result<(), TestCaseError> {
    for masker in maskers() {
        let set = &masker.set;
        for &from in froms.iter().filter(|&&f| f <= data.len()) {
            let mut scratch = Scratch::default();
            set.find_starts(data, 0, from, &mut scratch);
            let tail = Tail {
                set,
                hay: data,
                base: 0,
                starts: &scratch,
            };
            for (i, rule) in set.rules.iter().enumerate() {
                let mut cache = rule.tail().create_cache();
                let everywhere = rule.tail().first_open(&mut cache, data, 0, from, &mut None);
                let anchored = tail.first_open(i, rule, &mut cache, from, &mut None);
                prop_assert_eq!(
                    anchored,
                    everywhere,
                    "{} from {} in {:?}",
                    rule.name,
                    from,
                    String::from_utf8_lossy(data)
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128),
        ..ProptestConfig::default()
    })]

    #[test]
    fn anchored_tail_check_equals_full(data in input(), froms in prop::collection::vec(0usize..200, 1..4)) {
        tail_agrees(&data, &froms)?;
    }
}

#[test]
fn unicode_case_variants_of_keys_are_masked() {
    // `(?i)` makes `s` match U+017F and `k` match U+212A; the prefilter must not skip those.
    let m = Masker::builtin().expect("built-ins compile");
    for text in [
        "pa\u{17f}\u{17f}word=hunter2",
        "to\u{212a}en: abc",
        "api_\u{212a}ey = v",
    ] {
        let out = m.mask(text.as_bytes(), &mut MaskReport::new()).into_owned();
        assert_eq!(out, reference(&m, text.as_bytes()).0, "{text}");
        assert!(String::from_utf8_lossy(&out).contains("REDACTED"), "{text}");
    }
}

#[test]
fn key_hints_describe_their_patterns() {
    // A `Keys` hint's `before` is the start of its rule's pattern (or of its first alternative).
    let mut seen = 0;
    for b in super::all() {
        let hints: &[Hint] = match &b.hint {
            Hint::Any(hints) => hints,
            h => std::slice::from_ref(h),
        };
        for h in hints {
            if let Hint::Keys { before, .. } = h {
                let inner = before.strip_prefix("(?i)").unwrap_or(before);
                let alt = b
                    .pattern
                    .strip_prefix("(?i:")
                    .is_some_and(|p| p.starts_with(inner));
                assert!(b.pattern.starts_with(before) || alt, "{}", b.name);
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 3);
}
