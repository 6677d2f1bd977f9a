//! The PostgreSQL wire protocol, sans IO: framing, the messages Ward observes, and the few it builds.
//!
//! Parsers are plain functions over `&[u8]`; they never panic on wire data and report a message
//! that is not complete yet as `Ok(None)`.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

pub mod backend;
pub mod encode;
pub mod frame;
pub mod frontend;
pub mod reader;
pub mod startup;
pub mod value;

/// Why bytes from a peer are not a valid protocol message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("message length {len} is below the minimum of {min}")]
    TooShort { len: i64, min: usize },
    #[error("message length {len} is over the limit of {max} bytes")]
    TooLong { len: i64, max: usize },
    #[error("malformed {what} message")]
    Malformed { what: &'static str },
    #[error("unsupported protocol version {major}.{minor}")]
    UnsupportedVersion { major: u16, minor: u16 },
}

pub(crate) fn malformed(what: &'static str) -> ProtocolError {
    ProtocolError::Malformed { what }
}
