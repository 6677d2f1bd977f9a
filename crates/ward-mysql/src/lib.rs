//! Ward's MySQL and MariaDB gateway: the sans-IO wire codec, and the session driver that
//! authenticates clients, logs in upstream with Ward's credentials, relays and records.

pub mod codec;
pub mod gateway;
mod kill;
mod prepared;
pub mod record;
mod relay;
pub mod results;
pub mod scramble;
mod session;
pub mod upstream;
pub mod wire;

pub use gateway::{Gateway, Limits};
