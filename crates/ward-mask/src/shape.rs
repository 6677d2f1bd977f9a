//! Byte shapes that every match of a class-led detector contains, used to skip ahead cheaply.
//!
//! A card number contains a run of 13+ digits, an SSN 9 digits joined by dashes, an email an `@`.
//! If the first such shape at or after position `p` ends at `e`, no match can start before
//! `e - max_len`, so the regex search may start there: the leftmost match is unchanged, but clean
//! stretches are skipped by a tight byte loop instead of the regex automaton.

/// A shape some detector's every match contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// 13+ digits separated by at most single spaces or dashes.
    CardDigits,
    /// 9+ digits separated by at most single dashes.
    DashedDigits,
    /// Two upper-case letters followed by two digits.
    IbanStart,
    /// An `@`.
    At,
    /// A digit, `.`, digit.
    DottedDigits,
    /// A `:`.
    Colon,
}

impl Shape {
    /// End (exclusive) of the first occurrence of the shape lying entirely in `hay[from..]`.
    pub(crate) fn next_end(self, hay: &[u8], from: usize) -> Option<usize> {
        let tail = hay.get(from..)?;
        let rel = match self {
            Shape::CardDigits => digit_run(tail, 13, |b| b == b' ' || b == b'-'),
            Shape::DashedDigits => digit_run(tail, 9, |b| b == b'-'),
            Shape::IbanStart => tail
                .windows(4)
                .position(|w| {
                    matches!(w, [a, b, c, d] if a.is_ascii_uppercase() && b.is_ascii_uppercase()
                    && c.is_ascii_digit() && d.is_ascii_digit())
                })
                .map(|i| i + 4),
            Shape::At => tail.iter().position(|&b| b == b'@').map(|i| i + 1),
            Shape::DottedDigits => tail
                .windows(3)
                .position(|w| matches!(w, [a, b'.', c] if a.is_ascii_digit() && c.is_ascii_digit()))
                .map(|i| i + 3),
            Shape::Colon => tail.iter().position(|&b| b == b':').map(|i| i + 1),
        };
        rel.map(|r| from + r)
    }
}

/// End of the first run of `min` digits where single `sep` bytes may stand between digits.
fn digit_run(hay: &[u8], min: usize, sep: impl Fn(u8) -> bool) -> Option<usize> {
    let mut run = 0usize;
    let mut prev_digit = false;
    for (i, &b) in hay.iter().enumerate() {
        if b.is_ascii_digit() {
            run += 1;
            if run >= min {
                return Some(i + 1);
            }
            prev_digit = true;
        } else {
            if !(prev_digit && sep(b)) {
                run = 0;
            }
            prev_digit = false;
        }
    }
    None
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
