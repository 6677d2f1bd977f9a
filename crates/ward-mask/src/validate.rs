//! Validators that confirm a regex candidate is the real thing (Luhn, mod-97, SSN rules, JWT header).
//!
//! Regexes find things that *look like* a card number or an IBAN; a checksum removes most look-alikes
//! (order ids, timestamps, reference numbers) so masking does not destroy ordinary data.

use std::net::Ipv6Addr;
use std::str::FromStr;

/// A check applied to the masked text of a candidate match; the candidate is dropped if it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validator {
    /// Accept every candidate.
    None,
    /// Luhn checksum over the digits of the match (other bytes are ignored).
    Luhn,
    /// ISO 7064 mod-97-10 over the alphanumerics, IBAN style (first four moved to the end).
    Mod97,
    /// Payment card: 13–19 digits, a card-network first digit (2–6) and a valid Luhn checksum.
    Card,
    /// IBAN: country letters, 15–34 alphanumerics and a valid mod-97 checksum.
    Iban,
    /// US SSN `AAA-GG-SSSS`: area not 000/666/9xx, group not 00, serial not 0000.
    Ssn,
    /// JWT: the first segment decodes (base64url) to a JSON object naming an `alg`.
    JwtHeader,
    /// Parses as an IPv6 address.
    Ipv6,
    /// Contains at least one ASCII digit and one ASCII letter (rules out words like `sk-learn-…`).
    Mixed,
}

impl Validator {
    /// Whether `text` (the part of the match that would be masked) passes.
    pub(crate) fn accepts(self, text: &[u8]) -> bool {
        match self {
            Validator::None => true,
            Validator::Luhn => luhn(text),
            Validator::Mod97 => mod97(text),
            Validator::Card => card(text),
            Validator::Iban => iban(text),
            Validator::Ssn => ssn(text),
            Validator::JwtHeader => jwt_header(text),
            Validator::Ipv6 => {
                std::str::from_utf8(text).is_ok_and(|s| Ipv6Addr::from_str(s).is_ok())
            }
            Validator::Mixed => {
                text.iter().any(u8::is_ascii_digit) && text.iter().any(u8::is_ascii_alphabetic)
            }
        }
    }
}

/// Luhn checksum over the ASCII digits of `text`; needs at least two digits.
pub(crate) fn luhn(text: &[u8]) -> bool {
    let mut sum = 0u32;
    let mut count = 0usize;
    for d in text
        .iter()
        .rev()
        .filter(|b| b.is_ascii_digit())
        .map(|b| u32::from(b - b'0'))
    {
        sum += if !count.is_multiple_of(2) {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
        count += 1;
    }
    count >= 2 && sum.is_multiple_of(10)
}

fn card(text: &[u8]) -> bool {
    let digits = text.iter().filter(|b| b.is_ascii_digit()).count();
    // Card networks issue numbers starting with 2–6; this alone rejects ms-epoch timestamps (1…).
    let first_ok = text
        .iter()
        .find(|b| b.is_ascii_digit())
        .is_some_and(|b| (b'2'..=b'6').contains(b));
    (13..=19).contains(&digits) && first_ok && luhn(text)
}

/// ISO 7064 mod-97-10 over the alphanumerics of `text`, with the first four moved to the end.
pub(crate) fn mod97(text: &[u8]) -> bool {
    let chars: Vec<u8> = text
        .iter()
        .copied()
        .filter(u8::is_ascii_alphanumeric)
        .collect();
    if chars.len() < 5 {
        return false;
    }
    let (head, tail) = chars.split_at(4);
    let mut rem = 0u32;
    for &c in tail.iter().chain(head) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            _ => u32::from(c.to_ascii_uppercase() - b'A') + 10,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn iban(text: &[u8]) -> bool {
    let n = text.iter().filter(|b| b.is_ascii_alphanumeric()).count();
    let country = text
        .get(..2)
        .is_some_and(|c| c.iter().all(u8::is_ascii_uppercase));
    (15..=34).contains(&n) && country && mod97(text)
}

fn ssn(text: &[u8]) -> bool {
    let digits: Vec<u32> = text
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| u32::from(b - b'0'))
        .collect();
    let [a1, a2, a3, g1, g2, s1, s2, s3, s4] = digits[..] else {
        return false;
    };
    let area = a1 * 100 + a2 * 10 + a3;
    let group = g1 * 10 + g2;
    let serial = s1 * 1000 + s2 * 100 + s3 * 10 + s4;
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

fn jwt_header(text: &[u8]) -> bool {
    let header = text.split(|&b| b == b'.').next().unwrap_or_default();
    match base64url_decode(header) {
        Some(json) => {
            let trimmed = json.trim_ascii_start();
            trimmed.first() == Some(&b'{') && json.windows(5).any(|w| w == b"\"alg\"")
        }
        None => false,
    }
}

/// Decodes unpadded (or padded) base64url; `None` on any byte outside the alphabet.
pub(crate) fn base64url_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &c in text.iter().take_while(|&&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_known_numbers_and_rejects_off_by_one() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"4111 1111 1111 1111"));
        assert!(luhn(b"79927398713"));
        assert!(!luhn(b"4111111111111112"));
        assert!(!luhn(b"7"));
    }

    #[test]
    fn card_needs_network_prefix_and_length() {
        assert!(card(b"378282246310005")); // Amex test number
        assert!(card(b"5555-5555-5555-4444"));
        assert!(!card(b"1000000000009")); // Luhn-valid, but no network starts with 1
        assert!(!card(b"79927398713")); // too short
    }

    #[test]
    fn mod97_and_iban() {
        assert!(iban(b"GB82WEST12345698765432"));
        assert!(iban(b"GB82 WEST 1234 5698 7654 32"));
        assert!(iban(b"DE89370400440532013000"));
        assert!(!iban(b"GB82WEST12345698765433"));
        assert!(!iban(b"gb82WEST12345698765432"));
        assert!(!mod97(b"GB8"));
    }

    #[test]
    fn ssn_rules() {
        assert!(ssn(b"123-45-6789"));
        for bad in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "123-00-4567",
            "123-45-0000",
            "12-34-5678",
        ] {
            assert!(!ssn(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn jwt_header_must_be_json_with_alg() {
        // {"alg":"HS256","typ":"JWT"}
        assert!(jwt_header(b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig"));
        // {"typ":"JWT"} has no alg.
        assert!(!jwt_header(b"eyJ0eXAiOiJKV1QifQ.e30.sig"));
        assert!(!jwt_header(b"eyJ!!.e30.x"));
    }

    #[test]
    fn base64url_round_trip_of_known_value() {
        assert_eq!(base64url_decode(b"aGVsbG8").as_deref(), Some(&b"hello"[..]));
        assert_eq!(
            base64url_decode(b"aGVsbG8=").as_deref(),
            Some(&b"hello"[..])
        );
    }

    #[test]
    fn ipv6_and_mixed() {
        assert!(Validator::Ipv6.accepts(b"2001:db8::1"));
        assert!(!Validator::Ipv6.accepts(b"12:30:45"));
        assert!(Validator::Mixed.accepts(b"abc1"));
        assert!(!Validator::Mixed.accepts(b"learn-more"));
    }
}
