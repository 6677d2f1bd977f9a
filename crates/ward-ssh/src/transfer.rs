//! Files moved through SSH channels, seen in the relayed bytes.
//!
//! Ward relays channel data between client and host unchanged. The parsers
//! here watch that data, in whatever chunks it arrives, and report each file
//! moved by SFTP ([`Sftp`]) or by the legacy scp protocol ([`Scp`]) as a
//! [`Transfer`], with other file operations as [`FileEvent::Op`].
//!
//! File data is hashed as it passes and never buffered. Everything else is
//! bounded: a packet or line being reassembled, the open files and the
//! requests awaiting an answer. A peer that exceeds a bound, or breaks the
//! framing, makes the parser give up for the rest of the channel: it reports
//! its open files as incomplete and ignores all further data
//! ([`Sftp::lost`], [`Scp::lost`]). Nothing here panics on any input.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// The largest SFTP packet accepted. OpenSSH sends at most 256 KiB.
const MAX_PACKET: usize = 1 << 20;
/// Files open at once (SFTP handles) before the parser gives up.
const MAX_OPEN: usize = 1024;
/// Requests awaiting an answer before the parser gives up.
const MAX_PENDING: usize = 1024;
/// The longest SFTP handle tracked; the protocol allows 256 bytes.
const MAX_HANDLE: usize = 256;
/// Paths and names are kept to this many bytes.
const MAX_NAME: usize = 4096;
/// The longest scp control line accepted.
const MAX_LINE: usize = 8192;
/// The deepest scp directory nesting accepted.
const MAX_DEPTH: usize = 256;

/// Which way a file moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the client to the host.
    Upload,
    /// From the host to the client.
    Download,
}

impl Direction {
    /// `"upload"` or `"download"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upload => "upload",
            Direction::Download => "download",
        }
    }
}

/// One file moved, reported when it is closed (or when the channel ends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// The path as the client named it (lossy UTF-8, at most 4096 bytes).
    pub path: String,
    /// Which way the bytes moved.
    pub direction: Direction,
    /// The number of bytes moved.
    pub size: u64,
    /// SHA-256 of the bytes moved, or `None` when they did not arrive as one
    /// contiguous sequence from offset 0 (resumed, out-of-order or sparse
    /// transfers), where a hash would be meaningless.
    pub sha256: Option<[u8; 32]>,
    /// False when the channel ended, or the parser gave up, before the file
    /// was closed.
    pub complete: bool,
}

/// Something done to files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileEvent {
    /// A file moved.
    Transfer(Transfer),
    /// Another file operation, recorded when the client requests it (whether
    /// or not the host then succeeds): `op` is `"remove"`, `"rename"`,
    /// `"mkdir"`, `"rmdir"`, `"list"` (open a directory), `"setstat"`,
    /// `"symlink"` or `"link"` (a hard link). `target` is set for rename,
    /// symlink and link.
    Op {
        /// What was done.
        op: &'static str,
        /// The path operated on, as the client named it.
        path: String,
        /// The second path of a rename, symlink or link.
        target: Option<String>,
    },
}

/// Bytes moved for one file, hashed as they pass.
struct Content {
    path: String,
    size: u64,
    hasher: Option<Sha256>,
}

impl Content {
    fn new(path: String) -> Content {
        Content {
            path,
            size: 0,
            hasher: Some(Sha256::new()),
        }
    }

    fn absorb(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len() as u64);
        if let Some(hasher) = &mut self.hasher {
            hasher.update(bytes);
        }
    }

    fn transfer(self, direction: Direction, complete: bool) -> FileEvent {
        FileEvent::Transfer(Transfer {
            path: self.path,
            direction,
            size: self.size,
            sha256: self.hasher.map(|hasher| hasher.finalize().into()),
            complete,
        })
    }
}

/// Text from protocol bytes: lossy UTF-8, at most `MAX_NAME` bytes.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_NAME)]).into_owned()
}

// SFTP packet types (draft-ietf-secsh-filexfer-02).
const SSH_FXP_OPEN: u8 = 3;
const SSH_FXP_CLOSE: u8 = 4;
const SSH_FXP_READ: u8 = 5;
const SSH_FXP_WRITE: u8 = 6;
const SSH_FXP_SETSTAT: u8 = 9;
const SSH_FXP_OPENDIR: u8 = 11;
const SSH_FXP_REMOVE: u8 = 13;
const SSH_FXP_MKDIR: u8 = 14;
const SSH_FXP_RMDIR: u8 = 15;
const SSH_FXP_RENAME: u8 = 18;
const SSH_FXP_SYMLINK: u8 = 20;
const SSH_FXP_STATUS: u8 = 101;
const SSH_FXP_HANDLE: u8 = 102;
const SSH_FXP_DATA: u8 = 103;
const SSH_FXP_EXTENDED: u8 = 200;

// OPEN flags.
const SSH_FXF_WRITE: u32 = 0x2;
const SSH_FXF_CREAT: u32 = 0x8;
const SSH_FXF_TRUNC: u32 = 0x10;

/// Length and type: the first bytes of every packet.
const PACKET_HEAD: usize = 5;
/// Length, type, request id and one uint32: enough of a STATUS, of a DATA
/// up to its payload, and of a WRITE up to its handle.
const PACKET_HEAD_ID_U32: usize = 13;

/// SFTP (version 3, draft-ietf-secsh-filexfer-02, what OpenSSH speaks) on an
/// `sftp` subsystem channel.
///
/// A file is opened by OPEN and the host's HANDLE answer, matched by request
/// id. Bytes written by WRITE, and read by READ and the host's DATA answer
/// (matched by request id), are counted and hashed. A transfer is reported
/// when the client sends CLOSE for the handle, without waiting for the host's
/// status, and complete; files still open when the channel ends are reported
/// incomplete by [`Sftp::finish`].
///
/// A file is reported if any READ or WRITE was requested on it, or if it was
/// opened for writing with CREAT or TRUNC (an empty upload). Files opened and
/// closed without either, such as a read-open that reads nothing, are not.
/// The direction is that of the first data moved; a file with no data moved
/// is an upload if opened for writing, else a download. A file both read and
/// written gets no hash. The hash is of the bytes moved in offset order from
/// 0, which is the file's content when it was created or truncated.
pub struct Sftp {
    client: Framer,
    host: Framer,
    /// Open files by handle.
    files: HashMap<Vec<u8>, SftpFile>,
    /// OPEN and READ requests awaiting the host's answer, by request id.
    pending: HashMap<u32, Pending>,
    lost: bool,
}

#[derive(Clone, Copy)]
enum Side {
    Client,
    Host,
}

/// Packet reassembly for one direction.
struct Framer {
    /// The packet's first bytes, buffered until they can be acted on.
    head: Vec<u8>,
    /// How many bytes `head` must hold before acting.
    need: usize,
    stage: Stage,
}

enum Stage {
    /// Filling `head`.
    Head,
    /// Streaming `left` bytes of file data for `handle`, then skipping
    /// `after` bytes.
    Data {
        handle: Vec<u8>,
        left: usize,
        after: usize,
    },
    /// Skipping the rest of a packet.
    Skip(usize),
}

impl Framer {
    fn new() -> Framer {
        Framer {
            head: Vec::new(),
            need: PACKET_HEAD,
            stage: Stage::Head,
        }
    }

    /// Moves on from a finished stage: data to its trailing skip, a finished
    /// skip to the next packet.
    fn settle(&mut self) {
        if let Stage::Data { left: 0, after, .. } = self.stage {
            self.stage = Stage::Skip(after);
        }
        if let Stage::Skip(0) = self.stage {
            self.head.clear();
            if self.head.capacity() > 64 * 1024 {
                self.head = Vec::new();
            }
            self.need = PACKET_HEAD;
            self.stage = Stage::Head;
        }
    }
}

/// What to do with the rest of a packet once its head is read.
enum Next {
    /// Buffer the head up to this many bytes first.
    More(usize),
    Skip,
    /// Stream `len` bytes of data for `handle`, then skip the rest.
    Data {
        handle: Vec<u8>,
        len: usize,
    },
    GiveUp,
}

enum Pending {
    Open { path: String, pflags: u32 },
    Read { handle: Vec<u8>, offset: u64 },
}

struct SftpFile {
    content: Content,
    pflags: u32,
    /// The direction of the first data moved.
    direction: Option<Direction>,
    /// The offset the next data must have to keep the hash meaningful.
    next: u64,
    /// Whether a READ or WRITE was requested.
    touched: bool,
}

impl SftpFile {
    /// Data of `len` bytes at `offset` is about to pass in `direction`.
    fn begin(&mut self, direction: Direction, offset: u64, len: usize) {
        self.touched = true;
        if offset != self.next || self.direction.is_some_and(|d| d != direction) {
            self.content.hasher = None;
        }
        self.direction.get_or_insert(direction);
        self.next = offset.saturating_add(len as u64);
    }

    fn report(self, complete: bool) -> Option<FileEvent> {
        let write = self.pflags & SSH_FXF_WRITE != 0;
        let created = write && self.pflags & (SSH_FXF_CREAT | SSH_FXF_TRUNC) != 0;
        if !self.touched && !created {
            return None;
        }
        let fallback = if write {
            Direction::Upload
        } else {
            Direction::Download
        };
        let direction = self.direction.unwrap_or(fallback);
        Some(self.content.transfer(direction, complete))
    }
}

/// Reads SFTP fields from a buffered packet.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(taken)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_be_bytes)
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()?;
        self.take(usize::try_from(len).ok()?)
    }

    fn text(&mut self) -> Option<String> {
        self.string().map(text)
    }
}

fn op(op: &'static str, path: String, target: Option<String>) -> FileEvent {
    FileEvent::Op { op, path, target }
}

impl Default for Sftp {
    fn default() -> Self {
        Sftp::new()
    }
}

impl Sftp {
    /// A parser for a new channel.
    pub fn new() -> Sftp {
        Sftp {
            client: Framer::new(),
            host: Framer::new(),
            files: HashMap::new(),
            pending: HashMap::new(),
            lost: false,
        }
    }

    /// Whether the parser gave up on this channel.
    pub fn lost(&self) -> bool {
        self.lost
    }

    /// Bytes the client sent (requests). Returns the events they complete:
    /// a CLOSE's transfer, or an operation such as REMOVE.
    pub fn client(&mut self, data: &[u8]) -> Vec<FileEvent> {
        self.feed(Side::Client, data)
    }

    /// Bytes the host sent (responses: HANDLE, DATA and STATUS matter).
    /// Returns the events they complete, which is none unless the parser
    /// gives up or the host reuses a handle of a file never closed.
    pub fn host(&mut self, data: &[u8]) -> Vec<FileEvent> {
        self.feed(Side::Host, data)
    }

    /// The channel ended: every file still open is reported with
    /// `complete: false`.
    pub fn finish(&mut self) -> Vec<FileEvent> {
        self.client = Framer::new();
        self.host = Framer::new();
        self.pending.clear();
        self.drain()
    }

    /// Reports every open file as incomplete, in path order.
    fn drain(&mut self) -> Vec<FileEvent> {
        let mut files: Vec<SftpFile> = self.files.drain().map(|(_, file)| file).collect();
        files.sort_by(|a, b| a.content.path.cmp(&b.content.path));
        files.into_iter().filter_map(|f| f.report(false)).collect()
    }

    fn framer(&mut self, side: Side) -> &mut Framer {
        match side {
            Side::Client => &mut self.client,
            Side::Host => &mut self.host,
        }
    }

    fn feed(&mut self, side: Side, mut data: &[u8]) -> Vec<FileEvent> {
        let mut events = Vec::new();
        while !data.is_empty() && !self.lost {
            let framer = match side {
                Side::Client => &mut self.client,
                Side::Host => &mut self.host,
            };
            match &mut framer.stage {
                Stage::Skip(left) => {
                    let n = (*left).min(data.len());
                    *left -= n;
                    data = &data[n..];
                }
                Stage::Data { handle, left, .. } => {
                    let n = (*left).min(data.len());
                    if let Some(file) = self.files.get_mut(handle.as_slice()) {
                        file.content.absorb(&data[..n]);
                    }
                    *left -= n;
                    data = &data[n..];
                }
                Stage::Head => {
                    let n = (framer.need - framer.head.len()).min(data.len());
                    framer.head.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    if framer.head.len() < framer.need {
                        continue;
                    }
                    let head = std::mem::take(&mut framer.head);
                    let (next, total) = self.packet(side, &head, &mut events);
                    let framer = self.framer(side);
                    let rest = total.saturating_sub(head.len());
                    framer.head = head;
                    match next {
                        Next::More(need) => framer.need = need,
                        Next::Skip => framer.stage = Stage::Skip(rest),
                        Next::Data { handle, len } => {
                            framer.stage = Stage::Data {
                                handle,
                                left: len,
                                after: rest.saturating_sub(len),
                            }
                        }
                        Next::GiveUp => {
                            self.lost = true;
                            self.client = Framer::new();
                            self.host = Framer::new();
                            self.pending.clear();
                            events.extend(self.drain());
                            break;
                        }
                    }
                }
            }
            self.framer(side).settle();
        }
        events
    }

    /// Acts on a packet's buffered head; also returns the packet's total
    /// length.
    fn packet(&mut self, side: Side, head: &[u8], events: &mut Vec<FileEvent>) -> (Next, usize) {
        let mut r = Reader(head);
        let Some(len) = r.u32().and_then(|len| usize::try_from(len).ok()) else {
            return (Next::GiveUp, 0);
        };
        if len == 0 || len > MAX_PACKET {
            return (Next::GiveUp, 0);
        }
        let total = len + 4;
        let Some(&kind) = r.take(1).and_then(|b| b.first()) else {
            return (Next::GiveUp, 0);
        };
        let need = match side {
            Side::Client => request_need(kind, head),
            Side::Host => response_need(kind),
        }
        .min(total);
        if need > head.len() {
            return (Next::More(need), total);
        }
        let rest = total - head.len();
        let next = match side {
            Side::Client => self.request(kind, r, rest, events),
            Side::Host => self.response(kind, r, rest, events),
        };
        (next.unwrap_or(Next::Skip), total)
    }

    /// Records a request awaiting its answer.
    fn expect(&mut self, id: u32, pending: Pending) -> Next {
        if self.pending.len() >= MAX_PENDING && !self.pending.contains_key(&id) {
            return Next::GiveUp;
        }
        self.pending.insert(id, pending);
        Next::Skip
    }

    /// Acts on a client request; `None` when it is malformed or of no
    /// interest.
    fn request(
        &mut self,
        kind: u8,
        mut r: Reader<'_>,
        rest: usize,
        events: &mut Vec<FileEvent>,
    ) -> Option<Next> {
        let id = r.u32()?;
        match kind {
            SSH_FXP_OPEN => {
                let path = r.text()?;
                let pflags = r.u32()?;
                return Some(self.expect(id, Pending::Open { path, pflags }));
            }
            SSH_FXP_READ => {
                let handle = r.string()?;
                let offset = r.u64()?;
                self.files.get_mut(handle)?.touched = true;
                let handle = handle.to_vec();
                return Some(self.expect(id, Pending::Read { handle, offset }));
            }
            SSH_FXP_WRITE => {
                let handle = r.string()?;
                let offset = r.u64()?;
                let len = usize::try_from(r.u32()?).ok()?;
                if !r.0.is_empty() || len > rest {
                    return None;
                }
                let file = self.files.get_mut(handle)?;
                file.begin(Direction::Upload, offset, len);
                let handle = handle.to_vec();
                return Some(Next::Data { handle, len });
            }
            SSH_FXP_CLOSE => {
                let file = self.files.remove(r.string()?)?;
                events.extend(file.report(true));
            }
            SSH_FXP_OPENDIR => events.push(op("list", r.text()?, None)),
            SSH_FXP_REMOVE => events.push(op("remove", r.text()?, None)),
            SSH_FXP_MKDIR => events.push(op("mkdir", r.text()?, None)),
            SSH_FXP_RMDIR => events.push(op("rmdir", r.text()?, None)),
            SSH_FXP_SETSTAT => events.push(op("setstat", r.text()?, None)),
            // SYMLINK's paths are recorded in the order sent. OpenSSH sends
            // the link's target first, the reverse of the draft.
            SSH_FXP_RENAME | SSH_FXP_SYMLINK => {
                let name = if kind == SSH_FXP_RENAME {
                    "rename"
                } else {
                    "symlink"
                };
                let path = r.text()?;
                let target = r.text()?;
                events.push(op(name, path, Some(target)));
            }
            SSH_FXP_EXTENDED => {
                let name = match r.string()? {
                    b"posix-rename@openssh.com" => "rename",
                    b"hardlink@openssh.com" => "link",
                    b"lsetstat@openssh.com" => {
                        events.push(op("setstat", r.text()?, None));
                        return None;
                    }
                    _ => return None,
                };
                let path = r.text()?;
                let target = r.text()?;
                events.push(op(name, path, Some(target)));
            }
            _ => {}
        }
        None
    }

    /// Acts on a host response; `None` when it is malformed or of no
    /// interest.
    fn response(
        &mut self,
        kind: u8,
        mut r: Reader<'_>,
        rest: usize,
        events: &mut Vec<FileEvent>,
    ) -> Option<Next> {
        let id = r.u32()?;
        match kind {
            SSH_FXP_STATUS => {
                self.pending.remove(&id);
            }
            SSH_FXP_HANDLE => {
                let handle = r.string()?;
                let Some(Pending::Open { path, pflags }) = self.pending.remove(&id) else {
                    return None;
                };
                if handle.len() > MAX_HANDLE {
                    return None;
                }
                if self.files.len() >= MAX_OPEN && !self.files.contains_key(handle) {
                    return Some(Next::GiveUp);
                }
                let file = SftpFile {
                    content: Content::new(path),
                    pflags,
                    direction: None,
                    next: 0,
                    touched: false,
                };
                // A handle reused without a CLOSE seen: the old file ends.
                if let Some(old) = self.files.insert(handle.to_vec(), file) {
                    events.extend(old.report(false));
                }
            }
            SSH_FXP_DATA => {
                let len = usize::try_from(r.u32()?).ok()?;
                let Some(Pending::Read { handle, offset }) = self.pending.remove(&id) else {
                    return None;
                };
                if len > rest {
                    return None;
                }
                let file = self.files.get_mut(&handle)?;
                file.begin(Direction::Download, offset, len);
                return Some(Next::Data { handle, len });
            }
            _ => {}
        }
        None
    }
}

/// How much of a client packet to buffer before acting on it.
fn request_need(kind: u8, head: &[u8]) -> usize {
    match kind {
        // Up to the data: length, type, id, handle, offset, data length.
        SSH_FXP_WRITE => match head.get(9..13).and_then(|b| b.try_into().ok()) {
            Some(len) => usize::try_from(u32::from_be_bytes(len)).map_or(usize::MAX, |len| {
                PACKET_HEAD_ID_U32 + len.saturating_add(12)
            }),
            None => PACKET_HEAD_ID_U32,
        },
        SSH_FXP_OPEN | SSH_FXP_CLOSE | SSH_FXP_READ | SSH_FXP_SETSTAT | SSH_FXP_OPENDIR
        | SSH_FXP_REMOVE | SSH_FXP_MKDIR | SSH_FXP_RMDIR | SSH_FXP_RENAME | SSH_FXP_SYMLINK
        | SSH_FXP_EXTENDED => usize::MAX,
        _ => PACKET_HEAD,
    }
}

/// How much of a host packet to buffer before acting on it.
fn response_need(kind: u8) -> usize {
    match kind {
        SSH_FXP_STATUS | SSH_FXP_DATA => PACKET_HEAD_ID_U32,
        SSH_FXP_HANDLE => usize::MAX,
        _ => PACKET_HEAD,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const READ: u32 = 0x1;
    const WRITE: u32 = SSH_FXF_WRITE;
    const NEW: u32 = SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC;

    fn u32b(x: u32) -> Vec<u8> {
        x.to_be_bytes().to_vec()
    }

    fn u64b(x: u64) -> Vec<u8> {
        x.to_be_bytes().to_vec()
    }

    fn s(bytes: &[u8]) -> Vec<u8> {
        let mut v = u32b(u32::try_from(bytes.len()).expect("short string"));
        v.extend_from_slice(bytes);
        v
    }

    fn pkt(kind: u8, fields: &[Vec<u8>]) -> Vec<u8> {
        let body = fields.concat();
        let mut v = u32b(u32::try_from(body.len() + 1).expect("short packet"));
        v.push(kind);
        v.extend(body);
        v
    }

    fn init() -> Vec<u8> {
        pkt(1, &[u32b(3)])
    }

    fn version() -> Vec<u8> {
        pkt(2, &[u32b(3), s(b"posix-rename@openssh.com"), s(b"1")])
    }

    /// ATTRS with size and permissions, to be skipped.
    fn attrs() -> Vec<u8> {
        [u32b(0x5), u64b(1234), u32b(0o644)].concat()
    }

    fn open(id: u32, path: &str, pflags: u32) -> Vec<u8> {
        pkt(
            SSH_FXP_OPEN,
            &[u32b(id), s(path.as_bytes()), u32b(pflags), attrs()],
        )
    }

    fn handle(id: u32, h: &[u8]) -> Vec<u8> {
        pkt(SSH_FXP_HANDLE, &[u32b(id), s(h)])
    }

    fn write(id: u32, h: &[u8], offset: u64, bytes: &[u8]) -> Vec<u8> {
        pkt(SSH_FXP_WRITE, &[u32b(id), s(h), u64b(offset), s(bytes)])
    }

    fn read(id: u32, h: &[u8], offset: u64, len: u32) -> Vec<u8> {
        pkt(SSH_FXP_READ, &[u32b(id), s(h), u64b(offset), u32b(len)])
    }

    fn data(id: u32, bytes: &[u8]) -> Vec<u8> {
        pkt(SSH_FXP_DATA, &[u32b(id), s(bytes)])
    }

    fn status(id: u32, code: u32) -> Vec<u8> {
        pkt(SSH_FXP_STATUS, &[u32b(id), u32b(code), s(b"msg"), s(b"en")])
    }

    fn close(id: u32, h: &[u8]) -> Vec<u8> {
        pkt(SSH_FXP_CLOSE, &[u32b(id), s(h)])
    }

    fn path_op(kind: u8, id: u32, path: &str) -> Vec<u8> {
        pkt(kind, &[u32b(id), s(path.as_bytes()), attrs()])
    }

    fn two_paths(kind: u8, id: u32, a: &str, b: &str) -> Vec<u8> {
        pkt(kind, &[u32b(id), s(a.as_bytes()), s(b.as_bytes())])
    }

    fn sha(bytes: &[u8]) -> Option<[u8; 32]> {
        Some(Sha256::digest(bytes).into())
    }

    fn transfer(path: &str, direction: Direction, content: &[u8], complete: bool) -> FileEvent {
        FileEvent::Transfer(Transfer {
            path: path.to_owned(),
            direction,
            size: content.len() as u64,
            sha256: sha(content),
            complete,
        })
    }

    fn unhashed(path: &str, direction: Direction, size: u64) -> FileEvent {
        FileEvent::Transfer(Transfer {
            path: path.to_owned(),
            direction,
            size,
            sha256: None,
            complete: true,
        })
    }

    fn op_event(op: &'static str, path: &str, target: Option<&str>) -> FileEvent {
        FileEvent::Op {
            op,
            path: path.to_owned(),
            target: target.map(str::to_owned),
        }
    }

    /// One side's bytes, several packets sent together.
    fn seg(side: Side, packets: &[Vec<u8>]) -> (Side, Vec<u8>) {
        (side, packets.concat())
    }

    /// Feeds a session, each segment cut by `cut`, then finishes.
    fn run_sftp(session: &[(Side, Vec<u8>)], cut: &dyn Fn(&[u8]) -> Vec<&[u8]>) -> Vec<FileEvent> {
        let mut sftp = Sftp::new();
        let mut events = Vec::new();
        for (side, bytes) in session {
            for chunk in cut(bytes) {
                events.extend(match side {
                    Side::Client => sftp.client(chunk),
                    Side::Host => sftp.host(chunk),
                });
            }
        }
        events.extend(sftp.finish());
        events
    }

    /// Runs `session` whole, byte by byte, and cut once at every position;
    /// all must agree. Returns the events.
    fn sftp_all_splits(session: &[(Side, Vec<u8>)]) -> Vec<FileEvent> {
        let whole = run_sftp(session, &|b| vec![b]);
        let bytewise = run_sftp(session, &|b| b.chunks(1).collect());
        assert_eq!(whole, bytewise, "byte by byte");
        let longest = session.iter().map(|(_, b)| b.len()).max().unwrap_or(0);
        for k in 0..=longest {
            let split = run_sftp(session, &|b| {
                let (a, c) = b.split_at(k.min(b.len()));
                vec![a, c]
            });
            assert_eq!(whole, split, "split at {k}");
        }
        whole
    }

    fn content(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 256) as u8).collect()
    }

    #[test]
    fn direction_names() {
        assert_eq!(Direction::Upload.as_str(), "upload");
        assert_eq!(Direction::Download.as_str(), "download");
    }

    #[test]
    fn upload_in_three_writes() {
        let tail = content(300);
        let session = [
            seg(Side::Client, &[init(), open(1, "/up/a.bin", NEW)]),
            seg(Side::Host, &[version(), handle(1, b"h0")]),
            seg(
                Side::Client,
                &[
                    write(2, b"h0", 0, b"hello "),
                    write(3, b"h0", 6, b"world\n"),
                    write(4, b"h0", 12, &tail),
                    close(5, b"h0"),
                ],
            ),
            seg(
                Side::Host,
                &[status(2, 0), status(3, 0), status(4, 0), status(5, 0)],
            ),
        ];
        let all = [b"hello world\n".as_slice(), &tail].concat();
        assert_eq!(
            sftp_all_splits(&session),
            [transfer("/up/a.bin", Direction::Upload, &all, true)]
        );
    }

    #[test]
    fn transfer_reported_on_close_request() {
        let mut sftp = Sftp::new();
        assert!(sftp.client(&open(1, "f", NEW)).is_empty());
        assert!(sftp.host(&handle(1, b"h")).is_empty());
        assert!(sftp.client(&write(2, b"h", 0, b"x")).is_empty());
        assert_eq!(
            sftp.client(&close(3, b"h")),
            [transfer("f", Direction::Upload, b"x", true)]
        );
        assert!(sftp.host(&status(3, 0)).is_empty());
        assert!(sftp.finish().is_empty());
    }

    #[test]
    fn download_with_pipelined_reads() {
        let session = [
            seg(Side::Client, &[init(), open(1, "/etc/motd", READ)]),
            seg(Side::Host, &[version(), handle(1, b"H")]),
            seg(
                Side::Client,
                &[
                    read(2, b"H", 0, 4),
                    read(3, b"H", 4, 4),
                    read(4, b"H", 8, 4),
                    read(5, b"H", 12, 4),
                ],
            ),
            seg(
                Side::Host,
                &[
                    data(2, b"abcd"),
                    data(3, b"efgh"),
                    data(4, b"ij"),
                    status(5, 1),
                ],
            ),
            seg(Side::Client, &[close(6, b"H")]),
            seg(Side::Host, &[status(6, 0)]),
        ];
        assert_eq!(
            sftp_all_splits(&session),
            [transfer(
                "/etc/motd",
                Direction::Download,
                b"abcdefghij",
                true
            )]
        );
    }

    #[test]
    fn download_answered_out_of_order_has_no_hash() {
        let session = [
            seg(Side::Client, &[open(1, "f", READ)]),
            seg(Side::Host, &[handle(1, b"H")]),
            seg(Side::Client, &[read(2, b"H", 0, 4), read(3, b"H", 4, 4)]),
            seg(Side::Host, &[data(3, b"efgh"), data(2, b"abcd")]),
            seg(Side::Client, &[close(4, b"H")]),
        ];
        assert_eq!(
            sftp_all_splits(&session),
            [unhashed("f", Direction::Download, 8)]
        );
    }

    #[test]
    fn write_out_of_order_has_no_hash() {
        let session = [
            seg(Side::Client, &[open(1, "f", NEW)]),
            seg(Side::Host, &[handle(1, b"h")]),
            seg(
                Side::Client,
                &[
                    write(2, b"h", 5, b"world"),
                    write(3, b"h", 0, b"hello"),
                    close(4, b"h"),
                ],
            ),
        ];
        assert_eq!(
            sftp_all_splits(&session),
            [unhashed("f", Direction::Upload, 10)]
        );
    }

    #[test]
    fn resumed_write_has_no_hash() {
        let session = [
            seg(Side::Client, &[open(1, "f", WRITE)]),
            seg(Side::Host, &[handle(1, b"h")]),
            seg(
                Side::Client,
                &[write(2, b"h", 100, b"rest"), close(3, b"h")],
            ),
        ];
        assert_eq!(
            sftp_all_splits(&session),
            [unhashed("f", Direction::Upload, 4)]
        );
    }

    #[test]
    fn file_operations() {
        let session = [
            seg(Side::Client, &[init()]),
            seg(Side::Host, &[version()]),
            seg(
                Side::Client,
                &[
                    pkt(SSH_FXP_OPENDIR, &[u32b(1), s(b"/d")]),
                    pkt(SSH_FXP_REMOVE, &[u32b(2), s(b"/d/x")]),
                    two_paths(SSH_FXP_RENAME, 3, "/a", "/b"),
                    path_op(SSH_FXP_MKDIR, 4, "/m"),
                    pkt(SSH_FXP_RMDIR, &[u32b(5), s(b"/m")]),
                    path_op(SSH_FXP_SETSTAT, 6, "/b"),
                    two_paths(SSH_FXP_SYMLINK, 7, "target", "/link"),
                    pkt(
                        SSH_FXP_EXTENDED,
                        &[u32b(8), s(b"posix-rename@openssh.com"), s(b"/b"), s(b"/c")],
                    ),
                    pkt(
                        SSH_FXP_EXTENDED,
                        &[u32b(9), s(b"hardlink@openssh.com"), s(b"/c"), s(b"/h")],
                    ),
                    pkt(
                        SSH_FXP_EXTENDED,
                        &[u32b(10), s(b"lsetstat@openssh.com"), s(b"/h"), attrs()],
                    ),
                    pkt(
                        SSH_FXP_EXTENDED,
                        &[u32b(11), s(b"statvfs@openssh.com"), s(b"/")],
                    ),
                    pkt(17, &[u32b(12), s(b".")]), // REALPATH: not recorded
                ],
            ),
            seg(Side::Host, &[handle(1, b"dir"), status(2, 0)]),
        ];
        assert_eq!(
            sftp_all_splits(&session),
            [
                op_event("list", "/d", None),
                op_event("remove", "/d/x", None),
                op_event("rename", "/a", Some("/b")),
                op_event("mkdir", "/m", None),
                op_event("rmdir", "/m", None),
                op_event("setstat", "/b", None),
                op_event("symlink", "target", Some("/link")),
                op_event("rename", "/b", Some("/c")),
                op_event("link", "/c", Some("/h")),
                op_event("setstat", "/h", None),
            ]
        );
    }

    #[test]
    fn channel_end_reports_open_files_incomplete() {
        let session = [
            seg(Side::Client, &[open(1, "/w", NEW), open(2, "/r", READ)]),
            seg(Side::Host, &[handle(1, b"1"), handle(2, b"2")]),
            seg(
                Side::Client,
                &[write(3, b"1", 0, b"abc"), read(4, b"2", 0, 10)],
            ),
            // The DATA is cut off by the channel's end.
            seg(Side::Host, &[data(4, b"0123456789")[..17].to_vec()]),
        ];
        let mut partial = transfer("/r", Direction::Download, b"0123", false);
        if let FileEvent::Transfer(t) = &mut partial {
            t.size = 4;
        }
        assert_eq!(
            sftp_all_splits(&session),
            [partial, transfer("/w", Direction::Upload, b"abc", false)]
        );
    }

    #[test]
    fn empty_files() {
        let session = [
            seg(
                Side::Client,
                &[
                    open(1, "/new", NEW),
                    open(2, "/peek", READ),
                    open(3, "/empty", READ),
                ],
            ),
            seg(
                Side::Host,
                &[handle(1, b"1"), handle(2, b"2"), handle(3, b"3")],
            ),
            seg(
                Side::Client,
                &[close(4, b"1"), close(5, b"2"), read(6, b"3", 0, 32768)],
            ),
            seg(Side::Host, &[status(6, 1)]),
            seg(Side::Client, &[close(7, b"3")]),
        ];
        assert_eq!(
            sftp_all_splits(&session),
            [
                transfer("/new", Direction::Upload, b"", true),
                transfer("/empty", Direction::Download, b"", true),
            ]
        );
    }

    #[test]
    fn failed_open_and_unknown_handles_are_ignored() {
        let session = [
            seg(Side::Client, &[open(1, "/nope", NEW)]),
            seg(Side::Host, &[status(1, 3)]),
            seg(
                Side::Client,
                &[
                    write(2, b"h", 0, b"data"),
                    read(3, b"h", 0, 4),
                    close(4, b"h"),
                ],
            ),
            seg(Side::Host, &[data(3, b"data"), handle(9, b"x")]),
        ];
        assert_eq!(sftp_all_splits(&session), []);
    }

    #[test]
    fn read_and_written_file_has_no_hash() {
        let session = [
            seg(Side::Client, &[open(1, "f", READ | WRITE)]),
            seg(Side::Host, &[handle(1, b"h")]),
            seg(
                Side::Client,
                &[write(2, b"h", 0, b"ab"), read(3, b"h", 2, 2)],
            ),
            seg(Side::Host, &[data(3, b"cd")]),
            seg(Side::Client, &[close(4, b"h")]),
        ];
        assert_eq!(
            sftp_all_splits(&session),
            [unhashed("f", Direction::Upload, 4)]
        );
    }

    #[test]
    fn handle_reused_without_close_ends_the_old_file() {
        let session = [
            seg(Side::Client, &[open(1, "/a", NEW), open(2, "/b", NEW)]),
            seg(Side::Host, &[handle(1, b"h"), handle(2, b"h")]),
            seg(Side::Client, &[close(3, b"h")]),
        ];
        assert_eq!(
            sftp_all_splits(&session),
            [
                transfer("/a", Direction::Upload, b"", false),
                transfer("/b", Direction::Upload, b"", true),
            ]
        );
    }

    #[test]
    fn malformed_packets_are_skipped() {
        // A WRITE whose data length overruns its packet, and a truncated
        // OPEN: both skipped, and the packets after them still parsed.
        let mut bad_write = write(2, b"h", 0, b"abcd");
        bad_write[25..29].copy_from_slice(&u32b(1000));
        let session = [
            seg(
                Side::Client,
                &[open(1, "f", NEW), pkt(SSH_FXP_OPEN, &[u32b(9), u32b(50)])],
            ),
            seg(
                Side::Host,
                &[handle(1, b"h"), pkt(SSH_FXP_DATA, &[u32b(7)])],
            ),
            seg(
                Side::Client,
                &[bad_write, write(3, b"h", 0, b"ok"), close(4, b"h")],
            ),
        ];
        assert_eq!(
            sftp_all_splits(&session),
            [transfer("f", Direction::Upload, b"ok", true)]
        );
    }

    #[test]
    fn huge_length_gives_up() {
        let mut sftp = Sftp::new();
        sftp.client(&open(1, "/w", NEW));
        sftp.host(&handle(1, b"h"));
        sftp.client(&write(2, b"h", 0, b"abc"));
        let events = sftp.client(&[0xff, 0xff, 0xff, 0xff, SSH_FXP_WRITE, 0, 0]);
        assert!(sftp.lost());
        assert_eq!(events, [transfer("/w", Direction::Upload, b"abc", false)]);
        assert!(sftp.client(&close(3, b"h")).is_empty());
        assert!(sftp.host(&handle(1, b"h")).is_empty());
        assert!(sftp.finish().is_empty());
        // Just over the limit, on the host's side.
        let mut sftp = Sftp::new();
        sftp.host(&u32b(u32::try_from(MAX_PACKET).expect("fits") + 1));
        assert!(!sftp.lost());
        sftp.host(&[SSH_FXP_DATA]);
        assert!(sftp.lost());
    }

    #[test]
    fn zero_length_gives_up() {
        let mut sftp = Sftp::new();
        sftp.client(&[0, 0, 0, 0, 0]);
        assert!(sftp.lost());
    }

    #[test]
    fn too_many_open_files_gives_up() {
        let mut sftp = Sftp::new();
        let mut events = Vec::new();
        for id in 0..2000u32 {
            events.extend(sftp.client(&open(id, &format!("/f{id}"), NEW)));
            events.extend(sftp.host(&handle(id, &id.to_be_bytes())));
            if sftp.lost() {
                assert_eq!(id as usize, MAX_OPEN);
                break;
            }
        }
        assert!(sftp.lost());
        assert_eq!(events.len(), MAX_OPEN);
        assert!(
            events
                .iter()
                .all(|e| matches!(e, FileEvent::Transfer(t) if !t.complete && t.size == 0))
        );
        assert!(sftp.files.is_empty() && sftp.pending.is_empty());
    }

    #[test]
    fn too_many_pending_requests_gives_up() {
        let mut sftp = Sftp::new();
        let opens: Vec<u8> = (0..2000u32).flat_map(|id| open(id, "/f", NEW)).collect();
        sftp.client(&opens);
        assert!(sftp.lost());
        assert!(sftp.pending.is_empty());
    }

    /// xorshift64: deterministic pseudo-random numbers.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    /// Plausible packets with random fields, some corrupted.
    fn random_session(rng: &mut Rng) -> Vec<(Side, Vec<u8>)> {
        let handles: [&[u8]; 3] = [b"a", b"b", b"\0\0\0\x01"];
        let mut session = Vec::new();
        for _ in 0..rng.below(40) {
            let id = rng.below(6) as u32;
            let h = handles[rng.below(3)];
            let offset = [0, 4, 8, rng.next()][rng.below(4)];
            let len = rng.below(20);
            let body = rng.bytes(len);
            let (side, mut packet) = match rng.below(9) {
                0 => (Side::Client, open(id, "p", rng.next() as u32)),
                1 => (Side::Client, write(id, h, offset, &body)),
                2 => (Side::Client, read(id, h, offset, 4)),
                3 => (Side::Client, close(id, h)),
                4 => (Side::Host, handle(id, h)),
                5 => (Side::Host, data(id, &body)),
                6 => (Side::Host, status(id, rng.below(3) as u32)),
                7 => (Side::Client, pkt(rng.next() as u8, &[body])),
                _ => (Side::Host, pkt(rng.next() as u8, &[body])),
            };
            if rng.below(10) == 0 {
                let at = rng.below(packet.len());
                packet[at] = rng.next() as u8;
            }
            session.push((side, packet));
        }
        session
    }

    /// Sizes and hashes are consistent with what was fed.
    fn check(events: &[FileEvent], fed: usize) {
        for event in events {
            if let FileEvent::Transfer(t) = event {
                assert!(t.size <= fed as u64);
                if t.size == 0 && t.sha256.is_some() {
                    assert_eq!(t.sha256, sha(b""));
                }
            }
        }
    }

    #[test]
    fn random_input_never_panics() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..10_000 {
            let session = if round % 2 == 0 {
                let len = rng.below(600);
                vec![(Side::Client, rng.bytes(len)), (Side::Host, rng.bytes(len))]
            } else {
                random_session(&mut rng)
            };
            let fed: usize = session.iter().map(|(_, b)| b.len()).sum();
            let mut sftp = Sftp::new();
            let mut scp = [
                Scp::from_command("scp -r -t /d").expect("scp"),
                Scp::from_command("scp -f /s").expect("scp"),
            ];
            let mut events = Vec::new();
            for (side, bytes) in &session {
                let mut rest = bytes.as_slice();
                while !rest.is_empty() {
                    let (chunk, tail) = rest.split_at(1 + rng.below(rest.len()));
                    rest = tail;
                    events.extend(match side {
                        Side::Client => sftp.client(chunk),
                        Side::Host => sftp.host(chunk),
                    });
                    events.extend(scp[round % 2].source(chunk));
                }
            }
            events.extend(sftp.finish());
            events.extend(scp[round % 2].finish());
            check(&events, fed);
        }
    }

    /// Feeds `stream` to an scp parser for `command`, cut by `cut`.
    fn run_scp(command: &str, stream: &[u8], cut: &dyn Fn(&[u8]) -> Vec<&[u8]>) -> Vec<FileEvent> {
        let mut scp = Scp::from_command(command).expect("an scp command");
        let mut events: Vec<FileEvent> = cut(stream)
            .into_iter()
            .flat_map(|chunk| scp.source(chunk))
            .collect();
        events.extend(scp.finish());
        events
    }

    fn scp_all_splits(command: &str, stream: &[u8]) -> Vec<FileEvent> {
        let whole = run_scp(command, stream, &|b| vec![b]);
        assert_eq!(whole, run_scp(command, stream, &|b| b.chunks(1).collect()));
        for k in 0..=stream.len() {
            let split = run_scp(command, stream, &|b| {
                let (a, c) = b.split_at(k);
                vec![a, c]
            });
            assert_eq!(whole, split, "split at {k}");
        }
        whole
    }

    #[test]
    fn scp_single_upload() {
        let scp = Scp::from_command("scp -t /tmp/dest").expect("scp");
        assert_eq!(scp.direction(), Direction::Upload);
        assert_eq!(
            scp_all_splits("scp -t /tmp/dest", b"C0644 5 a.txt\nhello\0"),
            [transfer(
                "/tmp/dest/a.txt",
                Direction::Upload,
                b"hello",
                true
            )]
        );
    }

    #[test]
    fn scp_recursive_upload() {
        let stream =
            b"D0755 0 dir\nC0644 3 x y\nabc\0D0700 0 sub\nC0600 0 e\n\0E\nE\nC0644 1 top\nZ\0";
        assert_eq!(
            scp_all_splits("scp -v -r -d -t -- /dst/", stream),
            [
                transfer("/dst/dir/x y", Direction::Upload, b"abc", true),
                transfer("/dst/dir/sub/e", Direction::Upload, b"", true),
                transfer("/dst/top", Direction::Upload, b"Z", true),
            ]
        );
    }

    #[test]
    fn scp_download_with_times() {
        let file = b"ab\nC0644 9 x\n\0\x01E\n";
        let stream = [
            b"T1700000000 0 1700000001 0\nC0644 17 hosts\n".as_slice(),
            file,
            b"\0",
        ]
        .concat();
        let scp = Scp::from_command("scp -p -f /etc/hosts").expect("scp");
        assert_eq!(scp.direction(), Direction::Download);
        assert_eq!(
            scp_all_splits("scp -p -f /etc/hosts", &stream),
            [transfer("/etc/hosts", Direction::Download, file, true)]
        );
    }

    #[test]
    fn scp_recursive_download() {
        let stream = b"D0755 0 logs\nC0644 2 a\nhi\0E\n";
        assert_eq!(
            scp_all_splits("scp -r -f /var/logs", stream),
            [transfer("/var/logs/a", Direction::Download, b"hi", true)]
        );
        assert_eq!(
            scp_all_splits(
                "scp -f a.txt /etc/b.txt",
                b"C0644 1 b.txt\nb\0C0644 1 c\nc\0"
            ),
            [
                transfer("/etc/b.txt", Direction::Download, b"b", true),
                transfer("c", Direction::Download, b"c", true),
            ]
        );
    }

    #[test]
    fn scp_truncated_stream_is_incomplete() {
        assert_eq!(
            scp_all_splits("scp -t .", b"C0644 0 empty\n\0C0644 10 f\nabc"),
            [
                transfer("./empty", Direction::Upload, b"", true),
                transfer("./f", Direction::Upload, b"abc", false),
            ]
        );
        assert_eq!(
            scp_all_splits("scp -t .", b"C0644 3 f\nabc"),
            [transfer("./f", Direction::Upload, b"abc", false)]
        );
    }

    #[test]
    fn scp_error_after_content_is_incomplete() {
        assert_eq!(
            scp_all_splits(
                "scp -f f g",
                b"C0644 3 f\nabc\x01scp: f: read error\nC0644 1 g\ng\0"
            ),
            [
                transfer("f", Direction::Download, b"abc", false),
                transfer("g", Direction::Download, b"g", true),
            ]
        );
    }

    #[test]
    fn scp_garbage_gives_up() {
        let mut scp = Scp::from_command("scp -t /d").expect("scp");
        let events = scp.source(b"C0644 5 f\nab");
        assert!(events.is_empty());
        assert!(scp.source(b"cde\0bogus line\nC0644 1 g\nx\0").len() == 1);
        assert!(scp.lost());
        assert!(scp.finish().is_empty());
        let mut scp = Scp::from_command("scp -t /d").expect("scp");
        assert!(scp.source(&vec![b'T'; MAX_LINE + 1]).is_empty());
        assert!(scp.lost());
        let mut scp = Scp::from_command("scp -t /d").expect("scp");
        scp.source(b"C0644 5 f\nab");
        assert_eq!(
            scp.source(b"cde\0C0644 99999999999999999999 g\n"),
            [transfer("/d/f", Direction::Upload, b"abcde", true)]
        );
        assert!(scp.lost());
        let mut scp = Scp::from_command("scp -r -t /d").expect("scp");
        let deep = b"D0755 0 d\n".repeat(MAX_DEPTH + 1);
        scp.source(&deep);
        assert!(scp.lost());
    }

    #[test]
    fn scp_commands() {
        let path = |command: &str| {
            let mut scp = Scp::from_command(command)?;
            match scp.source(b"C0644 0 n\n\0").pop() {
                Some(FileEvent::Transfer(t)) => Some((t.direction, t.path)),
                _ => None,
            }
        };
        assert_eq!(
            path("scp -v -d -t -- '/tmp/a b'"),
            Some((Direction::Upload, "/tmp/a b/n".to_owned()))
        );
        assert_eq!(
            path("/usr/bin/scp -f \"/x/\\\"q\\\"\""),
            Some((Direction::Download, "/x/n".to_owned()))
        );
        assert_eq!(
            path("scp -pf a\\ b"),
            Some((Direction::Download, "n".to_owned()))
        );
        assert_eq!(
            path("scp -f /n"),
            Some((Direction::Download, "/n".to_owned()))
        );
        assert_eq!(path("scp -t"), None);
        assert_eq!(path("scp -t a b"), None);
        assert_eq!(path("scp -t -f x"), None);
        assert_eq!(path("scp x y"), None);
        assert_eq!(path("ls -t /tmp"), None);
        assert_eq!(path("rscp -t /tmp"), None);
        assert_eq!(path(""), None);
    }

    /// Throughput of `Sftp::client` on a 100 MB upload in 32 KiB writes,
    /// against hashing the same bytes alone:
    /// `cargo test --release -- --ignored --nocapture throughput`.
    #[test]
    #[ignore]
    fn throughput() {
        let chunk = content(32 * 1024);
        let writes = 100_000_000 / chunk.len();
        let bytes = (writes * chunk.len()) as f64;
        let rate = |elapsed: std::time::Duration| bytes / 1e6 / elapsed.as_secs_f64();

        let start = std::time::Instant::now();
        let mut hasher = Sha256::new();
        for _ in 0..writes {
            hasher.update(&chunk);
        }
        let expected: [u8; 32] = hasher.finalize().into();
        let hashing = start.elapsed();

        let mut sftp = Sftp::new();
        sftp.client(&open(1, "/big", NEW));
        sftp.host(&handle(1, b"h"));
        let mut packet = write(2, b"h", 0, &chunk);
        let start = std::time::Instant::now();
        let mut events = Vec::new();
        for i in 0..writes {
            packet[14..22].copy_from_slice(&u64b((i * chunk.len()) as u64));
            events.extend(sftp.client(&packet));
        }
        events.extend(sftp.client(&close(9, b"h")));
        let parsing = start.elapsed();
        println!(
            "{:.0} MB: Sftp::client {parsing:?} ({:.0} MB/s), SHA-256 alone {hashing:?} ({:.0} MB/s)",
            bytes / 1e6,
            rate(parsing),
            rate(hashing),
        );
        assert!(matches!(&events[..], [FileEvent::Transfer(t)] if t.sha256 == Some(expected)));
    }
}
