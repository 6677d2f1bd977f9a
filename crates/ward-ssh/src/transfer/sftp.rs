//! SFTP, as OpenSSH speaks it, on an `sftp` subsystem channel.

use super::*;

pub(super) const SSH_FXP_OPEN: u8 = 3;
pub(super) const SSH_FXP_CLOSE: u8 = 4;
pub(super) const SSH_FXP_READ: u8 = 5;
pub(super) const SSH_FXP_WRITE: u8 = 6;
pub(super) const SSH_FXP_SETSTAT: u8 = 9;
pub(super) const SSH_FXP_OPENDIR: u8 = 11;
pub(super) const SSH_FXP_REMOVE: u8 = 13;
pub(super) const SSH_FXP_MKDIR: u8 = 14;
pub(super) const SSH_FXP_RMDIR: u8 = 15;
pub(super) const SSH_FXP_RENAME: u8 = 18;
pub(super) const SSH_FXP_SYMLINK: u8 = 20;
pub(super) const SSH_FXP_STATUS: u8 = 101;
pub(super) const SSH_FXP_HANDLE: u8 = 102;
pub(super) const SSH_FXP_DATA: u8 = 103;
pub(super) const SSH_FXP_EXTENDED: u8 = 200;

// OPEN flags.
pub(super) const SSH_FXF_WRITE: u32 = 0x2;
pub(super) const SSH_FXF_CREAT: u32 = 0x8;
pub(super) const SSH_FXF_TRUNC: u32 = 0x10;

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
pub(super) enum Side {
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

#[cfg(test)]
impl Sftp {
    /// Files open and requests awaiting an answer: what the parser holds.
    pub(super) fn held(&self) -> (usize, usize) {
        (self.files.len(), self.pending.len())
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
