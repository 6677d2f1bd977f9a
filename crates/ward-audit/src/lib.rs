//! Ward's audit store: the SQLite backend, hash-chained events, the recorder task that writes
//! them with group commit, and verification of the chains.

pub mod chain;
pub mod payload;
pub mod query;
pub mod recorder;
mod schema;
pub mod store;
pub mod users;
pub mod verify;

pub use recorder::{EventBody, JsonBody, Recorder, SessionRecorder, SessionStart};
pub use store::{Store, StoreError};
