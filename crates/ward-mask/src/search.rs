//! One rule's matches, left to right exactly as `find_iter` finds them, searched only in windows
//! around the rule's anchors.
//!
//! # Why matches do not change
//! Every match of a rule contains one of its anchors (`prefilter.rs`); a match is at most
//! `search_len` bytes long (the rule's regex's longest match). So a match that contains the anchor at
//! `a` (length `n`) starts in `[a + n - search_len, a]`, and one that starts at an anchor starts
//! there: the possible starts form a few [`Window`]s. Searching from the window's start in the input
//! cut `search_len` + [`LOOKAHEAD`] bytes after the window's end finds the leftmost match starting in
//! the window exactly as searching the whole input would: every match starting there, with every
//! alternative the regex could prefer and the character after it that a `\b` looks at, lies inside
//! the cut, and the bytes before the window are still there for look-behind. A match the cut search
//! reports past the window's end is not trusted (it may be cut short); the next window finds it.
//! Windows closer than `search_len` are merged, so text is never searched twice for one rule.
//!
//! Rules the prefilter does not cover (custom rules) search the whole input; rules with a shape it
//! does not scan for (`ipv4`, `ipv6`) find their windows with `Shape::next_end` as they go.

use crate::engine::{Span, slice};
use crate::prefilter::Anchor;
use crate::rule::{Rule, Target};
use crate::shape::Shape;
use regex::bytes::CaptureLocations;
use std::sync::Arc;

/// Bytes after a match a regex may look at: one character, for a Unicode `\b`.
const LOOKAHEAD: usize = 4;

/// Absolute positions `lo..=hi` where matches of rule `rule` may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    rule: usize,
    lo: usize,
    hi: usize,
}

/// The positions where matches of `rule` may start, as absolute half-open ranges in order.
pub(crate) fn start_ranges(
    windows: &[Window],
    rule: usize,
) -> impl Iterator<Item = (usize, usize)> {
    of_rule(windows, rule).iter().map(|w| (w.lo, w.hi + 1))
}

/// Turns anchors into windows of possible starts, sorted by rule then position, merged per rule.
pub(crate) fn windows(anchors: &[Anchor], rules: &[Arc<Rule>], out: &mut Vec<Window>) {
    out.clear();
    for a in anchors {
        let Some(rule) = rules.get(a.rule) else {
            continue;
        };
        // A match contains the anchor, so it starts at most `search_len - len` bytes before it, and
        // at most `lead` bytes when the hint knows better.
        let contained = (a.at + a.len).saturating_sub(rule.search_len);
        let lo = match a.lead {
            Some(lead) => contained.max(a.at.saturating_sub(lead)),
            None => contained,
        };
        out.push(Window {
            rule: a.rule,
            lo,
            hi: a.at,
        });
    }
    out.sort_unstable_by_key(|w| (w.rule, w.lo));
    let mut merged: usize = 0;
    for k in 0..out.len() {
        let Some(&w) = out.get(k) else { break };
        let reach = rules.get(w.rule).map_or(0, |r| r.search_len);
        match merged.checked_sub(1).and_then(|m| out.get_mut(m)) {
            Some(last) if last.rule == w.rule && w.lo <= last.hi + reach => {
                last.hi = last.hi.max(w.hi);
            }
            _ => {
                if let Some(slot) = out.get_mut(merged) {
                    *slot = w;
                }
                merged += 1;
            }
        }
    }
    out.truncate(merged);
}

/// The windows of rule `rule` (from a list sorted by rule).
pub(crate) fn of_rule(windows: &[Window], rule: usize) -> &[Window] {
    let from = windows.partition_point(|w| w.rule < rule);
    let to = windows.partition_point(|w| w.rule <= rule);
    windows.get(from..to).unwrap_or_default()
}

/// Where one rule's matches are collected: `hay` holds stream bytes from absolute `base`; matches
/// starting at or after `limit` are left for a later call.
pub(crate) struct Search<'a> {
    pub rule: &'a Rule,
    pub index: usize,
    pub hay: &'a [u8],
    pub base: usize,
    pub limit: usize,
}

/// Whether collecting goes on after a window.
enum Flow {
    Next,
    Stop,
}

impl Search<'_> {
    /// Pushes the rule's validated matches starting in `windows` and before `limit`; returns where
    /// its iteration resumes (absolute).
    pub(crate) fn collect_windows(
        &self,
        windows: &[Window],
        cursor: usize,
        cands: &mut Vec<Span>,
    ) -> usize {
        let mut pos = cursor - self.base;
        let mut locs = None;
        for w in windows {
            let lo = w.lo.saturating_sub(self.base);
            let Some(hi) = w.hi.checked_sub(self.base) else {
                continue;
            };
            if let Flow::Stop = self.in_window(lo, hi, &mut pos, &mut locs, cands) {
                break;
            }
        }
        self.base + pos
    }

    /// Like [`Search::collect_windows`] for a shape the rule finds itself: each occurrence ending at `e`
    /// makes the window `e - search_len ..= e - 1`.
    pub(crate) fn collect_shape(
        &self,
        shape: Shape,
        cursor: usize,
        cands: &mut Vec<Span>,
    ) -> usize {
        let mut pos = cursor - self.base;
        let mut locs = None;
        while let Some(e) = shape.next_end(self.hay, pos) {
            let lo = e.saturating_sub(self.rule.search_len);
            if let Flow::Stop = self.in_window(lo, e - 1, &mut pos, &mut locs, cands) {
                break;
            }
        }
        self.base + pos
    }

    /// Searches for matches starting in `max(pos, lo) ..= hi` (relative), advancing `pos` past each
    /// match, or past the window when there are no more.
    fn in_window(
        &self,
        lo: usize,
        hi: usize,
        pos: &mut usize,
        locs: &mut Option<CaptureLocations>,
        cands: &mut Vec<Span>,
    ) -> Flow {
        let to = self.hay.len().min(hi + self.rule.search_len + LOOKAHEAD);
        loop {
            let from = (*pos).max(lo);
            if from > hi {
                return Flow::Next;
            }
            if self.base + from >= self.limit {
                return Flow::Stop;
            }
            match find_in(self.rule, locs, self.hay, to, from) {
                Some(m) if m.0 <= hi => {
                    if !self.push(m, cands) {
                        return Flow::Stop;
                    }
                    // INVARIANT: rules never match empty text (checked at compile time), so this
                    // always advances.
                    *pos = m.1.max(m.0 + 1);
                }
                _ => {
                    // No match starts in `from..=hi`; when streaming, that is final only below
                    // `limit` (more input may complete a match there).
                    let decided = self.limit.saturating_sub(self.base);
                    *pos = (*pos).max((hi + 1).min(decided));
                    return Flow::Next;
                }
            }
        }
    }

    /// Pushes rule `i`'s validated matches that start before `limit`, searching the whole input (rules
    /// without a hint); returns where its iteration resumes.
    pub(crate) fn collect_all(&self, cursor: usize, cands: &mut Vec<Span>) -> usize {
        let mut pos = cursor - self.base;
        let mut locs = None;
        while pos <= self.hay.len() {
            let Some(m) = find_in(self.rule, &mut locs, self.hay, self.hay.len(), pos) else {
                break;
            };
            if !self.push(m, cands) {
                break;
            }
            // INVARIANT: rules never match empty text, so this always advances.
            pos = m.1.max(m.0 + 1);
        }
        self.base + pos
    }

    /// Pushes match `m` (relative) if its validator accepts it; false (nothing pushed) if it starts at
    /// or after `limit`, where a later call takes over.
    fn push(&self, (start, end, ms, me): Match, cands: &mut Vec<Span>) -> bool {
        let base = self.base;
        if base + start >= self.limit {
            return false;
        }
        if self.rule.validator.accepts(slice(self.hay, ms, me)) {
            cands.push(Span {
                start: base + start,
                end: base + end,
                mask_start: base + ms,
                mask_end: base + me,
                rule: self.index,
            });
        }
        true
    }
}

/// A match: (start, end, target start, target end), relative to the haystack.
type Match = (usize, usize, usize, usize);

/// The next match of `rule` starting at or after `from` in `hay[..to]` (look-behind sees `hay` before
/// `from`; a value run is walked in the whole of `hay`).
fn find_in(
    rule: &Rule,
    locs: &mut Option<CaptureLocations>,
    hay: &[u8],
    to: usize,
    from: usize,
) -> Option<Match> {
    let cut = hay.get(..to).unwrap_or(hay);
    let regex = rule.regex();
    match rule.target {
        Target::Whole if rule.runs.is_none() => regex
            .find_at(cut, from)
            .map(|m| (m.start(), m.end(), m.start(), m.end())),
        _ => {
            let locs = locs.get_or_insert_with(|| regex.capture_locations());
            find_captures_in(rule, locs, hay, to, from)
        }
    }
}

/// The next match of `rule` at or after `from`: (start, end, target start, target end). Walks the
/// rule's value run, if it has one; a start where the run fails has no match, so the search goes on.
#[cfg(test)]
pub(crate) fn find_captures(
    rule: &Rule,
    locs: &mut CaptureLocations,
    hay: &[u8],
    from: usize,
) -> Option<Match> {
    find_captures_in(rule, locs, hay, hay.len(), from)
}

/// [`find_captures`] with the regex searching `hay[..to]` and the value run walked in all of `hay`.
fn find_captures_in(
    rule: &Rule,
    locs: &mut CaptureLocations,
    hay: &[u8],
    to: usize,
    from: usize,
) -> Option<Match> {
    let cut = hay.get(..to).unwrap_or(hay);
    let mut at = from;
    loop {
        let m = rule.regex().captures_read_at(locs, cut, at)?;
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
                    // Rules never match empty text, so `start < cut.len()` and this advances.
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
