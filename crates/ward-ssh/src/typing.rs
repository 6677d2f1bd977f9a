//! What a person types into a terminal, line by line, and whether the terminal echoed it.
//!
//! Ward does not see the host's terminal settings, so it judges echo by what comes back: a
//! line is recorded only if the characters typed came back in the output (as a subsequence: a
//! shell's line editor may add colour or redraw) before the next newline in the output. A
//! password typed at a prompt with echo off never comes back, so it is recorded only as
//! "hidden" with its length. A line typed after a prompt that asks for a password, passphrase
//! or PIN is hidden whatever the echo. When in doubt (type-ahead while a command still prints,
//! more lines queued than Ward follows) a line is hidden: the rule errs towards not storing.

use std::collections::VecDeque;

/// Lines typed ahead of their echo that are followed; more are hidden.
const MAX_QUEUED: usize = 64;
/// Output kept while lines wait for their echo; more decides them.
const MAX_ECHO: usize = 64 * 1024;
/// Longest line kept; the rest is cut (and the line marked `truncated`).
const MAX_LINE: usize = 4096;
/// Output kept as the prompt of the next line.
const MAX_PROMPT: usize = 256;

/// A line the person typed, decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedLine {
    /// What was typed (after backspaces), or `None` when the terminal did not echo it.
    pub text: Option<String>,
    /// Bytes typed for the line, including edits.
    pub bytes: usize,
    /// Cursor keys, tab completion or history were used: the line run may differ from `text`
    /// (the output shows what ran).
    pub edited: bool,
    pub truncated: bool,
}

#[derive(Debug, Default)]
struct Line {
    text: Vec<u8>,
    bytes: usize,
    edited: bool,
    truncated: bool,
    /// Typed after a prompt asking for a secret.
    secret_prompt: bool,
}

/// Follows one terminal's input and output.
#[derive(Debug, Default)]
pub struct Typing {
    current: Line,
    /// Lines ended by Enter, waiting for their echo, oldest first.
    queued: VecDeque<Line>,
    /// Output since the oldest queued (or the current) line's first keystroke.
    echo: Vec<u8>,
    /// Output before the current line's first keystroke: its prompt.
    prompt: Vec<u8>,
    /// Inside an escape sequence the client sent (cursor keys).
    escape: bool,
}

impl Typing {
    /// What the client sent. Returns the line typed so far each time Enter is pressed (for
    /// guardrails: `(index in data of the Enter, the line's text)`), and the lines decided.
    pub fn input(&mut self, data: &[u8]) -> (Vec<(usize, Vec<u8>)>, Vec<TypedLine>) {
        let mut entered = Vec::new();
        let mut decided = Vec::new();
        for (i, &b) in data.iter().enumerate() {
            if self.current.bytes == 0 && self.queued.is_empty() {
                self.echo.clear();
                self.current.secret_prompt = asks_for_secret(&self.prompt);
            }
            self.current.bytes += 1;
            if self.escape {
                // CSI sequences end with a byte in 0x40..=0x7e after the parameters.
                if (0x40..=0x7e).contains(&b) && b != b'[' && b != b'O' {
                    self.escape = false;
                }
                continue;
            }
            match b {
                b'\r' | b'\n' => {
                    let line = std::mem::take(&mut self.current);
                    entered.push((i, line.text.clone()));
                    if self.queued.len() == MAX_QUEUED {
                        decided.extend(self.queued.drain(..).map(hidden));
                    }
                    self.queued.push_back(line);
                }
                0x7f | 0x08 => {
                    self.current.text.pop();
                }
                0x15 | 0x03 => {
                    // Ctrl-U clears the line; Ctrl-C abandons it.
                    self.current.text.clear();
                }
                0x17 => {
                    // Ctrl-W: the last word.
                    while self.current.text.last() == Some(&b' ') {
                        self.current.text.pop();
                    }
                    while self.current.text.last().is_some_and(|&c| c != b' ') {
                        self.current.text.pop();
                    }
                }
                0x1b => {
                    self.escape = true;
                    self.current.edited = true;
                }
                b'\t' => self.current.edited = true,
                0x00..=0x1f => {}
                _ if self.current.text.len() < MAX_LINE => self.current.text.push(b),
                _ => self.current.truncated = true,
            }
        }
        (entered, decided)
    }

    /// What the host sent to the terminal. Returns the lines this decides.
    pub fn output(&mut self, data: &[u8]) -> Vec<TypedLine> {
        if self.current.bytes == 0 && self.queued.is_empty() {
            self.prompt.extend_from_slice(data);
            let cut = self.prompt.len().saturating_sub(MAX_PROMPT);
            self.prompt.drain(..cut);
            return Vec::new();
        }
        self.echo.extend_from_slice(data);
        let mut decided = Vec::new();
        if self.echo.len() > MAX_ECHO {
            decided.extend(self.queued.drain(..).map(hidden));
            self.echo.clear();
            return decided;
        }
        // The oldest queued line is decided once a newline follows its echo (or would have).
        while let Some(line) = self.queued.front() {
            let end = find_subsequence(&self.echo, &line.text).unwrap_or_default();
            let Some(nl) = self.echo[end..].iter().position(|&c| c == b'\n') else {
                break;
            };
            let echoed = end > 0 || line.text.is_empty();
            let line = self.queued.pop_front().unwrap_or_default();
            decided.push(if echoed && !line.secret_prompt {
                shown(line)
            } else {
                hidden(line)
            });
            self.echo.drain(..end + nl + 1);
        }
        if self.queued.is_empty() && self.current.bytes == 0 {
            // What follows the last decided line is the next prompt.
            self.prompt = std::mem::take(&mut self.echo);
            let cut = self.prompt.len().saturating_sub(MAX_PROMPT);
            self.prompt.drain(..cut);
        }
        decided
    }

    /// The terminal closed: lines still waiting are decided on the echo seen so far.
    pub fn finish(&mut self) -> Vec<TypedLine> {
        let mut decided = Vec::new();
        while let Some(line) = self.queued.pop_front() {
            match find_subsequence(&self.echo, &line.text) {
                Some(end) if end > 0 && !line.secret_prompt => {
                    self.echo.drain(..end);
                    decided.push(shown(line));
                }
                _ => decided.push(hidden(line)),
            }
        }
        decided
    }
}

fn shown(line: Line) -> TypedLine {
    TypedLine {
        text: Some(String::from_utf8_lossy(&line.text).into_owned()),
        bytes: line.bytes,
        edited: line.edited,
        truncated: line.truncated,
    }
}

fn hidden(line: Line) -> TypedLine {
    TypedLine {
        text: None,
        bytes: line.bytes,
        edited: line.edited,
        truncated: line.truncated,
    }
}

/// Where `needle` ends as a subsequence of `hay` (0 for an empty needle), if it is one.
fn find_subsequence(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut want = needle.iter().peekable();
    for (i, c) in hay.iter().enumerate() {
        if want.peek().is_none() {
            return Some(i);
        }
        if want.peek() == Some(&c) {
            want.next();
            if want.peek().is_none() {
                return Some(i + 1);
            }
        }
    }
    want.peek().is_none().then_some(hay.len())
}

/// Whether the last line of `prompt` asks for a secret.
fn asks_for_secret(prompt: &[u8]) -> bool {
    let last = prompt
        .rsplit(|&c| c == b'\n')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let last = String::from_utf8_lossy(&last);
    [
        "password",
        "passphrase",
        "passcode",
        "pin:",
        "secret",
        "token",
    ]
    .iter()
    .any(|w| last.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[TypedLine]) -> Vec<Option<&str>> {
        lines.iter().map(|l| l.text.as_deref()).collect()
    }

    #[test]
    fn an_echoed_command_is_recorded_once_its_echo_and_newline_came_back() {
        let mut t = Typing::default();
        assert!(t.output(b"root@web1:~# ").is_empty());
        let (entered, decided) = t.input(b"ls -l");
        assert!(entered.is_empty() && decided.is_empty());
        assert!(t.output(b"ls -l").is_empty());
        let (entered, _) = t.input(b"\r");
        assert_eq!(entered, vec![(0, b"ls -l".to_vec())]);
        let decided = t.output(b"\r\ntotal 0\r\nroot@web1:~# ");
        assert_eq!(texts(&decided), vec![Some("ls -l")]);
    }

    #[test]
    fn a_password_typed_without_echo_is_hidden() {
        let mut t = Typing::default();
        t.output(b"$ ");
        t.input(b"su -\r");
        let decided = t.output(b"su -\r\nPassword: ");
        assert_eq!(texts(&decided), vec![Some("su -")]);
        t.input(b"hunter22\r");
        let decided = t.output(b"\r\nroot# ");
        assert_eq!(texts(&decided), vec![None]);
        assert_eq!(decided[0].bytes, 9);
    }

    #[test]
    fn a_line_after_a_password_prompt_is_hidden_even_if_echoed() {
        let mut t = Typing::default();
        t.output(b"Enter passphrase for key: ");
        t.input(b"abc\r");
        assert_eq!(texts(&t.output(b"abc\r\n")), vec![None]);
    }

    #[test]
    fn pasted_lines_wait_for_their_echo_in_order() {
        let mut t = Typing::default();
        t.output(b"$ ");
        let (entered, _) = t.input(b"echo a\nexit\n");
        assert_eq!(entered.len(), 2);
        let decided = t.output(b"echo a\r\na\r\n$ exit\r\n");
        assert_eq!(texts(&decided), vec![Some("echo a"), Some("exit")]);
    }

    #[test]
    fn backspace_and_control_keys_edit_the_line() {
        let mut t = Typing::default();
        t.output(b"$ ");
        t.input(b"lsx\x7f -a\x1b[D\r");
        let decided = t.output(b"ls -a\r\n");
        assert_eq!(texts(&decided), vec![Some("ls -a")]);
        assert!(decided[0].edited);
    }

    #[test]
    fn lines_still_waiting_at_the_end_are_decided_on_what_came_back() {
        let mut t = Typing::default();
        t.output(b"$ ");
        t.input(b"exit\r");
        t.output(b"exit");
        assert_eq!(texts(&t.finish()), vec![Some("exit")]);
        let mut t = Typing::default();
        t.input(b"secret\r");
        assert_eq!(texts(&t.finish()), vec![None]);
    }

    #[test]
    fn any_input_is_handled_without_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut t = Typing::default();
        for _ in 0..5000 {
            let mut chunk = Vec::new();
            for _ in 0..(x % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.push((x >> 24) as u8);
            }
            if x.is_multiple_of(2) {
                t.input(&chunk);
            } else {
                t.output(&chunk);
            }
        }
        t.finish();
    }
}
