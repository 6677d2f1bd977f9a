//! Ward's commands as a library: serving, the demo, the store commands, local users and the
//! web server.

pub mod asciicast;
pub mod auth;
pub mod cli;
pub mod demo;
pub mod serve;
pub mod tls;
pub mod users;
pub mod web;

/// The `ward` version, as `ward --version` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
