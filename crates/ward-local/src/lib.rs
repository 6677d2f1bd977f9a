//! Servers Ward starts on this machine: throwaway PostgreSQL clusters ([`pgcluster`]) and
//! OpenSSH daemons ([`sshd`]), run as children that stop when their parent dies ([`child`]).
//! `ward demo` serves its demo resources with them, and the test kit its test peers.

pub mod child;
pub mod pgcluster;
pub mod sshd;
