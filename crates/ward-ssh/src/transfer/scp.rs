//! The legacy scp (rcp) protocol on an exec channel running `scp -t` or `scp -f`.

use super::*;

/// The legacy scp protocol (`scp -O`, rcp's) on an exec channel running
/// `scp -t TARGET` (the client uploads) or `scp -f SOURCE...` (the client
/// downloads).
///
/// Only the source stream is parsed: the client's data for `-t`, the host's
/// for `-f`. A file is `C<mode> <size> <name>` and a newline, `size` bytes,
/// and a `\0`; it is reported complete at that `\0`. `D<mode> 0 <name>`
/// enters a directory and `E` leaves it; `T` lines and `\x01`/`\x02` message
/// lines are ignored. A file followed by anything but `\0` (a source reports
/// a read error that way) is reported incomplete.
///
/// Paths: scp sends bare names, so the path is rebuilt from the command.
/// For `-t TARGET` it is TARGET, the directories entered and the name
/// joined by `/`; when TARGET names a file rather than a directory (a single
/// file copied to a new name), the host stores the file at TARGET itself,
/// but the recorded path still ends in the name sent. For `-f SOURCE` it is
/// SOURCE's parent directory, the directories entered and the name, which
/// for a single file is SOURCE itself. With several sources, the parent is
/// that of the source whose last component is the top-level name, if any.
pub struct Scp {
    direction: Direction,
    /// The target (`-t`) or the sources (`-f`).
    operands: Vec<String>,
    /// Directories entered by `D` lines.
    dirs: Vec<String>,
    /// The control line being reassembled.
    line: Vec<u8>,
    state: ScpState,
    lost: bool,
}

enum ScpState {
    /// Reading a control line.
    Line,
    /// Reading `left` bytes of a file.
    Content { content: Content, left: u64 },
    /// A file's bytes have all arrived; waiting for its `\0`.
    End(Content),
}

impl Scp {
    /// The scp protocol, if `command` (an exec request) runs scp in sink
    /// (`-t`) or source (`-f`) mode; `None` otherwise.
    pub fn from_command(command: &str) -> Option<Scp> {
        let words = shell_words(command);
        let (program, args) = words.split_first()?;
        if program.rsplit('/').next() != Some("scp") {
            return None;
        }
        let (mut sink, mut source) = (false, false);
        let mut operands = Vec::new();
        let mut options = true;
        for arg in args {
            if options && arg == "--" {
                options = false;
            } else if options && arg.len() > 1 && arg.starts_with('-') {
                sink |= arg.contains('t');
                source |= arg.contains('f');
            } else {
                options = false;
                operands.push(arg.clone());
            }
        }
        let direction = match (sink, source) {
            (true, false) if operands.len() == 1 => Direction::Upload,
            (false, true) if !operands.is_empty() => Direction::Download,
            _ => return None,
        };
        Some(Scp {
            direction,
            operands,
            dirs: Vec::new(),
            line: Vec::new(),
            state: ScpState::Line,
            lost: false,
        })
    }

    /// Upload for `-t`, download for `-f`.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Whether the parser gave up on this channel.
    pub fn lost(&self) -> bool {
        self.lost
    }

    /// Bytes of the source stream (the client's for `-t`, the host's for
    /// `-f`). Returns the transfers they complete.
    pub fn source(&mut self, mut data: &[u8]) -> Vec<FileEvent> {
        let mut events = Vec::new();
        while !data.is_empty() && !self.lost {
            match &mut self.state {
                ScpState::Line => {
                    let end = data.iter().position(|&b| b == b'\n');
                    let n = end.unwrap_or(data.len());
                    if self.line.len() + n > MAX_LINE {
                        self.give_up(&mut events);
                        break;
                    }
                    self.line.extend_from_slice(&data[..n]);
                    if end.is_none() {
                        break;
                    }
                    data = &data[n + 1..];
                    let line = std::mem::take(&mut self.line);
                    if self.control(&line).is_none() {
                        self.give_up(&mut events);
                    }
                    self.line = line;
                    self.line.clear();
                }
                ScpState::Content { content, left } => {
                    let n = data.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    content.absorb(&data[..n]);
                    *left -= n as u64;
                    data = &data[n..];
                    if *left == 0
                        && let ScpState::Content { content, .. } =
                            std::mem::replace(&mut self.state, ScpState::Line)
                    {
                        self.state = ScpState::End(content);
                    }
                }
                ScpState::End(_) => {
                    let complete = data[0] == 0;
                    if complete {
                        data = &data[1..];
                    }
                    if let ScpState::End(content) =
                        std::mem::replace(&mut self.state, ScpState::Line)
                    {
                        events.push(content.transfer(self.direction, complete));
                    }
                }
            }
        }
        events
    }

    /// The channel ended: a file still arriving is reported with
    /// `complete: false`.
    pub fn finish(&mut self) -> Vec<FileEvent> {
        let mut events = Vec::new();
        self.end_file(&mut events);
        self.line = Vec::new();
        self.dirs = Vec::new();
        events
    }

    fn end_file(&mut self, events: &mut Vec<FileEvent>) {
        match std::mem::replace(&mut self.state, ScpState::Line) {
            ScpState::Content { content, .. } | ScpState::End(content) => {
                events.push(content.transfer(self.direction, false));
            }
            ScpState::Line => {}
        }
    }

    fn give_up(&mut self, events: &mut Vec<FileEvent>) {
        self.lost = true;
        self.end_file(events);
        self.line = Vec::new();
        self.dirs = Vec::new();
    }

    /// Acts on a control line; `None` when it is malformed or too deep.
    fn control(&mut self, line: &[u8]) -> Option<()> {
        match line.first()? {
            b'C' | b'D' => {
                let (mode, rest) = split_space(&line[1..])?;
                let (size, name) = split_space(rest)?;
                if mode.is_empty() || !mode.iter().all(|b| (b'0'..=b'7').contains(b)) {
                    return None;
                }
                let size: u64 = std::str::from_utf8(size).ok()?.parse().ok()?;
                let name = text(name);
                if line[0] == b'D' {
                    if self.dirs.len() >= MAX_DEPTH {
                        return None;
                    }
                    self.dirs.push(name);
                } else {
                    let content = Content::new(self.path(&name));
                    self.state = if size == 0 {
                        ScpState::End(content)
                    } else {
                        ScpState::Content {
                            content,
                            left: size,
                        }
                    };
                }
            }
            b'E' => {
                self.dirs.pop();
            }
            b'T' | 1 | 2 => {}
            _ => return None,
        }
        Some(())
    }

    /// The path of a file named `name` in the current directory.
    fn path(&self, name: &str) -> String {
        let base = match (self.direction, self.operands.as_slice()) {
            (Direction::Upload, [target, ..]) => target.as_str(),
            (_, [source]) => parent(source),
            (_, sources) => {
                let top = self.dirs.first().map_or(name, String::as_str);
                sources
                    .iter()
                    .find(|s| s.trim_end_matches('/').rsplit('/').next() == Some(top))
                    .map_or("", |s| parent(s))
            }
        };
        let mut path = base.to_owned();
        for part in self.dirs.iter().map(String::as_str).chain([name]) {
            if !path.is_empty() && !path.ends_with('/') {
                path.push('/');
            }
            path.push_str(part);
        }
        path
    }
}

/// Splits at the first space.
fn split_space(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&b| b == b' ')?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

/// The directory holding `path`: `""` for a bare name.
fn parent(path: &str) -> &str {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) => "/",
        Some((dir, _)) => dir,
        None => "",
    }
}

/// Words of a shell command line, with quotes and backslashes undone. Other
/// shell syntax is taken literally.
fn shell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                word.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => word.push('\\'),
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next().filter(|&c| c != '\n'));
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}
