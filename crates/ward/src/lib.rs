//! Ward's commands as a library: the CLI, `ward serve` (which wires the gateways, the web
//! server and the recorder together) and the demo.

pub mod cli;
pub mod control;
pub mod demo;
pub mod reload;
pub mod serve;
pub mod siem;
pub mod tls;
pub mod webhooks;

/// The `ward` version, as `ward --version` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
