//! Servers Ward starts on this machine: throwaway PostgreSQL clusters ([`pgcluster`]), MariaDB
//! servers ([`mariadb`]), OpenSSH daemons ([`sshd`]) and a stand-in AI model provider
//! ([`model`]), run as children that stop when their parent dies ([`child`]).
//! `ward demo` serves its demo resources with them, and the test kit its test peers.

pub mod child;
pub mod mariadb;
pub mod model;
pub mod pgcluster;
pub mod sshd;
