//! Property: streaming output, for any chunking, equals masking the concatenated input whole.

use proptest::prelude::*;
use std::sync::OnceLock;
use ward_mask::{MaskReport, Masker, MaskingConfig, TokenKey};

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

/// Pieces the inputs are assembled from: secrets, near misses, separators, and invalid UTF-8.
const PIECES: &[&str] = &[
    "4111 1111 1111 1111",
    "4111111111111111",
    "4111111111111112",
    "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "glpat-abcdefghij0123456789",
    "xoxb-123456789012-abcdefghij",
    "sk_live_51H8abcdefghijklmnop",
    "AIzaSyA-1234567890abcdefghijklmnopqrstu",
    "sk-proj-abc123DEF456ghi789JKL012mno",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\naFDrBz9vFqU4yV5nP1Bm2wOVGQ9q=\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n",
    "postgres://app:s3cr3t@db:5432/x",
    "Authorization: Bearer abc.def-123",
    "password=hunter2",
    "\"client_secret\": \"a b c\"",
    "alice@example.com",
    "DE89370400440532013000",
    "GB82 WEST 1234 5698 7654 32",
    "123-45-6789",
    "10.0.0.1",
    "2001:db8::1",
    "TICKET-4111111",
    "TICKET-1234",
    "2024-01-15 12:30:45",
    "123e4567-e89b-12d3-a456-426614174000",
    "the quick brown fox",
    " ",
    "\n",
    "\r\n",
    "-",
    ":",
    "=",
    "@",
    ".",
    "é",
];

fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::sample::select(PIECES).prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..6),
        1 => prop::collection::vec(prop::sample::select(b"0123456789 -".to_vec()), 0..20),
        1 => Just(vec![0xff, 0xc3]),
    ]
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(piece(), 0..14).prop_map(|ps| ps.concat())
}

/// Masks `data` by pushing it in pieces cut at `cuts` (positions taken modulo the length).
fn stream(masker: &Masker, data: &[u8], cuts: &[usize]) -> (Vec<u8>, MaskReport) {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.push(data.len());
    points.sort_unstable();
    let mut s = masker.stream();
    let mut out = Vec::new();
    let mut at = 0;
    for p in points {
        let chunk = data.get(at..p).unwrap_or_default();
        out.extend(s.push(chunk));
        // Bounded hold: the longest built-in match (~16.5 KiB) plus context plus this chunk.
        assert!(s.held() <= 17 * 1024 + chunk.len(), "held {}", s.held());
        at = p;
    }
    out.extend(s.finish());
    (out, s.take_report())
}

proptest! {
    // PROPTEST_CASES raises the count for a longer local run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(192),
        ..ProptestConfig::default()
    })]

    #[test]
    fn chunked_equals_whole(data in input(), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        for masker in maskers() {
            let mut whole_report = MaskReport::new();
            let whole = masker.mask(&data, &mut whole_report).into_owned();
            let (streamed, report) = stream(masker, &data, &cuts);
            prop_assert_eq!(
                String::from_utf8_lossy(&streamed),
                String::from_utf8_lossy(&whole),
                "input {:?}", String::from_utf8_lossy(&data)
            );
            prop_assert_eq!(&streamed, &whole);
            prop_assert_eq!(report, whole_report);
        }
    }

    #[test]
    fn byte_at_a_time_equals_whole(data in input()) {
        let masker = &maskers()[1];
        let whole = masker.mask(&data, &mut MaskReport::new()).into_owned();
        let cuts: Vec<usize> = (0..data.len()).collect();
        let (streamed, _) = stream(masker, &data, &cuts);
        prop_assert_eq!(streamed, whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512), cut in any::<usize>()) {
        let masker = &maskers()[1];
        let whole = masker.mask(&data, &mut MaskReport::new()).into_owned();
        let (streamed, _) = stream(masker, &data, &[cut]);
        prop_assert_eq!(streamed, whole);
    }
}
