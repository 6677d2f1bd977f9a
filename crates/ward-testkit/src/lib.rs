//! The test harness: real PostgreSQL clusters (`initdb`/`pg_ctl`), MariaDB servers and real
//! `ward serve` processes on free loopback ports, and the real clients (`psql`, `pgbench`,
//! `mariadb`) to drive them.
//!
//! ```no_run
//! # use ward_testkit::*;
//! let pg = Postgres::start(&ClusterOptions::default()).unwrap();
//! let ward = Ward::builder(env!("CARGO_BIN_EXE_ward")).postgres_resource("shop", &pg).user("alice", &["dev"]).grant("dev", "shop").start().unwrap();
//! let out = psql(&ward.url("alice", "shop"), &["-c", "select 1"]);
//! ```

mod attacker;
mod gateway;
mod http_peer;
mod idp;
mod mariadb;
mod postgres;
mod saml;
mod siem;
mod sshd;

pub use attacker::sqlite_without_triggers;
pub use gateway::{Psql, Ward, WardBuilder, of_kind, psql, run, success};
pub use http_peer::{HttpPeer, chromium_e2e, python_client, python_client_at, web_dir};
pub use idp::{CLIENT_ID, CLIENT_SECRET, Idp, IdpUser, browser};
pub use mariadb::{Mariadb, mysql};
pub use postgres::{Postgres, tls_pair};
pub use saml::SamlIdp;
pub use siem::{Rsyslog, SiemPeer};
pub use sshd::{keygen, openssh, ssh_client, ssh_gateway};
pub use ward_local::mariadb::MariaDbOptions;
pub use ward_local::pgcluster::{ClusterOptions, HostAuth, free_port};
pub use ward_local::sshd::Sshd;

/// The password the harness gives every user and upstream role.
pub const PASSWORD: &str = "correct horse battery";
