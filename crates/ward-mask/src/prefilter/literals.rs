//! Literal anchors: the prefixes token rules start with and the literals other rules contain, found
//! in one pass by a packed SIMD searcher (Teddy).

use super::{Kind, Push};
use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// A literal checked at each hit of the searcher.
#[derive(Debug)]
struct Literal {
    bytes: &'static [u8],
    /// ASCII case-insensitive (`Hint::Literals`) or exact (`Hint::Starts`).
    ci: bool,
    kind: Kind,
    rules: u64,
}

/// The searcher: Teddy where the CPU has it, else Rabin-Karp; Aho-Corasick if neither builds.
#[derive(Debug)]
enum Searcher {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

#[derive(Debug, Default)]
pub(super) struct Literals {
    searcher: Option<Searcher>,
    literals: Vec<Literal>,
    /// The longest literal, in bytes: hits may run this far past a segment.
    longest: usize,
}

impl Literals {
    pub(super) fn add(&mut self, lits: &'static [&'static str], ci: bool, kind: Kind, bit: u64) {
        for lit in lits.iter().filter(|l| !l.is_empty()) {
            let bytes = lit.as_bytes();
            match self
                .literals
                .iter_mut()
                .find(|l| l.bytes == bytes && l.ci == ci && l.kind == kind)
            {
                Some(l) => l.rules |= bit,
                None => self.literals.push(Literal {
                    bytes,
                    ci,
                    kind,
                    rules: bit,
                }),
            }
            self.longest = self.longest.max(bytes.len());
        }
    }

    /// Builds the searcher over the literals added. Its patterns are the exact literals, and every
    /// ASCII case variant of three bytes of a case-insensitive one (the hit is then checked in full).
    /// Returns the rules whose literals it could not take (absurdly many): they must run everywhere.
    pub(super) fn build(&mut self) -> u64 {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        for lit in &self.literals {
            let variants = match lit.ci {
                false => vec![lit.bytes.to_vec()],
                true => case_variants(lit.bytes.get(ci_key(lit.bytes)).unwrap_or(lit.bytes)),
            };
            for v in variants {
                if !patterns.contains(&v) {
                    patterns.push(v);
                }
            }
        }
        if patterns.is_empty() {
            return 0;
        }
        let mut builder = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder();
        builder.extend(&patterns);
        self.searcher = match builder.build() {
            Some(s) => Some(Searcher::Packed(s)),
            None => AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostFirst)
                .build(&patterns)
                .ok()
                .map(Searcher::Automaton),
        };
        match self.searcher {
            Some(_) => 0,
            None => self.literals.iter().fold(0, |a, l| a | l.rules),
        }
    }

    /// Pushes every literal occurrence whose searched part starts in `hay[from..to]`.
    pub(super) fn scan(&self, hay: &[u8], from: usize, to: usize, push: &mut impl Push) {
        let Some(searcher) = &self.searcher else {
            return;
        };
        // A pattern starting before `to` may end up to `longest - 1` bytes later.
        let stop = hay.len().min(to + self.longest.saturating_sub(1));
        let mut at = from;
        while at < to {
            let hit = match searcher {
                Searcher::Packed(s) => s
                    .find_in(hay, aho_corasick::Span::from(at..stop))
                    .map(|m| m.start()),
                Searcher::Automaton(ac) => ac
                    .find(aho_corasick::Input::new(hay).range(at..stop))
                    .map(|m| m.start()),
            };
            let Some(s) = hit.filter(|&s| s < to) else {
                return;
            };
            // Leftmost-first reports one pattern per position; check every literal that could have
            // been searched for at `s`. Resuming at `s + 1` visits every position with a hit.
            for lit in &self.literals {
                let n = lit.bytes.len();
                let start = match lit.ci {
                    false => Some(s),
                    // The pattern was the part of the literal at `ci_key(..).start`.
                    true => s.checked_sub(ci_key(lit.bytes).start),
                };
                let here = start.and_then(|t| Some((t, hay.get(t..t + n)?)));
                let hit = here.filter(|(_, h)| match lit.ci {
                    true => h.eq_ignore_ascii_case(lit.bytes),
                    false => *h == lit.bytes,
                });
                if let Some((start, _)) = hit {
                    push.push(lit.rules, start, n, lit.kind);
                }
            }
            at = s + 1;
        }
    }
}

/// The part of a case-insensitive literal the searcher looks for: the three bytes with the fewest
/// case variants (letters have two), skipping a run of one repeated byte (`---` is in every `psql`
/// table rule), the later on ties.
fn ci_key(bytes: &[u8]) -> std::ops::Range<usize> {
    let variants = |w: &[u8]| w.iter().filter(|b| b.is_ascii_alphabetic()).count();
    let repeated = |w: &[u8]| w.windows(2).all(|p| p.first() == p.last());
    bytes
        .windows(3)
        .enumerate()
        .filter(|(_, w)| !repeated(w))
        .min_by_key(|&(i, w)| (variants(w), std::cmp::Reverse(i)))
        .map_or(0..bytes.len(), |(i, _)| i..i + 3)
}

/// Every ASCII case variant of `bytes`.
fn case_variants(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    for &b in bytes {
        let forms: &[u8] = match (b.to_ascii_lowercase(), b.to_ascii_uppercase()) {
            (l, u) if l != u => &[l, u],
            _ => std::slice::from_ref(&b),
        };
        out = out
            .iter()
            .flat_map(|prefix| {
                forms.iter().map(move |&f| {
                    let mut v = prefix.clone();
                    v.push(f);
                    v
                })
            })
            .collect();
    }
    out
}
