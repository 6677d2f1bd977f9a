//! Replacement styles: what a masked value turns into.

use crate::token::TokenKey;
use serde::Deserialize;

/// How a matched value is rewritten. Chosen per rule; the default is [`Replacement::Full`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Replacement {
    /// `[REDACTED:<rule>]`.
    #[default]
    Full,
    /// Keep the last 4 letters/digits, `*` for the rest, separators kept (`**** **** **** 1111`).
    /// Values with fewer than 8 letters/digits are masked completely so at most half is ever shown.
    Partial,
    /// One `*` per character, keeping whitespace and `- . @ : /` so the shape stays readable.
    SameLength,
    /// `[<rule>:tok_<12 hex>]`, an HMAC-SHA256 of the value under the configured key: equal values give
    /// equal tokens, so analysts can correlate without seeing values.
    Token,
}

/// How many trailing letters/digits [`Replacement::Partial`] keeps.
const PARTIAL_KEEP: usize = 4;

/// Appends the replacement for `value` (matched by rule `name`) to `out`.
pub(crate) fn render(
    kind: Replacement,
    name: &str,
    key: Option<&TokenKey>,
    value: &[u8],
    out: &mut Vec<u8>,
) {
    match (kind, key) {
        (Replacement::Full, _) | (Replacement::Token, None) => {
            // Token without a key cannot happen after compilation; falling back to Full keeps it safe anyway.
            out.extend_from_slice(b"[REDACTED:");
            out.extend_from_slice(name.as_bytes());
            out.push(b']');
        }
        (Replacement::Token, Some(key)) => {
            out.push(b'[');
            out.extend_from_slice(name.as_bytes());
            out.push(b':');
            key.write_token(value, out);
            out.push(b']');
        }
        (Replacement::SameLength, _) => stars(value, usize::MAX, out),
        (Replacement::Partial, _) => {
            let alnum = value.iter().filter(|b| b.is_ascii_alphanumeric()).count();
            let first_kept = if alnum >= 2 * PARTIAL_KEEP {
                alnum - PARTIAL_KEEP
            } else {
                usize::MAX
            };
            stars(value, first_kept, out);
        }
    }
}

/// Writes `*` per character of `value`, keeping separators and every ASCII letter/digit whose index among
/// letters/digits is `>= first_kept`. Invalid UTF-8 bytes count as one character each.
fn stars(value: &[u8], first_kept: usize, out: &mut Vec<u8>) {
    let mut alnum_seen = 0usize;
    for chunk in value.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_ascii_alphanumeric() {
                if alnum_seen >= first_kept {
                    out.push(c as u8);
                } else {
                    out.push(b'*');
                }
                alnum_seen += 1;
            } else if c.is_ascii_whitespace() || matches!(c, '-' | '.' | '@' | ':' | '/') {
                out.push(c as u8);
            } else {
                out.push(b'*');
            }
        }
        out.extend(chunk.invalid().iter().map(|_| b'*'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(kind: Replacement, value: &[u8], key: Option<&TokenKey>) -> String {
        let mut out = Vec::new();
        render(kind, "card", key, value, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn full_names_the_rule() {
        assert_eq!(
            show(Replacement::Full, b"4111111111111111", None),
            "[REDACTED:card]"
        );
    }

    #[test]
    fn partial_keeps_last_four_and_separators() {
        assert_eq!(
            show(Replacement::Partial, b"4111 1111 1111 1111", None),
            "**** **** **** 1111"
        );
        assert_eq!(
            show(Replacement::Partial, b"4111111111111111", None),
            "************1111"
        );
        // Too short to reveal anything.
        assert_eq!(show(Replacement::Partial, b"hunter2", None), "*******");
    }

    #[test]
    fn same_length_counts_chars_and_invalid_bytes() {
        assert_eq!(
            show(Replacement::SameLength, b"alice@example.com", None),
            "*****@*******.***"
        );
        assert_eq!(
            show(Replacement::SameLength, "pässwörd".as_bytes(), None),
            "********"
        );
        assert_eq!(show(Replacement::SameLength, b"a\xffb", None), "***");
    }

    #[test]
    fn token_is_stable_and_falls_back_to_full_without_key() {
        let key = TokenKey::new(b"k");
        let a = show(Replacement::Token, b"4111111111111111", Some(&key));
        assert!(a.starts_with("[card:tok_") && a.ends_with(']'), "{a}");
        assert_eq!(a, show(Replacement::Token, b"4111111111111111", Some(&key)));
        assert_eq!(show(Replacement::Token, b"x", None), "[REDACTED:card]");
    }
}
