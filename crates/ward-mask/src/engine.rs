//! The scanning core shared by whole-buffer masking and the streaming masker.
//!
//! Each rule yields its matches left to right, exactly like `find_iter` (validators drop candidates).
//! Candidates from all rules are merged by start position (longer first, then rule order) and accepted
//! greedily when they do not overlap an accepted one. The same code runs for a whole buffer and for a
//! stream; a stream only passes a `limit` below which everything is final, so the concatenated stream
//! output equals masking the concatenated input.

use crate::prefilter::{Hint, Prefilter};
use crate::replace::render;
use crate::report::MaskReport;
use crate::rule::{Rule, Target};
use crate::token::TokenKey;
use regex::bytes::CaptureLocations;
use std::cmp::Reverse;
use std::sync::Arc;

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
        cands: &mut Vec<Span>,
        spans: &mut Vec<Span>,
    ) -> usize {
        let end = base + hay.len();
        cands.clear();
        let from = cursors
            .per_rule
            .iter()
            .copied()
            .min()
            .unwrap_or(base)
            .max(base);
        // Rules whose hint is absent from `hay[from..]` cannot match there: skip them.
        let candidates = self
            .prefilter
            .candidates(hay.get(from - base..).unwrap_or_default());
        for (i, rule) in self.rules.iter().enumerate() {
            let cursor = cursors.per_rule.get(i).copied().unwrap_or(base).max(base);
            if !candidates.contains(i) {
                set_cursor(cursors, i, cursor.max(limit));
                continue;
            }
            let next = collect_rule(rule, i, hay, base, cursor, limit, cands);
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

fn set_cursor(cursors: &mut Cursors, i: usize, pos: usize) {
    if let Some(c) = cursors.per_rule.get_mut(i) {
        *c = pos;
    }
}

/// A panic-free sub-slice; positions come from regex matches, so an empty result means a logic error
/// rather than untrusted input, and emitting nothing is the safe failure.
fn slice(hay: &[u8], from: usize, to: usize) -> &[u8] {
    hay.get(from..to).unwrap_or_default()
}

/// Pushes rule `i`'s validated matches that start before `limit`; returns where its iteration resumes.
fn collect_rule(
    rule: &Rule,
    i: usize,
    hay: &[u8],
    base: usize,
    cursor: usize,
    limit: usize,
    cands: &mut Vec<Span>,
) -> usize {
    // Capture locations (and a deferred rule's regex) are made only once a search is due.
    let mut locs: Option<CaptureLocations> = None;
    // `pos` is where `find_iter` would resume. It only moves past matches the caller consumes: when
    // streaming, "no match here" is final only below `limit`, which the caller applies.
    let mut pos = cursor - base;
    while pos <= hay.len() {
        let mut from = pos;
        if let Hint::Shape(shape) = rule.hint {
            // No match starts before the next shape occurrence's end minus the longest match.
            match shape.next_end(hay, pos) {
                Some(end) => from = pos.max(end.saturating_sub(rule.max_len)),
                None => break,
            }
        }
        let regex = rule.regex();
        let found = match rule.target {
            Target::Whole if rule.runs.is_none() => regex
                .find_at(hay, from)
                .map(|m| (m.start(), m.end(), m.start(), m.end())),
            _ => {
                let locs = locs.get_or_insert_with(|| regex.capture_locations());
                find_captures(rule, locs, hay, from)
            }
        };
        let Some((start, end, ms, me)) = found else {
            break;
        };
        if base + start >= limit {
            break;
        }
        if rule.validator.accepts(slice(hay, ms, me)) {
            cands.push(Span {
                start: base + start,
                end: base + end,
                mask_start: base + ms,
                mask_end: base + me,
                rule: i,
            });
        }
        // INVARIANT: rules never match empty text (checked at compile time), so this always advances.
        pos = end.max(start + 1);
    }
    base + pos
}

/// The next match of `rule` at or after `from`: (start, end, target start, target end). Walks the
/// rule's value run, if it has one; a start where the run fails has no match, so the search goes on.
pub(crate) fn find_captures(
    rule: &Rule,
    locs: &mut CaptureLocations,
    hay: &[u8],
    from: usize,
) -> Option<(usize, usize, usize, usize)> {
    let mut at = from;
    loop {
        let m = rule.regex().captures_read_at(locs, hay, at)?;
        let (start, mut end) = (m.start(), m.end());
        let mut target = group(&rule.target, locs);
        if let Some(runs) = rule.runs {
            match runs.extend(hay, locs, end) {
                Some(ext) => {
                    end = ext.end;
                    // INVARIANT: a run's group is the first that took part (the rule's target).
                    target = ext.group.or(target);
                }
                None => {
                    // Rules never match empty text, so `start < hay.len()` and this advances.
                    at = start + 1;
                    continue;
                }
            }
        }
        let (gs, ge) = target.unwrap_or((start, end));
        return Some((start, end, gs, ge));
    }
}

fn group(target: &Target, locs: &CaptureLocations) -> Option<(usize, usize)> {
    match target {
        Target::Whole => None,
        Target::Group(g) => locs.get(*g),
        Target::FirstGroup => (1..locs.len()).find_map(|g| locs.get(g)),
    }
}
