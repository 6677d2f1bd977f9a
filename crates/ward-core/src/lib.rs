//! Shared types of Ward: identities, sessions, events, configuration and time.

pub mod activity;
pub mod auth;
pub mod duration;
pub mod event;
pub mod fs;
pub mod identity;
pub mod login_throttle;
pub mod metrics;
pub mod payload;
pub mod session;
pub mod timestamp;

pub use duration::ConfigDuration;
pub use event::EventKind;
pub use identity::Identity;
pub use session::{Outcome, Protocol, SessionId};
pub use timestamp::Timestamp;
