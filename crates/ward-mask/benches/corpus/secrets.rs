//! Secrets planted in the "with secrets" corpus: fresh random values in the shapes the built-in rules
//! detect (Luhn-valid cards, AWS keys, vendor tokens, JWTs, PEM keys …), each in a realistic context.

use super::Rng;
use super::rng::BASE64;
use super::words::{DOMAINS, FIRST, LAST};

/// A payment card number with a valid Luhn digit, printed the way people paste them.
pub fn card(rng: &mut Rng) -> String {
    let (prefix, len): (&str, usize) = *rng.pick(&[("4", 16), ("51", 16), ("55", 16), ("37", 15)]);
    let mut digits: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
    while digits.len() < len - 1 {
        digits.push(rng.below(10) as u8);
    }
    // The check digit makes the Luhn sum (doubling every second digit from the right) a multiple of 10.
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    digits.push(((10 - sum % 10) % 10) as u8);
    let plain: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    let sep = *rng.pick(&["", " ", "-"]);
    if sep.is_empty() {
        return plain;
    }
    let groups: &[usize] = if len == 15 { &[4, 6, 5] } else { &[4, 4, 4, 4] };
    let mut out = String::new();
    let mut at = 0;
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(&plain[at..at + g]);
        at += g;
    }
    out
}

pub fn email(rng: &mut Rng) -> String {
    let (first, last) = (*rng.pick(FIRST), *rng.pick(LAST));
    let (first, last) = (ascii_lower(first), ascii_lower(last));
    format!("{first}.{last}{}@{}", rng.below(100), rng.pick(DOMAINS))
}

fn ascii_lower(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

pub fn aws_key(rng: &mut Rng) -> String {
    format!("AKIA{}", rng.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16))
}

pub fn github(rng: &mut Rng) -> String {
    format!("ghp_{}", rng.alnum(36))
}

pub fn slack(rng: &mut Rng) -> String {
    format!(
        "xoxb-{}-{}-{}",
        rng.range(1_000_000_000, 9_999_999_999),
        rng.range(1_000_000_000, 9_999_999_999),
        rng.alnum(24)
    )
}

pub fn stripe(rng: &mut Rng) -> String {
    format!("sk_live_{}", rng.alnum(24))
}

pub fn jwt(rng: &mut Rng) -> String {
    let header = base64url(br#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#);
    let payload = format!(
        r#"{{"sub":"{}","iss":"https://auth.example.com","iat":{},"exp":{}}}"#,
        rng.uuid(),
        1_764_000_000 + rng.below(100_000),
        1_764_100_000 + rng.below(100_000)
    );
    let sig = rng.chars(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        86,
    );
    format!("{header}.{}.{sig}", base64url(payload.as_bytes()))
}

pub fn password(rng: &mut Rng) -> String {
    rng.chars(
        b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!*_-",
        16,
    )
}

/// A PEM private key block (a short RSA key's worth of base64 lines).
pub fn pem(rng: &mut Rng) -> String {
    let mut s = String::from("-----BEGIN RSA PRIVATE KEY-----\n");
    for _ in 0..rng.range(12, 25) {
        s.push_str(&rng.chars(BASE64, 64));
        s.push('\n');
    }
    s.push_str(&rng.chars(BASE64, 20));
    s.push_str("==\n-----END RSA PRIVATE KEY-----\n");
    s
}

fn base64url(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// A whole log line (or a few) carrying one secret, timestamped like the surrounding lines.
pub fn log_line(rng: &mut Rng, stamp: &str) -> String {
    let id = rng.uuid();
    match rng.below(22) {
        0..=1 => format!(
            "{stamp} WARN  [billing] payment declined request_id={id} card={} reason=insufficient_funds\n",
            card(rng)
        ),
        2..=3 => format!(
            "{stamp} DEBUG [api-gateway] request_id={id} headers={{Authorization: Bearer {}, Accept: application/json}}\n",
            jwt(rng)
        ),
        4 => format!(
            "{stamp} DEBUG [worker] outbound call request_id={id} authorization=\"token {}\"\n",
            github(rng)
        ),
        5..=6 => format!(
            "{stamp} ERROR [orders] db connect failed: host=db-3.internal port=5432 user=app password={} sslmode=require\n",
            password(rng)
        ),
        7..=8 => format!(
            "{stamp} INFO  [auth] login succeeded user={} request_id={id} mfa=totp\n",
            email(rng)
        ),
        9 => format!(
            "{stamp} INFO  [config] loaded credentials profile=deploy aws_access_key_id={} region=eu-central-1\n",
            aws_key(rng)
        ),
        10 => format!(
            "{stamp} WARN  [notifications] slack webhook failed token={} status=429\n",
            slack(rng)
        ),
        11 => format!(
            "{stamp} DEBUG [billing] stripe client init key={} api_version=2024-06-20\n",
            stripe(rng)
        ),
        12..=13 => format!(
            "{stamp} INFO  [worker] connecting to postgres://app:{}@db-{}.internal:5432/shop?sslmode=verify-full\n",
            password(rng),
            rng.below(8)
        ),
        14 => format!(
            "{stamp} DEBUG [ci] git clone https://x-access-token:{}@github.com/example/shop.git\n",
            github(rng)
        ),
        15..=16 => format!(
            "{stamp} INFO  [support] ticket updated by {} request_id={id}\n",
            email(rng)
        ),
        17 => format!(
            "{stamp} DEBUG [auth] refreshed session jwt={} request_id={id}\n",
            jwt(rng)
        ),
        18 => format!(
            "{stamp} WARN  [config] env dump: DB_PASSWORD={} REDIS_URL=redis://cache:6379/0\n",
            password(rng)
        ),
        19 => format!(
            "{stamp} DEBUG [api-gateway] curl -H 'Authorization: Bearer {}' https://api.example.com/v1/me\n",
            rng.alnum(40)
        ),
        20 => format!(
            "{stamp} WARN  [billing] card on file {} expired, notified {}\n",
            card(rng),
            email(rng)
        ),
        _ => format!(
            "{stamp} ERROR [deploy] key material found in artifact, redact before upload:\n{}",
            pem(rng)
        ),
    }
}

/// A table cell (psql or CSV) carrying one secret.
pub fn cell(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 | 1 => email(rng),
        2 => card(rng),
        _ => format!("password={}", password(rng)),
    }
}

/// A JSON member (`"key": value`) carrying one secret.
pub fn json_member(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 | 1 => format!(r#""email": "{}""#, email(rng)),
        2 => format!(r#""card": {{"number": "{}", "exp": "08/29"}}"#, card(rng)),
        3 => format!(r#""access_token": "{}""#, jwt(rng)),
        4 => format!(r#""aws_access_key_id": "{}""#, aws_key(rng)),
        5 => format!(r#""stripe_key": "{}""#, stripe(rng)),
        6 => format!(r#""headers": {{"Authorization": "Bearer {}"}}"#, jwt(rng)),
        _ => format!(r#""client_secret": "{}""#, password(rng)),
    }
}
