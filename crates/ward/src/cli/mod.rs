//! The commands besides serving: sessions, replay, verify, export, keys, prune, store, users,
//! mask, login, access requests, credentials and the MCP bridge.

pub mod activity;
pub mod credentials;
pub mod export;
pub mod http;
pub mod keys;
pub mod login;
pub mod mask;
pub mod mcp;
pub mod prune;
pub mod replay;
pub mod requests;
pub mod sessions;
pub mod shown;
pub mod store;
pub mod users;
pub mod verify;

/// Human-readable byte count.
pub fn bytes(n: i64) -> String {
    let n = n as f64;
    match n {
        n if n >= 1024.0 * 1024.0 => format!("{:.1} MiB", n / 1024.0 / 1024.0),
        n if n >= 1024.0 => format!("{:.1} KiB", n / 1024.0),
        n => format!("{n} B"),
    }
}
