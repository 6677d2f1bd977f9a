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

use ward_store::stream::Hasher;

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
    hasher: Option<Hasher>,
}

impl Content {
    fn new(path: String) -> Content {
        Content {
            path,
            size: 0,
            hasher: Some(Hasher::new()),
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
            sha256: self.hasher.and_then(Hasher::finish),
            complete,
        })
    }
}

/// Text from protocol bytes: lossy UTF-8, at most `MAX_NAME` bytes.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_NAME)]).into_owned()
}

// SFTP packet types (draft-ietf-secsh-filexfer-02).

mod scp;
mod sftp;
#[cfg(test)]
mod tests;

pub use scp::Scp;
pub use sftp::Sftp;
