//! The lines a client sends on the stdin of a channel without a terminal (`ssh -T host`,
//! `ssh host bash -s < script`), checked against the guardrails' patterns before they reach the
//! host.
//!
//! A line goes on only once it is whole and allowed: the bytes after the last newline are held
//! back, so the host never sees the start of a line that turns out to be denied (a shell runs a
//! partial line when its input ends). A run of more than [`MAX_LINE`] bytes without a newline is
//! not a command line: it goes on unchecked, as binary data does. Every byte is recorded in
//! any case (`term.input`, `stream: stdin`).

/// The longest line held back for checking.
pub(crate) const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Default)]
pub(crate) struct Lines {
    held: Vec<u8>,
}

impl Lines {
    /// Takes `data`; returns the bytes to send on now and, when `allowed` refused a line, that
    /// line (nothing from it on is returned: the caller ends the input there).
    pub fn feed(
        &mut self,
        data: &[u8],
        mut allowed: impl FnMut(&[u8]) -> bool,
    ) -> (Vec<u8>, Option<Vec<u8>>) {
        let mut send = Vec::with_capacity(data.len() + self.held.len());
        let mut rest = data;
        while let Some(at) = rest.iter().position(|b| *b == b'\n') {
            let (head, tail) = rest.split_at(at + 1);
            self.held.extend_from_slice(head);
            let line = std::mem::take(&mut self.held);
            if !allowed(&line) {
                return (send, Some(line));
            }
            send.extend_from_slice(&line);
            rest = tail;
        }
        self.held.extend_from_slice(rest);
        if self.held.len() > MAX_LINE {
            send.append(&mut self.held);
        }
        (send, None)
    }

    /// At the end of the input: the last line, unterminated, checked like the others.
    pub fn finish(&mut self, allowed: impl FnOnce(&[u8]) -> bool) -> (Vec<u8>, Option<Vec<u8>>) {
        let line = std::mem::take(&mut self.held);
        if line.is_empty() || allowed(&line) {
            (line, None)
        } else {
            (Vec::new(), Some(line))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_rm(line: &[u8]) -> bool {
        !String::from_utf8_lossy(line).contains("rm -rf")
    }

    #[test]
    fn whole_lines_go_on_and_a_partial_one_waits() {
        let mut lines = Lines::default();
        let (send, denied) = lines.feed(b"echo one\necho tw", no_rm);
        assert_eq!((send.as_slice(), denied), (&b"echo one\n"[..], None));
        let (send, denied) = lines.feed(b"o\n", no_rm);
        assert_eq!((send.as_slice(), denied), (&b"echo two\n"[..], None));
        assert_eq!(lines.finish(no_rm), (Vec::new(), None));
    }

    #[test]
    fn a_denied_line_split_across_chunks_never_reaches_the_host() {
        let mut lines = Lines::default();
        let (send, denied) = lines.feed(b"ls\nrm -r", no_rm);
        assert_eq!((send.as_slice(), denied), (&b"ls\n"[..], None));
        let (send, denied) = lines.feed(b"f /srv\necho after\n", no_rm);
        assert!(send.is_empty());
        assert_eq!(denied.as_deref(), Some(&b"rm -rf /srv\n"[..]));
        // An unterminated last line is checked at the end of the input.
        let mut lines = Lines::default();
        let _ = lines.feed(b"rm -rf /", no_rm);
        assert_eq!(
            lines.finish(no_rm),
            (Vec::new(), Some(b"rm -rf /".to_vec()))
        );
    }

    #[test]
    fn a_long_run_without_newline_goes_on_unchecked() {
        let mut lines = Lines::default();
        let blob = vec![0u8; MAX_LINE + 1];
        let (send, denied) = lines.feed(&blob, |_| false);
        assert_eq!((send.len(), denied), (MAX_LINE + 1, None));
    }
}
