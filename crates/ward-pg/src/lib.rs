//! Ward's PostgreSQL gateway: the sans-IO wire codec and the session driver that authenticates
//! clients, opens upstream connections with Ward's credentials, relays and records.

pub mod catalog;
pub mod client;
pub mod codec;
pub mod fastpath;
pub mod gateway;
pub mod record;
pub mod relay;
pub mod scram;
mod session;
pub mod startup_params;
pub mod upstream;
pub mod wire;

pub use gateway::Gateway;
