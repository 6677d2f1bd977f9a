//! The prefilter: one pass over the input that finds where each rule's matches can be, so the rules'
//! regexes run only there.
//!
//! Every built-in declares a [`Hint`]: something every match of its regex contains. Token rules start
//! with a prefix (`AKIA`, `ghp_`, `eyJ` …); keyword rules contain `:` or `=` right after a key such as
//! `password`; class-led rules contain a byte shape (`shape.rs`). One scan finds all of them at once:
//! a packed literal searcher (Teddy, SIMD) for the prefixes, 64-byte bitmasks (`swar.rs`) for digit
//! layouts and for `:`/`=`, `memchr` for `@`. What it finds are [`Anchor`]s; the engine searches with a
//! rule's regex only in windows around that rule's anchors. A hint is necessary for a match, never
//! sufficient, so skipping text without anchors never changes the result. Custom rules have no hint
//! and always run over the whole input.
//!
//! # Performance
//! On text without secrets the scan is the whole cost of masking. It runs over 32 KiB segments so
//! that the literal search, the `@` search and the bitmask pass read the segment while it is in
//! cache, and it allocates only when it finds something.

mod blocks;
mod keys;
mod literals;

use crate::shape::Shape;
use keys::Keys;
use literals::Literals;

/// What a rule's every match must contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hint {
    /// No cheap condition: always run the rule.
    Always,
    /// The match contains one of these, ASCII case-insensitively. (Only for literals whose letters
    /// have no non-ASCII case variants under `(?i)`, i.e. no `k` or `s`, or for case-sensitive rules.)
    Literals(&'static [&'static str]),
    /// The match starts with one of these, case-sensitively.
    Starts(&'static [&'static str]),
    /// The match contains a `:` or `=` that follows one of `words` (ASCII case-insensitively, and
    /// allowing the non-ASCII case variants of `k` and `s`), then an optional quote and at most four
    /// spaces or tabs: `password = `, `"client_secret": `. `before` is the part of the rule's
    /// pattern up to that operator; its longest match bounds how far before the operator a match
    /// can start.
    Keys {
        words: &'static [&'static str],
        before: &'static str,
    },
    /// The match satisfies one of these hints.
    Any(&'static [Hint]),
    /// The match contains this byte shape.
    Shape(Shape),
}

/// Where a rule may match: a match of rule `rule` contains `hay[at..at + len]` and, if `lead` is
/// known, starts at most `lead` bytes before `at`. Positions are absolute (stream positions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Anchor {
    pub rule: usize,
    pub at: usize,
    pub len: usize,
    pub lead: Option<usize>,
}

/// How an anchor relates to the matches of the rules it is found for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Matches start here.
    Starts,
    /// Matches contain it.
    Contained,
    /// Matches contain it, starting at most the rule's key lead before it.
    Keyed,
}

/// Which rules may match: bit `i` for rule `i`. Rules past 64 are always candidates.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Candidates(u64);

impl Candidates {
    pub(crate) fn contains(self, rule: usize) -> bool {
        rule >= 64 || self.0 & (1 << rule) != 0
    }
}

/// Where the scan's parts report what they find: `rules` may match around `hay[at..at + len]`.
trait Push {
    fn push(&mut self, rules: u64, at: usize, len: usize, kind: Kind);
}

/// Collects anchors for [`Prefilter::scan`].
struct Collect<'a> {
    anchors: &'a mut Vec<Anchor>,
    base: usize,
    keys: &'a Keys,
    found: u64,
}

impl Push for Collect<'_> {
    fn push(&mut self, rules: u64, at: usize, len: usize, kind: Kind) {
        let mut rest = rules;
        while rest != 0 {
            let rule = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            let lead = match kind {
                Kind::Starts => Some(0),
                Kind::Contained => None,
                Kind::Keyed => self.keys.lead(rule),
            };
            self.anchors.push(Anchor {
                rule,
                at: self.base + at,
                len,
                lead,
            });
        }
        self.found |= rules;
    }
}

/// Bytes scanned per segment: small enough that all passes over a segment hit the cache.
const SEGMENT: usize = 32 * 1024;

#[derive(Debug, Default)]
pub(crate) struct Prefilter {
    literals: Literals,
    keys: Keys,
    /// Rules per scanned shape.
    card: u64,
    ssn: u64,
    iban: u64,
    mail: u64,
    userinfo: u64,
    /// Rules whose shape each rule finds itself (`Shape::next_end`), and rules without a hint.
    per_rule: u64,
    always: u64,
    /// Per rule: how far from its start a match's anchor can end (`None`: up to the rule's longest
    /// match). See [`Prefilter::unseen`].
    reach: Vec<Option<usize>>,
}

/// How far from a match's start the anchor `hint` finds for it ends, at most (`None`: unknown).
fn reach(hint: &Hint, keys: &Keys, rule: usize) -> Option<usize> {
    match hint {
        Hint::Starts(lits) => lits.iter().map(|l| l.len()).max(),
        // The operator ends at most `lead + 1` bytes in.
        Hint::Keys { .. } => keys.lead(rule).map(|lead| lead + 1),
        Hint::Any(hints) => hints
            .iter()
            .map(|h| reach(h, keys, rule))
            .try_fold(0, |a, r| Some(a.max(r?))),
        Hint::Always | Hint::Literals(_) | Hint::Shape(_) => None,
    }
}

fn bit(rule: usize) -> u64 {
    u32::try_from(rule)
        .ok()
        .and_then(|i| 1u64.checked_shl(i))
        .unwrap_or(0)
}

impl Prefilter {
    pub(crate) fn new(hints: impl IntoIterator<Item = Hint>) -> Self {
        let mut p = Prefilter::default();
        for (i, hint) in hints.into_iter().enumerate() {
            let bit = bit(i);
            if bit == 0 {
                // Rules past 64 are always candidates (`Candidates::contains`).
                continue;
            }
            p.add(hint, i, bit);
            if p.reach.len() <= i {
                p.reach.resize(i + 1, None);
            }
            if let Some(r) = p.reach.get_mut(i) {
                *r = reach(&hint, &p.keys, i);
            }
        }
        p.always |= p.literals.build();
        p.keys.build();
        p
    }

    fn add(&mut self, hint: Hint, rule: usize, bit: u64) {
        match hint {
            Hint::Always => self.always |= bit,
            Hint::Literals(lits) => self.literals.add(lits, true, Kind::Contained, bit),
            Hint::Starts(lits) => self.literals.add(lits, false, Kind::Starts, bit),
            Hint::Keys { words, before } => self.keys.add(words, before, rule, bit),
            Hint::Any(hints) => {
                for h in hints {
                    self.add(*h, rule, bit);
                }
            }
            Hint::Shape(shape) => match shape {
                Shape::CardDigits => self.card |= bit,
                Shape::DashedDigits => self.ssn |= bit,
                Shape::IbanStart => self.iban |= bit,
                Shape::At => self.mail |= bit,
                Shape::Userinfo => self.userinfo |= bit,
                Shape::DottedDigits | Shape::Colon => self.per_rule |= bit,
            },
        }
    }

    /// Whether [`Prefilter::scan`] finds every place where rule `rule` can match; if not, the rule runs
    /// over all input (no hint, a shape it finds itself, a rule past 64, or literals the searcher
    /// could not take).
    pub(crate) fn scans(&self, rule: usize) -> bool {
        let bit = bit(rule);
        bit != 0 && (self.always | self.per_rule) & bit == 0
    }

    /// How many bytes at the end of the input may hold the start of a match of `rule` whose anchor is
    /// not complete yet (so the scan cannot have found it), given the rule's longest regex match.
    pub(crate) fn unseen(&self, rule: usize, search_len: usize) -> usize {
        self.reach
            .get(rule)
            .copied()
            .flatten()
            .map_or(search_len, |r| r.min(search_len))
    }

    /// The rules that may have a match in `hay`.
    #[cfg(test)]
    pub(crate) fn candidates(&self, hay: &[u8]) -> Candidates {
        let mut anchors = Vec::new();
        self.scan(hay, 0, 0, &mut anchors)
    }

    /// Appends the anchors in `hay[from..]` to `anchors` (`hay` holds stream bytes from absolute
    /// position `base`; `from` is relative) and returns the rules that may match there: rules with an
    /// anchor, rules with a shape hint (their matches are only where their anchors are, but the caller
    /// asks them), and rules without a hint.
    pub(crate) fn scan(
        &self,
        hay: &[u8],
        base: usize,
        from: usize,
        anchors: &mut Vec<Anchor>,
    ) -> Candidates {
        let shapes = self.card | self.ssn | self.iban | self.mail | self.userinfo;
        let mut push = Collect {
            anchors,
            base,
            keys: &self.keys,
            found: self.always | self.per_rule | shapes,
        };
        let mut seg = from;
        while seg < hay.len() {
            let end = hay.len().min(seg + SEGMENT);
            self.literals.scan(hay, seg, end, &mut push);
            self.scan_mail(hay, seg, end, &mut push);
            self.scan_blocks(hay, seg, end, &mut push);
            seg = end;
        }
        Candidates(push.found)
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
