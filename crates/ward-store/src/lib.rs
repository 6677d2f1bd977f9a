//! Ward's audit store: the SQLite backend, hash-chained events, the recorder task that writes
//! them with group commit, signed checkpoints, verification and export bundles.

pub mod activity;
mod body;
pub mod bundle;
pub mod chain;
pub mod checkpoint;
pub mod control;
pub mod credentials;
mod db;
pub mod keys;
pub mod merkle;
mod notify;
pub mod payload;
mod pgtls;
pub mod prune;
pub mod query;
pub mod recorder;
pub mod requests;
mod schema;
pub mod scim;
pub mod siem;
mod signer;
pub mod store;
pub mod stream;
pub mod users;
pub mod verify;

pub use body::{EventBody, JsonBody, MaskedJson, MaskedJsonBy, PremaskedJson};
pub use notify::{Notice, Notify};
pub use recorder::{Recorder, RecorderOptions, SessionRecorder, SessionStart, Sink};
pub use signer::KeySource;
pub use store::{Location, Store, StoreError, StoreTls};
