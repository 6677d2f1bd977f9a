//! The transfer parsers on whole sessions, cut at every place, and on random input.

use super::scp::*;
use super::sftp::*;
use super::*;
use sha2::{Digest, Sha256};
use ward_store::stream::HASH_HERE;

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
fn a_large_file_is_hashed_on_its_own_thread_with_the_same_result() {
    // Past `HASH_HERE` the hashing moves to a thread; the digest must not change, whatever
    // the chunking, and a file abandoned while its thread hashes must not hang the parser.
    let body = content(3 * HASH_HERE as usize + 12_345);
    let mut writes = Vec::new();
    for (i, chunk) in body.chunks(40_000).enumerate() {
        let id = 2 + u32::try_from(i).expect("few writes");
        writes.push(write(id, b"h0", (i * 40_000) as u64, chunk));
    }
    let n = u32::try_from(writes.len()).expect("few writes");
    writes.push(close(2 + n, b"h0"));
    let session = [
        seg(Side::Client, &[init(), open(1, "/up/big.bin", NEW)]),
        seg(Side::Host, &[version(), handle(1, b"h0")]),
        seg(Side::Client, &writes),
    ];
    let expected = [transfer("/up/big.bin", Direction::Upload, &body, true)];
    assert_eq!(run_sftp(&session, &|b| vec![b]), expected);
    assert_eq!(run_sftp(&session, &|b| b.chunks(1000).collect()), expected);

    let mut abandoned = session.clone();
    abandoned[2] = seg(Side::Client, &writes[..writes.len() / 2]);
    abandoned[2].1.extend(write(99, b"h0", 0, b"rewritten"));
    let events = run_sftp(&abandoned, &|b| vec![b]);
    assert!(
        matches!(
            &events[..],
            [FileEvent::Transfer(Transfer {
                sha256: None,
                complete: false,
                ..
            })]
        ),
        "{events:?}"
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
    assert_eq!(sftp.held(), (0, 0));
}

#[test]
fn too_many_pending_requests_gives_up() {
    let mut sftp = Sftp::new();
    let opens: Vec<u8> = (0..2000u32).flat_map(|id| open(id, "/f", NEW)).collect();
    sftp.client(&opens);
    assert!(sftp.lost());
    assert_eq!(sftp.held().1, 0);
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
    let stream = b"D0755 0 dir\nC0644 3 x y\nabc\0D0700 0 sub\nC0600 0 e\n\0E\nE\nC0644 1 top\nZ\0";
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
