//! Ward's commands as a library: serving, the demo, the store commands, local users and the
//! PostgreSQL cluster helper the demo and the test harness share.

pub mod asciicast;
pub mod auth;
pub mod child;
pub mod cli;
pub mod demo;
pub mod pgcluster;
pub mod serve;
pub mod sshd;
pub mod tls;
pub mod users;
pub mod web;

/// The `ward` version, as `ward --version` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
