//! Byte shapes that every match of a class-led detector contains, used to skip clean text cheaply.
//!
//! A card number begins with four digits, a separator, four digits …; an SSN is `DDD-DD-DDDD`; an IBAN
//! begins with two capitals and two digits after a word boundary; an email has an `@` between an
//! address character and a letter or digit. Each shape is a necessary condition for a match of its
//! rule's regex, never a sufficient one, so searching only around shapes finds every match.
//!
//! [`Shape::next_end`] is the plain definition, one byte at a time. The prefilter finds the digit
//! shapes in bulk from the bitmasks of `swar.rs` ([`digit_shapes`]) and checks the rest of a
//! candidate with the same definitions, so both agree (a test holds them together).

use crate::swar::Masks;

/// A shape some detector's every match contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The start of a card number in any of the `card` rule's forms: four digits, any byte, four
    /// digits, any byte, a digit, any byte, a digit — and from there, thirteen digits with at most a
    /// single space or dash between two of them. The occurrence ends after the thirteenth digit.
    CardDigits,
    /// `DDD-DD-DDDD`.
    DashedDigits,
    /// Two upper-case letters after a non-word byte (or the start), followed by two digits.
    IbanStart,
    /// An `@` after an address character (`[A-Za-z0-9._%+-]`) and before a letter or digit.
    At,
    /// A digit, `.`, digit.
    DottedDigits,
    /// A `:`.
    Colon,
    /// `://` where a URL's `user:password` can follow: the first ASCII whitespace or `: / ? # @ ' "
    /// < >` after it is a `:`, or none comes within 512 bytes (the userinfo may go on, or still be
    /// arriving). The occurrence is the `://`.
    Userinfo,
}

/// How far [`Shape::Userinfo`] looks for the `:` after `://`: the userinfo is at most 128 characters of
/// at most 4 bytes.
const USERINFO_SPAN: usize = 512;

impl Shape {
    /// End (exclusive) of the first occurrence of the shape lying entirely in `hay[from..]`. Look-behind
    /// (the byte before an IBAN or an `@`) and look-ahead may read outside that range.
    pub(crate) fn next_end(self, hay: &[u8], from: usize) -> Option<usize> {
        let tail = hay.get(from..)?;
        match self {
            Shape::CardDigits => (0..tail.len()).find_map(|i| card_at(hay, from + i)),
            Shape::DashedDigits => (0..tail.len())
                .find(|&i| ssn_at(hay, from + i))
                .map(|i| from + i + 11),
            Shape::IbanStart => (0..tail.len())
                .find(|&i| iban_at(hay, from + i))
                .map(|i| from + i + 4),
            Shape::At => (0..tail.len())
                .find(|&i| mail_at(hay, from + i))
                .map(|i| from + i + 1),
            Shape::DottedDigits => tail
                .windows(3)
                .position(|w| matches!(w, [a, b'.', c] if a.is_ascii_digit() && c.is_ascii_digit()))
                .map(|i| from + i + 3),
            Shape::Colon => tail.iter().position(|&b| b == b':').map(|i| from + i + 1),
            Shape::Userinfo => (0..tail.len())
                .find(|&i| userinfo_at(hay, from + i))
                .map(|i| from + i + 3),
        }
    }

    /// Whether every match of a rule with this shape starts where an occurrence starts (rather than
    /// merely containing one).
    pub(crate) fn starts_match(self) -> bool {
        matches!(
            self,
            Shape::CardDigits | Shape::DashedDigits | Shape::IbanStart
        )
    }
}

fn digit(hay: &[u8], i: usize) -> bool {
    hay.get(i).is_some_and(u8::is_ascii_digit)
}

/// The card layout at `p` (four digits, any, four digits, any, digit, any, digit), and the end of the
/// run of thirteen digits from `p` with single spaces or dashes between digits.
pub(crate) fn card_at(hay: &[u8], p: usize) -> Option<usize> {
    let layout = [0, 1, 2, 3, 5, 6, 7, 8, 10, 12]
        .iter()
        .all(|&k| digit(hay, p + k));
    if !layout {
        return None;
    }
    let mut count = 0usize;
    let mut prev_digit = false;
    for (i, &b) in hay.get(p..)?.iter().enumerate() {
        if b.is_ascii_digit() {
            count += 1;
            if count == 13 {
                return Some(p + i + 1);
            }
            prev_digit = true;
        } else if prev_digit && (b == b' ' || b == b'-') {
            prev_digit = false;
        } else {
            return None;
        }
    }
    None
}

/// `DDD-DD-DDDD` at `p`.
pub(crate) fn ssn_at(hay: &[u8], p: usize) -> bool {
    hay.get(p..p + 11).is_some_and(|w| {
        w.iter().enumerate().all(|(k, b)| {
            if k == 3 || k == 6 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
    })
}

/// Two capitals at `p` after a non-word byte (or the start), then two digits.
pub(crate) fn iban_at(hay: &[u8], p: usize) -> bool {
    let boundary = p == 0
        || hay
            .get(p - 1)
            .is_some_and(|b| !(b.is_ascii_alphanumeric() || *b == b'_'));
    boundary
        && matches!(hay.get(p..p + 4), Some([a, b, c, d]) if a.is_ascii_uppercase()
            && b.is_ascii_uppercase() && c.is_ascii_digit() && d.is_ascii_digit())
}

/// An `@` at `p` between an address character and a letter or digit.
pub(crate) fn mail_at(hay: &[u8], p: usize) -> bool {
    hay.get(p) == Some(&b'@')
        && p.checked_sub(1).and_then(|i| hay.get(i)).is_some_and(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
        })
        && hay.get(p + 1).is_some_and(u8::is_ascii_alphanumeric)
}

/// `://` at `p`, then a `:` before any byte that ends a URL's userinfo (or no such byte in reach).
pub(crate) fn userinfo_at(hay: &[u8], p: usize) -> bool {
    if hay.get(p..p + 3) != Some(b"://") {
        return false;
    }
    let rest = hay.get(p + 3..).unwrap_or_default();
    let reach = rest.get(..USERINFO_SPAN).unwrap_or(rest);
    match reach.iter().position(|&b| {
        b.is_ascii_whitespace()
            || b == 0x0b
            || matches!(
                b,
                b':' | b'/' | b'?' | b'#' | b'@' | b'\'' | b'"' | b'<' | b'>'
            )
    }) {
        Some(i) => reach.get(i) == Some(&b':'),
        // Nothing ends the userinfo within reach: a match may still be there (or arrive, when
        // streaming), so this counts as an occurrence.
        None => true,
    }
}

/// Where the digit shapes may start in the block whose masks are `cur` (`next`: the following block,
/// for layouts that run over its edge): bit `i` set means byte `i` needs the exact check. Returns
/// (card, ssn, iban) candidates.
#[inline]
pub(crate) fn digit_shapes(cur: &Masks, next: &Masks) -> (u64, u64, u64) {
    let d = u128::from(cur.digit) | u128::from(next.digit) << 64;
    let u = u128::from(cur.upper) | u128::from(next.upper) << 64;
    let d2 = d & d >> 1;
    let d3 = d2 & d >> 2;
    let d4 = d2 & d2 >> 2;
    // Card: digits at 0-3, 5-8, 10 and 12.
    let card = d4 & d4 >> 5 & d >> 10 & d >> 12;
    // SSN: digits at 0-2, 4-5, 7-10; non-digits (the dashes) at 3 and 6.
    let ssn = d3 & !(d >> 3) & d2 >> 4 & !(d >> 6) & d4 >> 7;
    // IBAN: capitals at 0-1, digits at 2-3.
    let iban = u & u >> 1 & d2 >> 2;
    // Truncation keeps the bits of positions in `cur`.
    (card as u64, ssn as u64, iban as u64)
}

#[cfg(test)]
mod tests {
    use super::Shape;

    #[test]
    fn shapes() {
        assert_eq!(
            Shape::CardDigits.next_end(b"x 4111 1111 1111 1111", 0),
            Some(18)
        );
        assert_eq!(Shape::CardDigits.next_end(b"4111  1111 1111 1111", 0), None);
        assert_eq!(Shape::CardDigits.next_end(b"4111111111111111", 4), None);
        assert_eq!(
            Shape::DashedDigits.next_end(b"ssn 123-45-6789", 0),
            Some(15)
        );
        assert_eq!(Shape::DashedDigits.next_end(b"2024-01-15", 0), None);
        assert_eq!(Shape::IbanStart.next_end(b"x GB82 WEST", 0), Some(6));
        assert_eq!(Shape::IbanStart.next_end(b"G8 AB1 A12", 0), None);
        assert_eq!(Shape::At.next_end(b"a@b", 0), Some(2));
        assert_eq!(Shape::DottedDigits.next_end(b"v1.2", 0), Some(4));
        assert_eq!(Shape::DottedDigits.next_end(b"v1. 2", 0), None);
        assert_eq!(Shape::Colon.next_end(b"plain words", 0), None);
        assert_eq!(Shape::At.next_end(b"a@b", 9), None);
    }
}
