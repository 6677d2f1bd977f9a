//! Ward's integration tests, one module per area, each driving real clients and servers
//! (PostgreSQL clusters, sshd, OpenSSH, psql, an OIDC and a SAML provider, Chromium) against a
//! real Ward on loopback. They are one test binary, linked once; `./x test NAME` runs the tests
//! whose name (`module::test`) contains NAME.

/// The `ward` binary under test.
pub const WARD: &str = env!("CARGO_BIN_EXE_ward");

mod activity_browser;
mod ai;
mod approvals;
mod bundle_python;
mod db_browser;
mod demo;
mod dpop_login;
mod durability;
mod evidence;
mod http;
mod http_browser;
mod http_sign_in;
mod kube_standin;
mod mcp;
mod mysql;
mod mysql_drivers;
mod mysql_kill;
mod mysql_policy;
mod mysql_robustness;
mod offboarding;
mod oidc;
mod operations;
mod pg_access;
mod pg_drivers;
mod pg_grants;
mod pg_guardrails;
mod pg_guardrails_wire;
mod pg_masking;
mod pg_masking_messages;
mod pg_masking_profiles;
mod pg_psql;
mod pg_robustness;
mod pg_store;
mod reasons;
mod reload;
mod reviews;
mod saml;
mod scim;
mod siem;
mod ssh;
mod ssh_clients;
mod store_suite;
mod web_api;
mod webhooks;
