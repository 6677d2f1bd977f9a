//! A cheap necessary condition that rules out keyword rules on clean text before their regex runs.
//!
//! Rules keyed by words (`password`, `authorization`, `secret` …) declare those literals; one
//! case-insensitive Aho-Corasick pass finds which are present, and such a rule runs only if one of its
//! literals occurs at or after the search start. Rules led by a distinctive prefix (`AKIA`, `ghp_`)
//! rely on the regex engine's own literal search; rules led by a character class (cards, SSNs, email)
//! skip ahead by byte shape (`shape.rs`). Custom rules always run. A hint is necessary for a match,
//! never sufficient, so skipping a rule never changes the result.

use crate::shape::Shape;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// What a rule's every match must contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hint {
    /// No cheap condition: always run the rule.
    Always,
    /// The match contains one of these, ASCII case-insensitively.
    Literals(&'static [&'static str]),
    /// The match contains this byte shape.
    Shape(Shape),
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
    always: u64,
}

impl Prefilter {
    pub(crate) fn new(hints: impl IntoIterator<Item = Hint>) -> Self {
        let mut literals: Vec<&'static str> = Vec::new();
        let mut literal_rules = Vec::new();
        let mut literal_all = 0u64;
        let mut always = 0u64;
        for (i, hint) in hints.into_iter().enumerate() {
            let Some(bit) = u32::try_from(i).ok().and_then(|i| 1u64.checked_shl(i)) else {
                continue;
            };
            match hint {
                Hint::Literals(lits) => {
                    literal_all |= bit;
                    for lit in lits {
                        literals.push(lit);
                        literal_rules.push(bit);
                    }
                }
                // Shapes are found per rule, where they also let the search skip ahead.
                Hint::Always | Hint::Shape(_) => always |= bit,
            }
        }
        let ac = if literals.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&literals)
                .ok()
        };
        if ac.is_none() {
            // No literals, or (absurdly) too many to build: every literal rule simply runs.
            always |= literal_all;
        }
        Self {
            ac,
            literal_rules,
            literal_all,
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
        Candidates(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_hints_pick_rules() {
        let p = Prefilter::new([
            Hint::Literals(&["akia"]),
            Hint::Shape(Shape::At),
            Hint::Always,
            Hint::Literals(&["password", "secret"]),
        ]);
        let c = p.candidates(b"the PASSWORD is AKIA...");
        assert!(c.contains(0) && c.contains(1) && c.contains(2) && c.contains(3));
        assert!(c.contains(70));
        let c = p.candidates(b"mail me @ home");
        assert!(!c.contains(0) && c.contains(1) && c.contains(2) && !c.contains(3));
    }
}
