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

use crate::engine::{Cursors, Scratch, Span};
use crate::masker::Masker;
use crate::report::MaskReport;
use crate::tail::Resume;
use regex_automata::hybrid::dfa::Cache;

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
        let mut limit = end;
        let rules = self
            .masker
            .set
            .rules
            .iter()
            .zip(&self.cursors.per_rule)
            .zip(&mut self.resumes);
        let state = self.caches.iter_mut().zip(&mut self.decided);
        for (((rule, cursor), resume), (cache, decided)) in rules.zip(state) {
            // A start this far back is decided whatever comes next: its match would already be complete.
            // (+4: a Unicode `\b` after the match may look at one more character.) Starts before the
            // rule's cursor do not matter: its iteration resumes there.
            let floor = end.saturating_sub(rule.max_len + 4);
            let from = (*decided).max(floor).max(*cursor).max(self.base);
            let open = rule
                .tail()
                .first_open(cache, &self.buf, self.base, from, resume);
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
