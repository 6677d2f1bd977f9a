//! Cheap necessary conditions that rule out most rules on clean text before any regex runs.
//!
//! Each built-in declares a hint: literals its matches must start with (found for all rules at once
//! by one case-insensitive Aho-Corasick pass), or a byte shape its matches must contain (a long digit
//! run for cards, `AA00` for IBANs, `@` for email …, found by one scalar pass). A rule runs only if its
//! hint is present at or after the search start; custom rules always run. The hint is necessary for a
//! match, never sufficient, so skipping a rule never changes the result.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// What a rule's every match must contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hint {
    /// No cheap condition: always run the rule.
    Always,
    /// The match starts with (or, for keyed rules, contains) one of these, ASCII case-insensitively.
    Literals(&'static [&'static str]),
    /// The match contains this byte shape.
    Shape(Shape),
}

/// Byte shapes found by [`scan_shapes`]; each is a bit in its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// At least 13 digits separated by at most single spaces or dashes.
    CardDigits = 1,
    /// At least 9 digits separated by at most single dashes.
    DashedDigits = 2,
    /// Two upper-case letters followed by two digits.
    IbanStart = 4,
    /// An `@`.
    At = 8,
    /// A digit, `.`, digit.
    DottedDigits = 16,
    /// A `:`.
    Colon = 32,
}

/// Which rules may match: bit `i` for rule `i`. Rules past 64 are always candidates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidates(u64);

impl Candidates {
    pub(crate) fn contains(self, rule: usize) -> bool {
        rule >= 64 || self.0 & (1 << rule) != 0
    }
}

#[derive(Debug)]
pub(crate) struct Prefilter {
    ac: Option<AhoCorasick>,
    /// Per literal pattern id: the rules it stands for.
    literal_rules: Vec<u64>,
    /// All rules with literal hints.
    literal_all: u64,
    shapes: Vec<(Shape, u64)>,
    always: u64,
}

impl Prefilter {
    pub(crate) fn new(hints: impl IntoIterator<Item = Hint>) -> Self {
        let mut literals: Vec<&'static str> = Vec::new();
        let mut literal_rules = Vec::new();
        let mut literal_all = 0u64;
        let mut shapes = Vec::new();
        let mut always = 0u64;
        for (i, hint) in hints.into_iter().enumerate() {
            let Some(bit) = 1u64.checked_shl(u32::try_from(i).unwrap_or(u32::MAX)) else {
                continue;
            };
            match hint {
                Hint::Always => always |= bit,
                Hint::Literals(lits) => {
                    literal_all |= bit;
                    for lit in lits {
                        literals.push(lit);
                        literal_rules.push(bit);
                    }
                }
                Hint::Shape(s) => shapes.push((s, bit)),
            }
        }
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&literals)
            .ok();
        if ac.is_none() {
            // Building only fails on absurd sizes; then every literal rule simply runs.
            always |= literal_all;
        }
        Self {
            ac,
            literal_rules,
            literal_all,
            shapes,
            always,
        }
    }

    /// The rules that may have a match starting in `hay`.
    pub(crate) fn candidates(&self, hay: &[u8]) -> Candidates {
        let mut found = self.always;
        if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(hay) {
                found |= self
                    .literal_rules
                    .get(m.pattern().as_usize())
                    .copied()
                    .unwrap_or(0);
                if found & self.literal_all == self.literal_all {
                    break;
                }
            }
        }
        if !self.shapes.is_empty() {
            let wanted = self.shapes.iter().fold(0u8, |acc, (s, _)| acc | *s as u8);
            let present = scan_shapes(hay, wanted);
            for (s, bit) in &self.shapes {
                if present & (*s as u8) != 0 {
                    found |= bit;
                }
            }
        }
        Candidates(found)
    }
}

/// One pass over `hay` reporting which of the `wanted` shapes occur (stops once all are seen).
pub(crate) fn scan_shapes(hay: &[u8], wanted: u8) -> u8 {
    let mut found = 0u8;
    let (mut card_run, mut dash_run) = (0usize, 0usize);
    let (mut upper, mut digits_after_upper) = (0usize, 0usize);
    let mut prev = 0u8;
    let mut dot_after_digit = false;
    for &b in hay {
        if b.is_ascii_digit() {
            card_run += 1;
            dash_run += 1;
            if upper >= 2 {
                digits_after_upper += 1;
            } else {
                upper = 0;
            }
            if dot_after_digit {
                found |= Shape::DottedDigits as u8;
            }
            if card_run >= 13 {
                found |= Shape::CardDigits as u8;
            }
            if dash_run >= 9 {
                found |= Shape::DashedDigits as u8;
            }
            if digits_after_upper >= 2 {
                found |= Shape::IbanStart as u8;
            }
        } else {
            let after_digit = prev.is_ascii_digit();
            if !(after_digit && (b == b' ' || b == b'-')) {
                card_run = 0;
            }
            if !(after_digit && b == b'-') {
                dash_run = 0;
            }
            if b.is_ascii_uppercase() {
                upper = if digits_after_upper > 0 { 1 } else { upper + 1 };
            } else {
                upper = 0;
            }
            digits_after_upper = 0;
            match b {
                b'@' => found |= Shape::At as u8,
                b':' => found |= Shape::Colon as u8,
                _ => {}
            }
        }
        dot_after_digit = b == b'.' && prev.is_ascii_digit();
        prev = b;
        if found & wanted == wanted {
            break;
        }
    }
    found & wanted
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: u8 = 63;

    #[test]
    fn shapes() {
        assert_eq!(
            scan_shapes(b"4111 1111 1111 1111", ALL) & Shape::CardDigits as u8,
            1
        );
        assert_eq!(
            scan_shapes(b"4111  1111 1111 1111", ALL) & Shape::CardDigits as u8,
            0
        );
        assert_ne!(
            scan_shapes(b"ssn 123-45-6789", ALL) & Shape::DashedDigits as u8,
            0
        );
        assert_eq!(
            scan_shapes(b"2024-01-15", ALL) & Shape::DashedDigits as u8,
            0
        );
        assert_ne!(scan_shapes(b"x GB82 WEST", ALL) & Shape::IbanStart as u8, 0);
        assert_ne!(
            scan_shapes(b"DE89370400440532013000", ALL) & Shape::IbanStart as u8,
            0
        );
        assert_eq!(scan_shapes(b"G8 AB1 A12", ALL) & Shape::IbanStart as u8, 0);
        assert_ne!(scan_shapes(b"a@b", ALL) & Shape::At as u8, 0);
        assert_ne!(scan_shapes(b"v1.2", ALL) & Shape::DottedDigits as u8, 0);
        assert_eq!(scan_shapes(b"v1. 2", ALL) & Shape::DottedDigits as u8, 0);
        assert_eq!(scan_shapes(b"plain words only", ALL), 0);
    }

    #[test]
    fn literal_hints_pick_rules() {
        let p = Prefilter::new([
            Hint::Literals(&["akia"]),
            Hint::Shape(Shape::At),
            Hint::Always,
            Hint::Literals(&["password", "secret"]),
        ]);
        let c = p.candidates(b"the PASSWORD is AKIA...");
        assert!(c.contains(0) && !c.contains(1) && c.contains(2) && c.contains(3));
        assert!(c.contains(70));
        let c = p.candidates(b"mail me @ home");
        assert!(!c.contains(0) && c.contains(1) && !c.contains(3));
    }
}
