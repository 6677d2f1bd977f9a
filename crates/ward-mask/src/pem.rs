//! The body of a PEM private key, walked in code: `private_key`'s pattern stops after the header and
//! [`body_end`] finds where the full pattern's match ends.
//!
//! # Performance
//! The full pattern's `(?s-u:.){0,16384}?` and `(?:\r?\n[A-Za-z0-9+/=]{1,100}){0,160}` make a new
//! lazy-DFA state for nearly every byte of a key, so the regex engine gives up on its DFA and walks a
//! PEM with its slowest engine. Here a key costs a `memmem` for `-----END` and a look at one line.
//!
//! # Why matches do not change
//! The full pattern is `HEADER(?:(?s-u:.){0,16384}?END|(?:\r?\n[A-Za-z0-9+/=]{1,100}){0,160}(?:\r?\n|$))`
//! with `HEADER` = `-----BEGIN[A-Z0-9 ]{0,48}PRIVATE KEY(?: BLOCK)?-----` and `END` the same with
//! `END`. Between its dashes a header or END line holds only `[A-Z0-9 ]`, which excludes `-`; so it
//! ends at the first `-----` after its class run, and it matches exactly when that run ends in
//! `PRIVATE KEY` or `PRIVATE KEY BLOCK` with at most 48 characters before: one way, or none. Under
//! leftmost-first matching the first alternative is preferred, and within it the shortest body, so
//! the match ends after the first END line starting within 16384 bytes of the header. Failing that,
//! the second alternative's iterations are forced: each takes a line break and then all of a run of
//! 1–100 base64 characters (taking fewer leaves a base64 character where a line break must follow,
//! and a longer run has no way through). The greedy repetition takes as many as it can (at most 160)
//! and the final `\r?\n|$` must fit after them; if it does not, one iteration less always fits, its
//! line break being the final one. The header and both alternatives failing means no match at that
//! start, and the search goes on from the next byte, as the regex's would.

/// `(?s-u:.){0,16384}`: the most body bytes before the END line.
pub(crate) const MAX_BODY: usize = 16384;

/// Where the match ends, given the header ending at `header_end`; `None`: no match there.
pub(crate) fn body_end(hay: &[u8], header_end: usize, max_body: usize) -> Option<usize> {
    let reach = hay
        .len()
        .min(header_end.saturating_add(max_body).saturating_add(8));
    let body = hay.get(header_end..reach).unwrap_or_default();
    memchr::memmem::find_iter(body, b"-----END")
        .find_map(|q| end_line(hay, header_end + q))
        .or_else(|| base64_lines(hay, header_end))
}

/// `-----END[A-Z0-9 ]{0,48}PRIVATE KEY(?: BLOCK)?-----` at `at`: where it ends.
fn end_line(hay: &[u8], at: usize) -> Option<usize> {
    let rest = hay.get(at..)?.strip_prefix(b"-----END")?;
    // At most 48 characters, then `PRIVATE KEY BLOCK`: a longer run cannot match.
    let run = rest
        .iter()
        .take(48 + 17 + 1)
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b' ')
        .count();
    let (line, after) = rest.split_at_checked(run)?;
    if !after.starts_with(b"-----") {
        return None;
    }
    let lead = [&b"PRIVATE KEY"[..], b"PRIVATE KEY BLOCK"]
        .iter()
        .find(|tail| line.ends_with(tail))
        .map(|tail| run - tail.len())?;
    (lead <= 48).then_some(at + 8 + run + 5)
}

/// `(?:\r?\n[A-Za-z0-9+/=]{1,100}){0,160}(?:\r?\n|$)` at `at`: where it ends.
fn base64_lines(hay: &[u8], at: usize) -> Option<usize> {
    let newline = |p: usize| match hay.get(p..) {
        Some([b'\r', b'\n', ..]) => Some(2),
        Some([b'\n', ..]) => Some(1),
        _ => None,
    };
    let base64 = |b: &&u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    let mut p = at;
    // Where the final `\r?\n` ends if it is taken one iteration back.
    let mut back = None;
    for _ in 0..160 {
        let Some(nl) = newline(p) else { break };
        let line = hay.get(p + nl..).unwrap_or_default();
        let run = line.iter().take(101).take_while(base64).count();
        if !(1..=100).contains(&run) {
            break;
        }
        back = Some(p + nl);
        p += nl + run;
    }
    match newline(p) {
        Some(nl) => Some(p + nl),
        None if p == hay.len() => Some(p),
        None => back,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_lines_and_base64_lines() {
        let key = b"-----BEGIN RSA PRIVATE KEY-----\nQUJD\nREVG\n-----END RSA PRIVATE KEY-----\nx";
        let h = 31;
        assert_eq!(body_end(key, h, MAX_BODY), Some(key.len() - 2));
        // The body before the END line is 11 bytes.
        assert_eq!(body_end(key, h, 11), Some(key.len() - 2));
        // The END line out of reach: the base64 lines and the line break after them.
        assert_eq!(body_end(key, h, 10), Some(h + 11));
        assert_eq!(end_line(b"-----END PRIVATE KEY BLOCK-----", 0), Some(31));
        assert_eq!(end_line(b"-----END PRIVATE KEY -----", 0), None);
        assert_eq!(end_line(b"-----END PRIVATE KEY", 0), None);
        assert_eq!(base64_lines(b"\r\nQUJD\r\n", 0), Some(8));
        assert_eq!(base64_lines(b"\nQUJD", 0), Some(5));
        assert_eq!(base64_lines(b"\nQUJD!", 0), Some(1));
        assert_eq!(base64_lines(b" QUJD", 0), None);
        assert_eq!(base64_lines(b"\r", 0), None);
    }
}
