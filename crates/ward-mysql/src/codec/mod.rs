//! The MySQL client/server protocol (as MySQL 5.7+ and MariaDB 10.2+ speak it), sans IO:
//! packet framing, the handshake, the responses Ward observes, and the few packets it builds.
//!
//! Parsers are plain functions over `&[u8]`; they never panic on wire data and report a packet
//! that is not complete yet as `Ok(None)`.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

pub mod binary;
pub mod command;
pub mod handshake;
pub mod packet;
pub mod reader;
pub mod response;

/// Why bytes from a peer are not a valid protocol packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("packet of {len} bytes is over the limit of {max} bytes")]
    TooLong { len: usize, max: usize },
    #[error("malformed {what} packet")]
    Malformed { what: &'static str },
    #[error("packet out of sequence (expected number {expected}, got {got})")]
    Sequence { expected: u8, got: u8 },
    #[error("the peer does not speak protocol 4.1 (CLIENT_PROTOCOL_41)")]
    Unsupported,
}

pub(crate) fn malformed(what: &'static str) -> ProtocolError {
    ProtocolError::Malformed { what }
}

/// Capability flags (`CLIENT_*`).
pub mod caps {
    pub const LONG_PASSWORD: u32 = 1;
    pub const FOUND_ROWS: u32 = 1 << 1;
    pub const LONG_FLAG: u32 = 1 << 2;
    pub const CONNECT_WITH_DB: u32 = 1 << 3;
    pub const NO_SCHEMA: u32 = 1 << 4;
    pub const COMPRESS: u32 = 1 << 5;
    pub const ODBC: u32 = 1 << 6;
    pub const LOCAL_FILES: u32 = 1 << 7;
    pub const IGNORE_SPACE: u32 = 1 << 8;
    pub const PROTOCOL_41: u32 = 1 << 9;
    pub const INTERACTIVE: u32 = 1 << 10;
    pub const SSL: u32 = 1 << 11;
    pub const TRANSACTIONS: u32 = 1 << 13;
    pub const SECURE_CONNECTION: u32 = 1 << 15;
    pub const MULTI_STATEMENTS: u32 = 1 << 16;
    pub const MULTI_RESULTS: u32 = 1 << 17;
    pub const PS_MULTI_RESULTS: u32 = 1 << 18;
    pub const PLUGIN_AUTH: u32 = 1 << 19;
    pub const CONNECT_ATTRS: u32 = 1 << 20;
    pub const PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 1 << 21;
    pub const SESSION_TRACK: u32 = 1 << 23;
    pub const DEPRECATE_EOF: u32 = 1 << 24;

    /// What Ward offers clients. Not compression (Ward reads every packet), and nothing a
    /// MariaDB or MySQL server may lack: every flag here changes the wire format only in ways
    /// both kinds of server support, so Ward relays packets unchanged. `LOCAL INFILE` reaches
    /// the server only when the grant allows it.
    pub const WARD: u32 = LONG_PASSWORD
        | LOCAL_FILES
        | FOUND_ROWS
        | LONG_FLAG
        | CONNECT_WITH_DB
        | ODBC
        | IGNORE_SPACE
        | PROTOCOL_41
        | INTERACTIVE
        | SSL
        | TRANSACTIONS
        | SECURE_CONNECTION
        | MULTI_STATEMENTS
        | MULTI_RESULTS
        | PS_MULTI_RESULTS
        | PLUGIN_AUTH
        | CONNECT_ATTRS
        | PLUGIN_AUTH_LENENC_CLIENT_DATA
        | SESSION_TRACK
        | DEPRECATE_EOF;

    /// The flags that change what packets look like: the client and the server must agree on
    /// each for Ward to relay packets unchanged.
    pub const FORMAT: u32 =
        PROTOCOL_41 | MULTI_RESULTS | PS_MULTI_RESULTS | SESSION_TRACK | DEPRECATE_EOF;
}

/// Server status flags (`SERVER_*`) Ward reads.
pub mod status {
    pub const IN_TRANS: u16 = 1;
    pub const AUTOCOMMIT: u16 = 2;
    pub const MORE_RESULTS_EXISTS: u16 = 8;
    pub const SESSION_STATE_CHANGED: u16 = 1 << 14;
}

/// `utf8mb4_general_ci`: the character set Ward's greeting names (both MySQL and MariaDB
/// have it); the client's own choice is what reaches the server.
pub const UTF8MB4_GENERAL_CI: u8 = 45;
