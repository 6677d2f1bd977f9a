//! Tail checks for streaming: could a match that starts at a given position still change with more input?
//!
//! The streaming masker may only emit bytes whose masking is final. For each rule it keeps an *anchored*
//! lazy DFA of the rule's pattern (same semantics as the rule's regex: leftmost-first, bytes mode). Fed the
//! bytes from a start position to the end of what has arrived, the DFA either dies — the regex's answer
//! at that position can no longer change — or is still alive, meaning more bytes could create, extend or
//! cancel a match there, so the masker must hold those bytes back.

use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::{start, syntax};
use regex_automata::{Anchored, MatchKind};

/// The anchored DFA of one rule plus the bytes that can begin a match of it.
#[derive(Debug)]
pub(crate) struct TailDfa {
    dfa: DFA,
    // INVARIANT: `starts[b]` is false only if no match can begin with byte `b`, whatever precedes it.
    starts: Box<[bool; 256]>,
    /// One byte per equivalence class: transitions on these cover every byte.
    reps: Vec<u8>,
}

/// The automaton's state at an open position after the bytes seen so far (absolute positions).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resume {
    at: usize,
    sid: LazyStateID,
    /// The next byte to feed.
    next: usize,
    /// State ids are only valid until the cache is cleared.
    clears: usize,
}

enum Run {
    /// The regex's answer from this position is final.
    Closed,
    /// Still open; the state reached, when it can be resumed.
    Open(Option<LazyStateID>),
}

/// Look-behind contexts that select distinct DFA start states (text start, word, non-word, LF, CR,
/// non-ASCII). Checking every one keeps `starts` conservative.
const LOOK_BEHINDS: [Option<u8>; 6] = [
    None,
    Some(b'a'),
    Some(b' '),
    Some(b'\n'),
    Some(b'\r'),
    Some(0xC3),
];

impl TailDfa {
    /// Builds the DFA with the syntax the rule's `regex::bytes::Regex` uses.
    pub(crate) fn build(pattern: &str) -> Result<Self, Box<regex_automata::hybrid::BuildError>> {
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::LeftmostFirst)
                    // Non-ASCII input under a Unicode `\b` makes the DFA quit; `open_at` treats that as
                    // "still open", which is conservative.
                    .unicode_word_boundary(true)
                    // Never give up on a thrashing cache: a slow answer beats a wrong one.
                    .minimum_cache_clear_count(None),
            )
            .syntax(syntax::Config::new().utf8(false))
            .thompson(
                thompson::Config::new()
                    .utf8(false)
                    .nfa_size_limit(Some(64 << 20)),
            )
            .build(pattern)
            .map_err(Box::new)?;
        let mut cache = dfa.create_cache();
        let mut starts = Box::new([false; 256]);
        for lb in LOOK_BEHINDS {
            let cfg = start::Config::new().anchored(Anchored::Yes).look_behind(lb);
            let Ok(sid) = dfa.start_state(&mut cache, &cfg) else {
                starts.fill(true);
                break;
            };
            for (b, slot) in (0u8..=255).zip(starts.iter_mut()) {
                match dfa.next_state(&mut cache, sid, b) {
                    Ok(next) if next.is_dead() => {}
                    _ => *slot = true,
                }
            }
        }
        let reps = dfa
            .byte_classes()
            .representatives(..)
            .filter_map(|u| u.as_u8())
            .collect();
        Ok(Self { dfa, starts, reps })
    }

    pub(crate) fn create_cache(&self) -> Cache {
        self.dfa.create_cache()
    }

    /// Runs the automaton from `at` to the end of `hay`, or continues `resume` (relative positions).
    /// `at > 0` reads `hay[at - 1]` as look-behind; callers keep that byte when they trim.
    fn run(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        at: usize,
        resume: Option<(LazyStateID, usize)>,
    ) -> Run {
        let (mut sid, from) = match resume {
            Some(r) => r,
            None => {
                let Some(first) = hay.get(at) else {
                    return Run::Open(None);
                };
                if !self.starts[usize::from(*first)] {
                    return Run::Closed;
                }
                let prev = at.checked_sub(1).and_then(|i| hay.get(i)).copied();
                let cfg = start::Config::new()
                    .anchored(Anchored::Yes)
                    .look_behind(prev);
                match self.dfa.start_state(cache, &cfg) {
                    Ok(sid) => (sid, at),
                    Err(_) => return Run::Open(None),
                }
            }
        };
        for &b in hay.get(from..).unwrap_or_default() {
            sid = match self.dfa.next_state(cache, sid, b) {
                Ok(next) => next,
                Err(_) => return Run::Open(None),
            };
            if sid.is_dead() {
                return Run::Closed;
            }
            if sid.is_quit() {
                return Run::Open(None);
            }
        }
        // `settled` may add states; if that clears the cache, `sid` is stale and must not be resumed.
        let clears = cache.clear_count();
        if self.settled(cache, sid) {
            Run::Closed
        } else if cache.clear_count() == clears {
            Run::Open(Some(sid))
        } else {
            Run::Open(None)
        }
    }

    /// First absolute position from `from` where a match could still be in progress, or the end of
    /// `hay` (which starts at absolute `base`). `resume` carries the automaton's progress at the open
    /// position between calls, so a long open match (a PEM block) is not rescanned on every chunk.
    pub(crate) fn first_open(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        base: usize,
        from: usize,
        resume: &mut Option<Resume>,
    ) -> usize {
        let end = base + hay.len();
        self.first_open_in(cache, hay, base, [(from, end)], resume)
    }

    /// [`TailDfa::first_open`] looking only at the positions in `ranges` (absolute, half-open, in
    /// order): where the caller knows no match can start, the automaton would die anyway.
    pub(crate) fn first_open_in(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        base: usize,
        ranges: impl IntoIterator<Item = (usize, usize)>,
        resume: &mut Option<Resume>,
    ) -> usize {
        let saved = resume.take();
        for (lo, hi) in ranges {
            let mut at = lo.max(base) - base;
            let stop = hi.saturating_sub(base).min(hay.len());
            while at < stop {
                // The table check first: most positions are rejected without touching the DFA.
                if hay.get(at).is_some_and(|&b| self.starts[usize::from(b)]) {
                    let cont = saved
                        .filter(|r| {
                            r.at == base + at && r.clears == cache.clear_count() && r.next >= base
                        })
                        .map(|r| (r.sid, r.next - base));
                    match self.run(cache, hay, at, cont) {
                        Run::Closed => {}
                        Run::Open(sid) => {
                            *resume = sid.map(|sid| Resume {
                                at: base + at,
                                sid,
                                next: base + hay.len(),
                                clears: cache.clear_count(),
                            });
                            return base + at;
                        }
                    }
                }
                at += 1;
            }
        }
        base + hay.len()
    }

    /// Whether the search's answer is already fixed in the live state `sid`, however the input goes on.
    ///
    /// Matches show one byte late in the DFA, so a match that ended at or just before the end of what
    /// has arrived still leaves a live state. The answer is fixed when every continuation — each byte
    /// class and the end of input — reports the same match and then dies.
    fn settled(&self, cache: &mut Cache, sid: LazyStateID) -> bool {
        if sid.is_match() {
            return self.is_final(cache, sid);
        }
        if !self
            .dfa
            .next_eoi_state(cache, sid)
            .is_ok_and(|s| s.is_match())
        {
            return false;
        }
        self.reps
            .iter()
            .all(|&b| match self.dfa.next_state(cache, sid, b) {
                Ok(next) => next.is_match() && self.is_final(cache, next),
                Err(_) => false,
            })
    }

    /// Whether every continuation from match state `sid` dies (so the recorded match stands).
    fn is_final(&self, cache: &mut Cache, sid: LazyStateID) -> bool {
        let eoi_dead = self
            .dfa
            .next_eoi_state(cache, sid)
            .is_ok_and(|s| s.is_dead());
        eoi_dead
            && self.reps.iter().all(|&b| {
                self.dfa
                    .next_state(cache, sid, b)
                    .is_ok_and(|s| s.is_dead())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_open(pattern: &str, hay: &[u8]) -> usize {
        let t = TailDfa::build(pattern).expect("pattern builds");
        let mut c = t.create_cache();
        t.first_open(&mut c, hay, 0, 0, &mut None)
    }

    #[test]
    fn open_only_where_a_match_could_continue() {
        let p = r"(?-u:\b)AKIA[A-Z0-9]{16}(?-u:\b)";
        assert_eq!(first_open(p, b"hello world "), 12);
        assert_eq!(first_open(p, b"key AKIA12"), 4);
        // Complete, but `\b` still needs the next byte.
        assert_eq!(first_open(p, b"key AKIAIOSFODNN7EXAMPLE"), 4);
        assert_eq!(first_open(p, b"key AKIAIOSFODNN7EXAMPLE "), 25);
        assert_eq!(first_open(p, b"key AKIB"), 8);
    }

    #[test]
    fn lazy_block_closes_at_its_end_marker() {
        let p = r"BEGIN(?s-u:.){0,100}?END";
        assert_eq!(first_open(p, b"x BEGIN abc"), 2);
        assert_eq!(first_open(p, b"x BEGIN abc END"), 15);
        assert_eq!(first_open(p, b"x BEGIN abc EN"), 2);
    }

    #[test]
    fn unicode_word_boundary_is_conservative() {
        assert_eq!(first_open(r"\bé", "é".as_bytes()), 0);
    }
}
