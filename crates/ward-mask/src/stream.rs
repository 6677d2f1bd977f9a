//! `StreamMasker`: masks a byte stream chunk by chunk, with output identical to masking it whole.
//!
//! # How much is held back
//! After each chunk the masker emits everything whose masking can no longer change and holds the rest.
//! For every rule it finds the earliest position where a match could still be in progress — its anchored
//! automaton has not died on the bytes received so far (see `tail.rs`). Output stops there, or after an
//! accepted match that straddles it. In ordinary text that is at most the last word or line fragment;
//! inside something that could still become a secret (a digit run, a token prefix, an open
//! `-----BEGIN … PRIVATE KEY-----` block) the bytes wait until the match completes or fails.
//!
//! The hold is bounded: every rule's matches are at most `max_len` bytes (checked when rules compile,
//! never above [`MAX_MATCH_LEN`](crate::MAX_MATCH_LEN) = 64 KiB), and a position that far back is decided
//! whatever follows. So the buffer never exceeds the longest rule's `max_len` + 8 bytes of look-behind
//! context + the chunk being pushed. With the built-ins that is about 16.5 KiB (the PEM body limit).
//! A PEM block longer than 16 KiB, or one that never ends, is masked through its base64 lines up to that
//! limit (the `private_key` rule's fallback form); the same happens when masking it whole.
//!
//! Invalid UTF-8 passes through unchanged unless it is inside a match; detectors treat it as a separator.
//!
//! # Cancellation safety
//! There is no I/O here; dropping a masker mid-stream loses only the held-back bytes, which were never
//! emitted.

use crate::engine::{Cursors, RuleSet, Scratch, Span, scan_start};
use crate::masker::Masker;
use crate::report::MaskReport;
use crate::rule::Rule;
use crate::tail::Resume;
use regex_automata::hybrid::dfa::Cache;

/// The tail check of one push: the buffer and where the prefilter says matches may start
/// ([`RuleSet::find_starts`] over it).
pub(crate) struct Tail<'a> {
    pub set: &'a RuleSet,
    pub hay: &'a [u8],
    pub base: usize,
    pub starts: &'a Scratch,
}

impl Tail<'_> {
    /// The first position from `from` where rule `i`'s answer may still change (see `tail.rs`), or
    /// the end of the buffer. Where the prefilter knows where the rule's matches can start, only
    /// those places and the last few bytes (a match too short yet to show its anchor,
    /// [`RuleSet::unseen`]) are checked: everywhere else the rule's automaton dies, so the answer is
    /// the same.
    pub(crate) fn first_open(
        &self,
        i: usize,
        rule: &Rule,
        cache: &mut Cache,
        from: usize,
        resume: &mut Option<Resume>,
    ) -> usize {
        let end = self.base + self.hay.len();
        let tail = rule.tail();
        match self.set.start_ranges(i, self.starts) {
            Some(starts) => {
                let zone = end.saturating_sub(self.set.unseen(i)).max(from);
                let starts = starts
                    .map(|(lo, hi)| (lo.max(from), hi.min(zone)))
                    .filter(|(lo, hi)| lo < hi)
                    .chain([(zone, end)]);
                tail.first_open_in(cache, self.hay, self.base, starts, resume)
            }
            None => tail.first_open(cache, self.hay, self.base, from, resume),
        }
    }
}

/// Bytes kept before the unemitted region so `\b` and other look-behind see the real previous
/// character (a UTF-8 character is at most 4 bytes).
const CONTEXT: usize = 8;

/// Masks one byte stream incrementally. Create with [`Masker::stream`].
#[derive(Debug)]
pub struct StreamMasker {
    masker: Masker,
    /// Bytes from absolute position `base`: look-behind context, then bytes not yet emitted.
    buf: Vec<u8>,
    base: usize,
    emitted: usize,
    cursors: Cursors,
    /// Per rule: every position before this is decided (its automaton died).
    decided: Vec<usize>,
    caches: Vec<Cache>,
    resumes: Vec<Option<Resume>>,
    /// The `limit` of the last scan; nothing new is decided until it moves.
    last_limit: usize,
    /// Per rule: where the tail check of the current push starts.
    froms: Vec<usize>,
    scratch: Scratch,
    spans: Vec<Span>,
    report: MaskReport,
}

impl StreamMasker {
    pub(crate) fn new(masker: Masker) -> Self {
        let rules = &masker.set.rules;
        Self {
            caches: rules.iter().map(|r| r.tail().create_cache()).collect(),
            decided: vec![0; rules.len()],
            resumes: vec![None; rules.len()],
            last_limit: 0,
            froms: Vec::with_capacity(rules.len()),
            cursors: Cursors {
                per_rule: vec![0; rules.len()],
                accepted_end: 0,
            },
            masker,
            buf: Vec::new(),
            base: 0,
            emitted: 0,
            scratch: Scratch::default(),
            spans: Vec::new(),
            report: MaskReport::new(),
        }
    }

    /// Feeds `chunk`; returns the bytes that are now safe to emit (possibly none).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len());
        self.push_into(chunk, &mut out);
        out
    }

    /// Like [`StreamMasker::push`], appending to `out` instead of allocating.
    pub fn push_into(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.buf.extend_from_slice(chunk);
        let end = self.base + self.buf.len();
        let set = &self.masker.set;
        // Per rule, the first position whose answer may still be open. A start this far back is
        // decided whatever comes next: its match would already be complete. (+4: a Unicode `\b` after
        // the match may look at one more character.) Starts before the rule's cursor do not matter:
        // its iteration resumes there.
        let froms = set
            .rules
            .iter()
            .zip(&self.cursors.per_rule)
            .zip(&self.decided);
        let froms = froms.map(|((rule, cursor), decided)| {
            let floor = end.saturating_sub(rule.max_len + 4);
            (*decided).max(floor).max(*cursor).max(self.base)
        });
        self.froms.clear();
        self.froms.extend(froms);
        // Where matches can start at all (the prefilter's anchors), for `Tail::first_open`. Scanned
        // from where `resolve` will want it (every rule's check starts at or after its cursor), so
        // `advance` reuses the scan.
        let scan_from = scan_start(&self.cursors, self.base);
        set.find_starts(&self.buf, self.base, scan_from, &mut self.scratch);
        let mut limit = end;
        let rules = set.rules.iter().zip(&self.froms).zip(&mut self.resumes);
        let state = self.caches.iter_mut().zip(&mut self.decided);
        for (i, (((rule, &from), resume), (cache, decided))) in rules.zip(state).enumerate() {
            let at = Tail {
                set,
                hay: &self.buf,
                base: self.base,
                starts: &self.scratch,
            };
            let open = at.first_open(i, rule, cache, from, resume);
            *decided = open;
            limit = limit.min(open);
        }
        // While something stays open (a PEM block arriving line by line) the limit does not move and a
        // scan would find nothing new; skipping it keeps long holds linear instead of quadratic.
        if limit > self.last_limit {
            self.last_limit = limit;
            self.advance(limit, out);
        }
    }

    /// Ends the stream: returns the held-back bytes, masked. The masker is then ready for a new stream
    /// (its report keeps counting until [`StreamMasker::take_report`]).
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.finish_into(&mut out);
        out
    }

    /// Like [`StreamMasker::finish`], appending to `out`.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        self.advance(usize::MAX, out);
        self.buf.clear();
        self.base = 0;
        self.emitted = 0;
        self.cursors.accepted_end = 0;
        self.cursors.per_rule.fill(0);
        self.decided.fill(0);
        self.resumes.fill(None);
        self.last_limit = 0;
    }

    /// Counts of what was masked in the bytes emitted since the last call.
    pub fn take_report(&mut self) -> MaskReport {
        std::mem::take(&mut self.report)
    }

    /// How many bytes are currently held back (not yet emitted).
    pub fn held(&self) -> usize {
        self.base + self.buf.len() - self.emitted
    }

    fn advance(&mut self, limit: usize, out: &mut Vec<u8>) {
        let set = &self.masker.set;
        self.spans.clear();
        let upto = set.resolve(
            &self.buf,
            self.base,
            limit,
            &mut self.cursors,
            &mut self.scratch,
            &mut self.spans,
        );
        set.render(
            &self.buf,
            self.base,
            (self.emitted, upto),
            &self.spans,
            out,
            &mut self.report,
        );
        self.emitted = upto;
        // Keep what later searches may look at: from the earliest rule cursor or the first unemitted byte,
        // plus look-behind context.
        let keep_from = self
            .cursors
            .per_rule
            .iter()
            .copied()
            .fold(self.emitted, usize::min)
            .saturating_sub(CONTEXT)
            .max(self.base);
        self.buf.drain(..keep_from - self.base);
        self.base = keep_from;
    }
}
