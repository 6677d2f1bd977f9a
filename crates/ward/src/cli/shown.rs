//! Recorded text made safe to print on an auditor's terminal.
//!
//! Everything in a record came from a client or an upstream: a statement such as
//! `SELECT 1 /*<ESC>[1A<ESC>[2K*/` would move the auditor's cursor and erase lines, a carriage
//! return would overwrite what is printed before it, and a newline could start a line that
//! looks like one of the replay's own. So every control character (C0, DEL, C1) and every
//! bidirectional override is shown escaped (`\x1B`, `\u{202E}`), and a newline inside a block
//! of text starts an indented line. Only the terminal player renders a terminal as it was.

use std::borrow::Cow;

/// Columns a continuation line of a block is indented by: past the `[+   3.021s] ` stamp, so no
/// recorded line can pass for one of the replay's own.
pub const INDENT: usize = 13;

/// `text` on one line: control characters escaped, newlines and tabs included.
pub fn inline(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// `text` as a block: control characters escaped, but newlines kept, each followed by
/// [`INDENT`] spaces, and tabs kept.
pub fn block(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

fn dangerous(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn escape(text: &str, keep_lines: bool) -> Cow<'_, str> {
    // A tab a block keeps is the only control character that needs no change.
    if !text
        .chars()
        .any(|c| dangerous(c) && !(keep_lines && c == '\t'))
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' if keep_lines => {
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', INDENT));
            }
            '\t' if keep_lines => out.push('\t'),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if dangerous(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c if dangerous(c) => out.push_str(&format!("\\u{{{:X}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_shown_escaped() {
        assert_eq!(
            inline("SELECT 1 /*\u{1b}[1A\u{1b}[2K*/"),
            "SELECT 1 /*\\x1B[1A\\x1B[2K*/"
        );
        assert_eq!(inline("a\rb\u{7f}\u{9b}2J"), "a\\rb\\x7F\\x9B2J");
        assert_eq!(inline("x\u{202E}gnp.exe"), "x\\u{202E}gnp.exe");
        assert_eq!(inline("two\nlines\tand a tab"), "two\\nlines\\tand a tab");
        assert!(matches!(inline("plain ünïcode"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_block_keeps_its_lines_indented_past_the_stamp() {
        assert_eq!(
            block("SELECT 1\n[+   1.000s] shop=> DROP TABLE x\u{1b}[0m"),
            "SELECT 1\n             [+   1.000s] shop=> DROP TABLE x\\x1B[0m"
        );
        assert_eq!(block("a\tb"), "a\tb");
    }
}
