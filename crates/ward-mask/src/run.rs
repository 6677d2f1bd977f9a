//! Value runs matched in code: a rule's pattern stops after the first characters of a long value and
//! [`Runs::extend`] walks the rest, so the pattern does not carry a repetition like `{1,4096}`.
//!
//! # Performance
//! A counted repetition of a Unicode class compiles to one NFA state set per count: `[^\s"',;]{1,4096}`
//! alone made the `auth_header` automata some 74k states (about 20 MB of regex, cache and streaming
//! automaton). Walking the run in code costs one UTF-8 decode per character.
//!
//! # Why matches do not change
//! The cut patterns differ from the full ones only in a run at the very end of the pattern (or of the
//! alternative it sits in). Under leftmost-first semantics the match is the first path, in priority
//! order, that completes. A path through the run completes in the full pattern exactly when at least
//! `min` class characters follow its prefix, which is when the cut pattern completes it; so both pick the
//! same path, and the full pattern's greedy run then takes as many class characters as it may, which
//! is what `extend` takes. `url_password`'s run is followed by `@`, which the class also accepts; its
//! prefix (scheme, user, `:`) can end in only one place for a given start, so the match there is the
//! last `@` within the run's limit, or none, and the search then goes on from the next start.
//!
//! The streaming tail check uses the pattern with the runs open-ended instead (`Runs::tail`). Its
//! automaton stays alive wherever the full pattern's would (and longer inside a run past the limit), so
//! it holds back at least as much; the hold stays bounded by the rule's `max_len`, which comes from the
//! full pattern.

use crate::pem;
use regex::bytes::CaptureLocations;

/// The characters a run accepts. The Unicode classes match UTF-8 encoded characters, never invalid
/// UTF-8, and count characters rather than bytes, exactly as the regex classes they replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunClass {
    /// `[^\s"',;]`: an `Authorization` header value.
    HeaderValue,
    /// `[A-Za-z0-9._~+/=-]`: a bare bearer token.
    BearerToken,
    /// `[^\s"',;&<>{}\[\]]`: an unquoted assignment value.
    BareValue,
    /// `[^\s/?#'"<>]`: a URL password (which may contain `@`).
    UrlPassword,
}

impl RunClass {
    fn accepts(self, c: char) -> bool {
        // `char::is_whitespace` is Unicode `White_Space`, the same property as the regex's `\s`.
        match self {
            RunClass::HeaderValue => !c.is_whitespace() && !matches!(c, '"' | '\'' | ',' | ';'),
            RunClass::BearerToken => {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '+' | '/' | '=' | '-')
            }
            RunClass::BareValue => {
                !c.is_whitespace()
                    && !matches!(
                        c,
                        '"' | '\'' | ',' | ';' | '&' | '<' | '>' | '{' | '}' | '[' | ']'
                    )
            }
            RunClass::UrlPassword => {
                !c.is_whitespace() && !matches!(c, '/' | '?' | '#' | '\'' | '"' | '<' | '>')
            }
        }
    }

    /// The most bytes one accepted character takes.
    fn max_char_len(self) -> usize {
        match self {
            RunClass::BearerToken => 1,
            _ => 4,
        }
    }
}

/// How a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// The run ends the match and is greedy: it takes class characters up to `max` in all.
    Greedy,
    /// The run (at most `max` characters) is followed by `@`: the match ends at the last `@` that
    /// leaves the run at least one character, and fails without one.
    LastAt,
    /// A PEM private key's body after its header (`pem.rs`): up to `max` bytes and an END line, or
    /// else complete base64 lines. The group is empty and marks the header's end; `class` and `min`
    /// are not used, and the match keeps no group.
    PemBody,
}

/// One run: the capture group holding it, whose first `min` characters the pattern matches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    pub group: usize,
    pub class: RunClass,
    pub min: usize,
    pub max: usize,
    pub end: RunEnd,
}

/// The runs a rule's pattern leaves to code, and the pattern for its streaming tail check.
#[derive(Debug)]
pub(crate) struct Runs {
    pub runs: &'static [Run],
    /// The full pattern with every run open-ended (`+`/`{n,}` instead of `{n,m}`).
    pub tail: &'static str,
    /// The longest match of the full pattern in bytes (`run_equivalence` checks it): the streaming
    /// hold and the shape hint's search window depend on it.
    pub max_len: usize,
}

/// A match after its run was walked: the new ends of the match and of the run's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extended {
    pub end: usize,
    pub group: Option<(usize, usize)>,
}

impl Runs {
    /// Walks the run of the match in `locs` (ending at `end`) over `hay`. `None`: there is no match at
    /// this start (a `LastAt` run without its `@`, a PEM header without a body). A match whose groups
    /// hold no run is returned as is.
    pub(crate) fn extend(
        &self,
        hay: &[u8],
        locs: &CaptureLocations,
        end: usize,
    ) -> Option<Extended> {
        let Some((run, (gs, ge))) = self
            .runs
            .iter()
            .find_map(|r| locs.get(r.group).map(|g| (r, g)))
        else {
            return Some(Extended { end, group: None });
        };
        match run.end {
            RunEnd::Greedy => {
                let to = walk(hay, ge, run.class, run.max - run.min, |_, _| {});
                Some(Extended {
                    end: to,
                    group: Some((gs, to)),
                })
            }
            RunEnd::LastAt => {
                let mut last_at = None;
                // The `@` may follow the run's last allowed character: one more to look at.
                walk(hay, ge, run.class, run.max - run.min + 1, |c, at| {
                    if c == '@' {
                        last_at = Some(at);
                    }
                });
                last_at.map(|at| Extended {
                    end: at + 1,
                    group: Some((gs, at)),
                })
            }
            RunEnd::PemBody => {
                pem::body_end(hay, ge, run.max).map(|end| Extended { end, group: None })
            }
        }
    }
}

/// Takes up to `count` characters of `class` from `hay[from..]`, calling `seen(char, position)` for
/// each; returns where the run stops.
fn walk(
    hay: &[u8],
    from: usize,
    class: RunClass,
    count: usize,
    mut seen: impl FnMut(char, usize),
) -> usize {
    // `count` characters fit in this many bytes; a character cut at the window's end lies past them.
    let window = hay
        .get(from..)
        .unwrap_or_default()
        .get(..count * class.max_char_len())
        .unwrap_or_else(|| hay.get(from..).unwrap_or_default());
    // The run is the window's valid UTF-8 prefix, decoded a piece at a time: a run usually ends long
    // before its limit (4096 characters for a header value), and validating the whole window first
    // cost more than the rest of masking a header.
    let mut at = from;
    let mut taken = 0;
    let mut rest = window;
    loop {
        let piece = rest.get(..PIECE).unwrap_or(rest);
        let (valid, last) = match std::str::from_utf8(piece) {
            Ok(valid) => (valid, piece.len() == rest.len()),
            // A sequence cut at the piece's end is completed by the next piece, unless the window
            // ends there too; any other error ends the valid prefix.
            Err(e) => (
                piece
                    .get(..e.valid_up_to())
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .unwrap_or_default(),
                e.error_len().is_some() || piece.len() == rest.len(),
            ),
        };
        for c in valid.chars() {
            if taken == count || !class.accepts(c) {
                return at;
            }
            seen(c, at);
            at += c.len_utf8();
            taken += 1;
        }
        if last || valid.is_empty() {
            return at;
        }
        rest = rest.get(valid.len()..).unwrap_or_default();
    }
}

/// Bytes of a run decoded at a time by `walk`.
const PIECE: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_counts_characters_and_stops_at_invalid_utf8() {
        let hay = "aé b".as_bytes();
        assert_eq!(walk(hay, 0, RunClass::HeaderValue, 10, |_, _| {}), 3);
        assert_eq!(walk(hay, 0, RunClass::HeaderValue, 2, |_, _| {}), 3);
        assert_eq!(walk(hay, 0, RunClass::HeaderValue, 1, |_, _| {}), 1);
        assert_eq!(
            walk(b"ab\xffcd", 0, RunClass::HeaderValue, 10, |_, _| {}),
            2
        );
        assert_eq!(walk(b"ab\xc3", 1, RunClass::HeaderValue, 10, |_, _| {}), 2);
        assert_eq!(
            walk("aé".as_bytes(), 0, RunClass::BearerToken, 10, |_, _| {}),
            1
        );
        assert_eq!(
            walk(
                "a\u{2003}b".as_bytes(),
                0,
                RunClass::BareValue,
                10,
                |_, _| {}
            ),
            1
        );
        assert_eq!(walk(b"ab", 5, RunClass::BareValue, 10, |_, _| {}), 5);
    }
}
