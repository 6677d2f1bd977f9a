//! Detector tests: positives and look-alike negatives for every built-in.

use crate::{MaskReport, Masker, MaskingConfig};
use std::sync::OnceLock;

/// Every built-in, including the off-by-default network ones, with full replacement.
fn masker() -> &'static Masker {
    static M: OnceLock<Masker> = OnceLock::new();
    M.get_or_init(|| {
        let cfg = MaskingConfig {
            enable: vec!["ipv4".into(), "ipv6".into()],
            ..Default::default()
        };
        match cfg.compile(None) {
            Ok(m) => m.default_profile().clone(),
            Err(e) => panic!("built-ins compile: {e}"),
        }
    })
}

fn mask(input: &str) -> String {
    masker()
        .mask_str(input, &mut MaskReport::new())
        .into_owned()
}

/// The rules that fired on `input`, with counts.
fn hits(input: &str) -> Vec<(String, u64)> {
    let mut report = MaskReport::new();
    masker().mask_str(input, &mut report);
    report.iter().map(|(n, c)| (n.to_owned(), c)).collect()
}

fn assert_masks(rule: &str, input: &str, expected: &str) {
    assert_eq!(mask(input), expected, "input: {input}");
    assert_eq!(hits(input), vec![(rule.to_owned(), 1)], "input: {input}");
}

fn assert_clean(input: &str) {
    assert_eq!(mask(input), input, "should not be masked: {input}");
}

#[test]
fn card_numbers() {
    assert_masks(
        "card",
        "pay 4111111111111111 now",
        "pay [REDACTED:card] now",
    );
    assert_masks("card", "pay 4111 1111 1111 1111.", "pay [REDACTED:card].");
    assert_masks("card", "amex 3782-822463-10005", "amex [REDACTED:card]");
    assert_masks("card", "mc:5555555555554444", "mc:[REDACTED:card]");
    assert_masks(
        "card",
        "19 digits 6011 0009 9013 9424 124?",
        "19 digits [REDACTED:card]?",
    );
}

#[test]
fn card_look_alikes() {
    assert_clean("order 4111111111111112 shipped"); // Luhn-invalid
    assert_clean("order id 1234567812345678"); // Luhn-invalid
    assert_clean("ts=1700000000000 ms"); // Luhn-valid, but no card starts with 1
    assert_clean("at 2024-01-15 12:30:45.123456789");
    assert_clean("call +1 415-555-0132 or (020) 7946 0958");
    assert_clean("id 123e4567-e89b-12d3-a456-426614174000");
    assert_clean("commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904");
    assert_clean("a 4111111111111111111111 run too long");
}

#[test]
fn aws_keys() {
    assert_masks(
        "aws_access_key",
        "id AKIAIOSFODNN7EXAMPLE.",
        "id [REDACTED:aws_access_key].",
    );
    assert_masks(
        "aws_access_key",
        "ASIAY34FZKBOKMUTVV7A",
        "[REDACTED:aws_access_key]",
    );
    assert_masks(
        "aws_secret_key",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_secret_access_key = [REDACTED:aws_secret_key]",
    );
    assert_masks(
        "aws_secret_key",
        r#"{"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}"#,
        r#"{"AWS_SECRET_ACCESS_KEY": "[REDACTED:aws_secret_key]"}"#,
    );
    assert_clean("AKIAIOSFODNN7EXAMPL is short; XAKIAIOSFODNN7EXAMPLE is embedded");
    assert_clean(
        "the word SECRET alone and wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY without a key",
    );
}

#[test]
fn code_host_and_chat_tokens() {
    let ghp = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    assert_masks(
        "github_token",
        &format!("token {ghp} x"),
        "token [REDACTED:github_token] x",
    );
    let pat = "github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW";
    assert_masks("github_token", pat, "[REDACTED:github_token]");
    assert_masks(
        "gitlab_token",
        "glpat-xxxxxxxxxxxxxxxxxxxx",
        "[REDACTED:gitlab_token]",
    );
    assert_masks(
        "slack_token",
        "xoxb-123456789012-abcdefghij",
        "[REDACTED:slack_token]",
    );
    assert_clean("ghp_short and gh_0123456789abcdefghijABCDEFGHIJ012345 and xoxz-123456789012");
}

#[test]
fn payment_google_and_ai_keys() {
    assert_masks(
        "stripe_key",
        "sk_live_51H8abcdefghijklmnop",
        "[REDACTED:stripe_key]",
    );
    assert_masks(
        "stripe_key",
        "rk_test_abcdefghijklmnop1234",
        "[REDACTED:stripe_key]",
    );
    assert_masks(
        "google_api_key",
        "key=AIzaSyA-1234567890abcdefghijklmnopqrstu",
        "key=[REDACTED:google_api_key]",
    );
    assert_masks(
        "ai_api_key",
        "sk-proj-abc123DEF456ghi789JKL012mno",
        "[REDACTED:ai_api_key]",
    );
    assert_masks(
        "ai_api_key",
        "export K=sk-ant-api03-AbCdEf0123456789_ghIJkl-mnOPqr",
        "export K=[REDACTED:ai_api_key]",
    );
    assert_clean(
        "pk_live_51H8abcdefghijklmnop is publishable; risk-assessment-framework; sk-learn-is-a-library-name",
    );
}

#[test]
fn jwts() {
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    assert_masks("jwt", &format!("jwt={jwt};"), "jwt=[REDACTED:jwt];");
    // Starts like a JWT but the header has no "alg".
    assert_clean("eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.abc");
}

#[test]
fn private_keys() {
    let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\naFDrBz9vFqU4yV5nP1Bm2wOVGQ9qy3Tq2k5Aj0k=\n-----END RSA PRIVATE KEY-----";
    assert_masks(
        "private_key",
        &format!("key:\n{key}\nafter"),
        "key:\n[REDACTED:private_key]\nafter",
    );
    // Truncated (no END): header and base64 lines are still masked, the prose after is not.
    assert_masks(
        "private_key",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nBG5vbmUAAAAEbm9uZQ==\nthat was it",
        "[REDACTED:private_key]that was it",
    );
    assert_clean(
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    );
}

#[test]
fn url_passwords() {
    assert_masks(
        "url_password",
        "DATABASE_URL=postgres://app:s3cr3t@db.internal:5432/app",
        "DATABASE_URL=postgres://app:[REDACTED:url_password]@db.internal:5432/app",
    );
    assert_masks(
        "url_password",
        "redis://:p@ss@cache/0",
        "redis://:[REDACTED:url_password]@cache/0",
    );
    assert_masks(
        "url_password",
        "https://bob:hunter2@example.com/x",
        "https://bob:[REDACTED:url_password]@example.com/x",
    );
    assert_clean("https://example.com:8443/path?q=a@b and mailto:someone");
}

#[test]
fn authorization_headers() {
    assert_masks(
        "auth_header",
        "Authorization: Bearer abc.def-123\r\n",
        "Authorization: Bearer [REDACTED:auth_header]\r\n",
    );
    assert_masks(
        "auth_header",
        "authorization: Basic dXNlcjpwYXNz",
        "authorization: Basic [REDACTED:auth_header]",
    );
    assert_masks(
        "auth_header",
        r#"curl -H "Bearer 0123456789abcdefghijKLMN""#,
        r#"curl -H "Bearer [REDACTED:auth_header]""#,
    );
    assert_clean("a basic understanding of the bearer bond market");
}

#[test]
fn secret_assignments() {
    assert_masks(
        "secret_value",
        "DB_PASSWORD=hunter2 next",
        "DB_PASSWORD=[REDACTED:secret_value] next",
    );
    assert_masks(
        "secret_value",
        "passwd: letmein",
        "passwd: [REDACTED:secret_value]",
    );
    assert_masks(
        "secret_value",
        r#"{"client_secret": "a b c", "user": "x"}"#,
        r#"{"client_secret": "[REDACTED:secret_value]", "user": "x"}"#,
    );
    assert_masks(
        "secret_value",
        "?user=a&token=xyz&x=1",
        "?user=a&token=[REDACTED:secret_value]&x=1",
    );
    assert_clean("tokens = tokenize(text); password_hash = h; the password is required");
}

#[test]
fn sql_password_literals() {
    assert_masks(
        "sql_password",
        "ALTER ROLE app PASSWORD 'hunter2';",
        "ALTER ROLE app PASSWORD '[REDACTED:sql_password]';",
    );
    assert_masks(
        "sql_password",
        "create user bob with password E'it''s\\x' login",
        "create user bob with password E'[REDACTED:sql_password]' login",
    );
    assert_masks(
        "sql_password",
        "ALTER USER app PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a2V5:c2Vy'",
        "ALTER USER app PASSWORD '[REDACTED:sql_password]'",
    );
    assert_masks(
        "sql_password",
        "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'x', password 'p4ss')",
        "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'x', password '[REDACTED:sql_password]')",
    );
    assert_masks(
        "sql_password",
        "CREATE ROLE r PASSWORD $$dollar$$",
        "CREATE ROLE r PASSWORD $$[REDACTED:sql_password]$$",
    );
    // dblink's connection strings are `key=value` pairs: `secret_value` has them.
    assert_masks(
        "secret_value",
        "SELECT dblink_connect('host=db password=s3cret dbname=x')",
        "SELECT dblink_connect('host=db password=[REDACTED:secret_value] dbname=x')",
    );
    assert_clean("ALTER ROLE app PASSWORD NULL; -- the password policy");
}

#[test]
fn emails() {
    assert_masks(
        "email",
        "mail alice.o'x@example.com",
        "mail alice.o'[REDACTED:email]",
    );
    assert_masks(
        "email",
        "<bob+tag@mail.example.co.uk>",
        "<[REDACTED:email]>",
    );
    assert_clean("@Override, user@localhost, a@b, v1.2@3");
}

#[test]
fn ibans() {
    assert_masks(
        "iban",
        "IBAN DE89370400440532013000.",
        "IBAN [REDACTED:iban].",
    );
    assert_masks("iban", "GB82 WEST 1234 5698 7654 32", "[REDACTED:iban]");
    assert_clean("GB82WEST12345698765433 (bad checksum) and ABCD12345678901234");
}

#[test]
fn ssns() {
    assert_masks("ssn", "ssn 123-45-6789.", "ssn [REDACTED:ssn].");
    assert_clean(
        "000-12-3456 666-12-3456 901-12-3456 123-00-4567 123-45-0000 2024-01-1512 555-123-4567",
    );
}

#[test]
fn ip_addresses_when_enabled() {
    assert_masks("ipv4", "from 10.0.12.7:5432", "from [REDACTED:ipv4]:5432");
    assert_masks("ipv6", "to 2001:db8::1 ok", "to [REDACTED:ipv6] ok");
    assert_masks(
        "ipv6",
        "[fe80::1ff:fe23:4567:890a]:22",
        "[[REDACTED:ipv6]]:22",
    );
    assert_clean("version 1.2.3, 256.1.1.1, at 12:30:45, std::vec::Vec");
}

#[test]
fn ordinary_prose_and_code_pass_through() {
    let text = "fn main() {\n    let total = items.iter().map(|i| i.price * 100).sum::<u64>();\n    \
                println!(\"{total} for order 20240115-0042 ({} items)\", items.len());\n}\n\
                The quick brown fox jumps over the lazy dog. Version 0.1.0 released 2024-01-15.\n";
    assert_clean(text);
}

#[test]
fn invalid_utf8_is_a_separator() {
    let input = b"\xff4111111111111111\xfe and \xc3AKIAIOSFODNN7EXAMPLE\x80";
    let out = masker().mask(input, &mut MaskReport::new());
    assert_eq!(
        &*out,
        &b"\xff[REDACTED:card]\xfe and \xc3[REDACTED:aws_access_key]\x80"[..]
    );
}

#[test]
fn earlier_longer_match_wins_overlaps() {
    // The URL rule starts first and covers `s3cret@db.example.com`, which also looks like an email.
    assert_eq!(
        hits("postgres://u:s3cret@db.example.com/x"),
        vec![("url_password".to_owned(), 1)]
    );
    // The header value is a JWT; the header rule starts first.
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln";
    assert_eq!(
        hits(&format!("Authorization: Bearer {jwt}")),
        vec![("auth_header".to_owned(), 1)]
    );
}

/// Built-in automata are built on first use (`Rule::compile_deferred`); this builds every one, so a
/// pattern that stopped compiling fails here rather than in production.
#[test]
fn every_builtin_builds() {
    for rule in &masker().set.rules {
        assert!(rule.regex().captures_len() >= 1, "{}", rule.name);
        let mut cache = rule.tail().create_cache();
        let _ = rule.tail().first_open(&mut cache, b"x", 0, 0, &mut None);
    }
    assert_eq!(masker().set.rules.len(), super::all().count());
}
