//! The scanning core shared by whole-buffer masking and the streaming masker.
//!
//! Each rule yields its matches left to right, exactly like `find_iter` (validators drop candidates).
//! Candidates from all rules are merged by start position (longer first, then rule order) and accepted
//! greedily when they do not overlap an accepted one. The same code runs for a whole buffer and for a
//! stream; a stream only passes a `limit` below which everything is final, so the concatenated stream
//! output equals masking the concatenated input.
//!
//! A rule's regex runs only in windows around the places the prefilter found for it (`prefilter.rs`,
//! `search.rs`); clean text costs the prefilter's one pass.

use crate::prefilter::{Anchor, Candidates, Hint, Prefilter};
use crate::replace::render;
use crate::report::MaskReport;
use crate::rule::Rule;
use crate::search::{self, Search, Window};
use crate::token::TokenKey;
use std::cmp::Reverse;
use std::sync::Arc;

#[cfg(test)]
pub(crate) use crate::search::find_captures;

/// A rule set compiled for one profile: the rules plus a combined prefilter.
#[derive(Debug)]
pub(crate) struct RuleSet {
    pub rules: Vec<Arc<Rule>>,
    /// Rules out most rules on clean text before any regex runs.
    prefilter: Prefilter,
    pub key: Option<TokenKey>,
}

/// One accepted (or candidate) match, in absolute stream positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    /// The part replaced (the target group, or the whole match).
    pub mask_start: usize,
    pub mask_end: usize,
    pub rule: usize,
}

/// Buffers `resolve` reuses between calls (a stream keeps them; a one-off mask allocates them only if
/// something is found), and the last prefilter scan.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    cands: Vec<Span>,
    anchors: Vec<Anchor>,
    windows: Vec<Window>,
    /// The buffer (`base`, `from`, length) that `anchors`, `windows` and `candidates` describe.
    scanned: Option<(usize, usize, usize)>,
    candidates: Candidates,
}

/// Where each rule's iteration resumes, and where the last accepted match ended.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cursors {
    pub per_rule: Vec<usize>,
    pub accepted_end: usize,
}

impl RuleSet {
    pub(crate) fn new(rules: Vec<Arc<Rule>>, key: Option<TokenKey>) -> Self {
        let prefilter = Prefilter::new(rules.iter().map(|r| r.hint));
        Self {
            rules,
            prefilter,
            key,
        }
    }

    /// Collects the accepted spans that start before `limit` (absolute) into `spans`.
    ///
    /// `hay` holds stream bytes from absolute offset `base`; `cursors.per_rule` must be empty (whole
    /// buffer: start at `base`) or hold one absolute position per rule. Returns the absolute position up
    /// to which output is final: `max(limit, end of the last accepted span)`, capped at the end of `hay`.
    pub(crate) fn resolve(
        &self,
        hay: &[u8],
        base: usize,
        limit: usize,
        cursors: &mut Cursors,
        scratch: &mut Scratch,
        spans: &mut Vec<Span>,
    ) -> usize {
        let end = base + hay.len();
        // One pass finds where each rule may match in `hay[from..]`; rules run only there. A stream
        // has usually just done it for its tail check.
        let from = scan_start(cursors, base);
        let candidates = match scratch.scanned {
            Some(done) if done == (base, from, hay.len()) => scratch.candidates,
            _ => self.find_starts(hay, base, from, scratch),
        };
        let Scratch { cands, windows, .. } = scratch;
        cands.clear();
        for (i, rule) in self.rules.iter().enumerate() {
            let cursor = cursors.per_rule.get(i).copied().unwrap_or(base).max(base);
            if !candidates.contains(i) {
                set_cursor(cursors, i, cursor.max(limit));
                continue;
            }
            let at = Search {
                rule,
                index: i,
                hay,
                base,
                limit,
            };
            let next = match rule.hint {
                _ if self.prefilter.scans(i) => {
                    at.collect_windows(search::of_rule(windows, i), cursor, cands)
                }
                Hint::Shape(shape) => at.collect_shape(shape, cursor, cands),
                _ => at.collect_all(cursor, cands),
            };
            set_cursor(cursors, i, next.max(limit));
        }
        cands.sort_unstable_by_key(|c| (c.start, Reverse(c.end), c.rule));
        for c in cands.iter() {
            if c.start >= cursors.accepted_end {
                spans.push(*c);
                cursors.accepted_end = c.end;
            }
        }
        limit.max(cursors.accepted_end).min(end)
    }

    /// Finds, for every rule the prefilter covers, where in `hay[from..]` (`from` absolute) its
    /// matches may start; [`RuleSet::start_ranges`] reads them, and [`RuleSet::resolve`] reuses them
    /// for the same buffer. Rules it does not cover may match anywhere.
    pub(crate) fn find_starts(
        &self,
        hay: &[u8],
        base: usize,
        from: usize,
        scratch: &mut Scratch,
    ) -> Candidates {
        scratch.anchors.clear();
        let candidates = self
            .prefilter
            .scan(hay, base, from - base, &mut scratch.anchors);
        search::windows(&scratch.anchors, &self.rules, &mut scratch.windows);
        scratch.scanned = Some((base, from, hay.len()));
        scratch.candidates = candidates;
        candidates
    }

    /// Where matches of rule `i` may start after [`RuleSet::find_starts`] (absolute, half-open, in
    /// order), or `None` if they may start anywhere.
    pub(crate) fn start_ranges<'a>(
        &self,
        i: usize,
        scratch: &'a Scratch,
    ) -> Option<impl Iterator<Item = (usize, usize)> + 'a> {
        self.prefilter
            .scans(i)
            .then(|| search::start_ranges(&scratch.windows, i))
    }

    /// How many bytes at the end of a buffer may start a match of rule `i` that the prefilter cannot
    /// have seen yet.
    pub(crate) fn unseen(&self, i: usize) -> usize {
        let search_len = self.rules.get(i).map_or(0, |r| r.search_len);
        self.prefilter.unseen(i, search_len)
    }

    /// Appends `hay[from..to]` (absolute positions) to `out` with `spans` replaced, counting into `report`.
    pub(crate) fn render(
        &self,
        hay: &[u8],
        base: usize,
        (from, to): (usize, usize),
        spans: &[Span],
        out: &mut Vec<u8>,
        report: &mut MaskReport,
    ) {
        let mut at = from;
        for s in spans.iter().filter(|s| s.start >= from && s.end <= to) {
            out.extend_from_slice(slice(hay, at - base, s.mask_start - base));
            if let Some(rule) = self.rules.get(s.rule) {
                let value = slice(hay, s.mask_start - base, s.mask_end - base);
                render(rule.replacement, &rule.name, self.key.as_ref(), value, out);
                report.add(&rule.name);
            }
            at = s.mask_end;
        }
        out.extend_from_slice(slice(hay, at - base, to - base));
    }
}

/// Where a scan for `resolve` starts: the earliest rule cursor (absolute), or `base`.
pub(crate) fn scan_start(cursors: &Cursors, base: usize) -> usize {
    cursors
        .per_rule
        .iter()
        .copied()
        .min()
        .unwrap_or(base)
        .max(base)
}

fn set_cursor(cursors: &mut Cursors, i: usize, pos: usize) {
    if let Some(c) = cursors.per_rule.get_mut(i) {
        *c = pos;
    }
}

/// A panic-free sub-slice; positions come from regex matches, so an empty result means a logic error
/// rather than untrusted input, and emitting nothing is the safe failure.
pub(crate) fn slice(hay: &[u8], from: usize, to: usize) -> &[u8] {
    hay.get(from..to).unwrap_or_default()
}
