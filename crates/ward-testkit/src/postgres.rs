//! A PostgreSQL cluster for a test, with an application role Ward logs in as.

use std::ops::Deref;

use ward_local::pgcluster::{ClusterOptions, PgCluster};

/// A running cluster with a database `app` and a role `app` (password [`crate::PASSWORD`])
/// that owns it.
pub struct Postgres {
    pub cluster: PgCluster,
    /// The CA (self-signed certificate) of the cluster when TLS is on.
    pub cert_pem: Option<String>,
}

impl Postgres {
    pub fn start(opts: &ClusterOptions) -> anyhow::Result<Self> {
        let cluster = PgCluster::start(opts)?;
        cluster.psql(
            "postgres",
            &format!(
                "SET password_encryption = '{}'; CREATE ROLE app LOGIN PASSWORD '{}'",
                encryption(opts),
                crate::PASSWORD
            ),
        )?;
        cluster.psql("postgres", "CREATE DATABASE app OWNER app")?;
        Ok(Self {
            cluster,
            cert_pem: opts.tls.as_ref().map(|(c, _)| c.clone()),
        })
    }

    /// A database `name` for a PostgreSQL audit store, owned by role `app`, and a login role
    /// `{name}_ward` for Ward to run as. Returns `(owner URL, Ward's URL)`; nothing is granted
    /// yet (`ward store migrate` does that).
    pub fn audit_store(&self, name: &str) -> anyhow::Result<(String, String)> {
        self.cluster.psql(
            "postgres",
            &format!(
                "CREATE ROLE {name}_ward LOGIN PASSWORD '{}'",
                crate::PASSWORD
            ),
        )?;
        self.cluster
            .psql("postgres", &format!("CREATE DATABASE {name} OWNER app"))?;
        let url = |user: &str| {
            format!(
                "host=127.0.0.1 port={} user={user} password='{}' dbname={name}",
                self.cluster.port,
                crate::PASSWORD
            )
        };
        Ok((url("app"), url(&format!("{name}_ward"))))
    }

    /// Runs SQL in database `app` as the superuser.
    pub fn sql(&self, sql: &str) -> anyhow::Result<String> {
        self.cluster.psql("app", sql)
    }
}

fn encryption(opts: &ClusterOptions) -> &'static str {
    match opts.host_auth {
        ward_local::pgcluster::HostAuth::Md5 => "md5",
        _ => "scram-sha-256",
    }
}

impl Deref for Postgres {
    type Target = PgCluster;
    fn deref(&self) -> &PgCluster {
        &self.cluster
    }
}

/// A self-signed certificate and key (PEM) for `localhost` and `127.0.0.1`.
pub fn tls_pair() -> (String, String) {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    match rcgen::generate_simple_self_signed(names) {
        Ok(c) => (c.cert.pem(), c.signing_key.serialize_pem()),
        Err(e) => panic!("rcgen: {e}"),
    }
}
