//! Literal anchors: the prefixes token rules start with and the literals other rules contain, found
//! by packed SIMD searchers (Teddy).

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

/// A searcher: Teddy where the CPU has it, else Rabin-Karp; Aho-Corasick if neither builds.
#[derive(Debug)]
enum Searcher {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

/// One searcher and the literals whose patterns it holds.
#[derive(Debug)]
struct Group {
    searcher: Searcher,
    literals: Vec<usize>,
}

#[derive(Debug, Default)]
pub(super) struct Literals {
    groups: Vec<Group>,
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

    /// Builds the searchers over the literals added. A literal's pattern is the literal, or for a
    /// case-insensitive one every ASCII case variant of three of its bytes (the hit is then checked
    /// in full). Returns the rules whose literals could not be taken (absurdly many): they must run
    /// everywhere.
    ///
    /// # Performance
    /// Teddy compares as many leading bytes of every pattern as its shortest pattern has (up to
    /// four), so the patterns are split by length: the four-byte prefixes (`AKIA`, `ghp_`, `glpa`)
    /// are searched apart from the three-byte ones (`xox`, `sk-`, `eyJ`), where three-byte
    /// fingerprints such as `ghp` would match all through ordinary English.
    pub(super) fn build(&mut self) -> u64 {
        let mut failed = 0;
        for width in 1..=4 {
            let mut patterns: Vec<Vec<u8>> = Vec::new();
            let mut members = Vec::new();
            for (i, lit) in self.literals.iter().enumerate() {
                let part = lit.bytes.get(searched(lit)).unwrap_or(lit.bytes);
                if part.len().min(4) != width {
                    continue;
                }
                members.push(i);
                let variants = match lit.ci {
                    false => vec![part.to_vec()],
                    true => case_variants(part),
                };
                for v in variants {
                    if !patterns.contains(&v) {
                        patterns.push(v);
                    }
                }
            }
            if patterns.is_empty() {
                continue;
            }
            let mut builder = packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostFirst)
                .builder();
            builder.extend(&patterns);
            let searcher = match builder.build() {
                Some(s) => Some(Searcher::Packed(s)),
                None => AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(&patterns)
                    .ok()
                    .map(Searcher::Automaton),
            };
            match searcher {
                Some(searcher) => self.groups.push(Group {
                    searcher,
                    literals: members,
                }),
                None => {
                    failed |= members
                        .iter()
                        .filter_map(|&i| self.literals.get(i))
                        .fold(0, |a, l| a | l.rules)
                }
            }
        }
        failed
    }

    /// Pushes every literal occurrence whose searched part starts in `hay[from..to]`.
    pub(super) fn scan(&self, hay: &[u8], from: usize, to: usize, push: &mut impl Push) {
        for group in &self.groups {
            self.scan_group(group, hay, from, to, push);
        }
    }

    fn scan_group(&self, group: &Group, hay: &[u8], from: usize, to: usize, push: &mut impl Push) {
        // A pattern starting before `to` may end up to `longest - 1` bytes later.
        let stop = hay.len().min(to + self.longest.saturating_sub(1));
        let mut at = from;
        while at < to {
            let hit = match &group.searcher {
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
            // Leftmost-first reports one pattern per position; check every literal of the group
            // that could have been searched for at `s`. Resuming at `s + 1` visits every position
            // with a hit.
            for lit in group.literals.iter().filter_map(|&i| self.literals.get(i)) {
                let n = lit.bytes.len();
                // The pattern was the part of the literal at `searched(..).start`.
                let start = s.checked_sub(searched(lit).start);
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

/// The part of a literal the searcher looks for: all of a case-sensitive one; of a case-insensitive
/// one, the three bytes with the fewest case variants (letters have two), skipping a run of one
/// repeated byte (`---` is in every `psql` table rule), the later on ties.
fn searched(lit: &Literal) -> std::ops::Range<usize> {
    let bytes = lit.bytes;
    if !lit.ci {
        return 0..bytes.len();
    }
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
