//! A MariaDB server for a test, with the application accounts Ward logs in as, and the real
//! `mariadb` command-line client to drive it.

use std::ops::Deref;
use std::process::{Command, Output, Stdio};

use ward_local::mariadb::{MariaDb, MariaDbOptions};

/// A running server with a database `app` and the accounts of [`MariaDb::seed_app`] (`app`,
/// `app_ed`, and `app_tls` when TLS is on), password [`crate::PASSWORD`], from `127.0.0.1`.
pub struct Mariadb {
    pub server: MariaDb,
    /// The server's self-signed certificate (its own CA) when TLS is on.
    pub cert_pem: Option<String>,
}

impl Mariadb {
    /// A seeded server, with TLS (a [`crate::tls_pair`]) when `tls`.
    pub fn start(tls: bool) -> anyhow::Result<Self> {
        Self::start_with(&MariaDbOptions {
            tls: tls.then(crate::tls_pair),
            ..MariaDbOptions::default()
        })
    }

    /// A seeded server with these options.
    pub fn start_with(opts: &MariaDbOptions) -> anyhow::Result<Self> {
        let server = MariaDb::start(opts)?;
        server.seed_app(crate::PASSWORD)?;
        Ok(Self {
            server,
            cert_pem: opts.tls.as_ref().map(|(cert, _)| cert.clone()),
        })
    }

    /// Runs SQL as root; rows come tab-separated, one a line.
    pub fn sql(&self, sql: &str) -> anyhow::Result<String> {
        self.server.sql(sql)
    }
}

impl Deref for Mariadb {
    type Target = MariaDb;
    fn deref(&self) -> &MariaDb {
        &self.server
    }
}

impl crate::WardBuilder {
    /// A MySQL resource `name` for `db`, logging in as `user` (`app`, `app_ed`, `app_tls`) to
    /// schema `app`, over TLS checked against the server's certificate when `db` has TLS.
    pub fn mysql_resource(self, name: &str, db: &Mariadb, user: &str) -> Self {
        self.mysql_resource_with(name, db, user, "")
    }

    /// Like [`crate::WardBuilder::mysql_resource`], with more keys in the resource's table.
    pub fn mysql_resource_with(mut self, name: &str, db: &Mariadb, user: &str, keys: &str) -> Self {
        use std::fmt::Write;
        let tls = if db.cert_pem.is_some() {
            "verify-full"
        } else {
            "disable"
        };
        let _ = write!(
            self.resources,
            "\n[[resources]]\nname = \"{name}\"\nkind = \"mysql\"\naddress = \"{}\"\ndatabase = \"app\"\nuser = \"{user}\"\npassword_file = \"app.pw\"\ntls = \"{tls}\"\nserver_name = \"localhost\"\n{keys}\n",
            db.address()
        );
        if let Some(ca) = &db.cert_pem {
            let _ = writeln!(self.resources, "ca_file = \"{name}-ca.pem\"");
            self.extra_files
                .push((format!("{name}-ca.pem"), ca.clone()));
        }
        self
    }
}

impl crate::Ward {
    /// Runs `sql` through this Ward's MySQL listener with the mariadb client, as `user` on
    /// `resource` with [`crate::PASSWORD`], over TLS checked against Ward's CA, in batch mode,
    /// with `extra` options.
    pub fn mysql_client(&self, user: &str, resource: &str, sql: &str, extra: &[&str]) -> Output {
        let port = self.mysql_port.expect("a MySQL listener").to_string();
        let ca = format!("--ssl-ca={}", self.ca_cert().display());
        let password = format!("-p{}", crate::PASSWORD);
        let mut args = vec![
            "-h",
            "127.0.0.1",
            "-P",
            &port,
            "-u",
            user,
            &password,
            "-D",
            resource,
            "--ssl",
            &ca,
            "--batch",
        ];
        args.extend_from_slice(extra);
        args.extend(["-e", sql]);
        mysql(&args)
    }
}

/// Runs the `mariadb` command-line client as a person would, but reading no option files
/// (`--no-defaults`, so `~/.my.cnf` and `/etc/mysql` cannot change a test), with `args`
/// (`-h 127.0.0.1 -P PORT -u USER -pPASSWORD --ssl -e SQL`, …).
pub fn mysql(args: &[&str]) -> Output {
    let client = ward_local::mariadb::client().unwrap_or_else(|e| panic!("{e:#}"));
    Command::new(&client)
        .arg("--no-defaults")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", client.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `select current_user()` over TCP as `user`, with `extra` options; the account it ran as.
    fn current_user(db: &Mariadb, user: &str, extra: &[&str]) -> String {
        let port = db.port.to_string();
        let password = format!("-p{}", crate::PASSWORD);
        let mut args = vec!["-h", "127.0.0.1", "-P", &port, "-u", user, &password];
        args.extend_from_slice(extra);
        args.extend([
            "--batch",
            "--skip-column-names",
            "-e",
            "select current_user()",
        ]);
        let out = mysql(&args);
        assert!(
            out.status.success(),
            "{user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    #[test]
    fn mariadb_with_tls_logs_in_every_seeded_account() {
        let db = Mariadb::start(true).expect("MariaDB starts");
        assert_eq!(db.sql("select 1").expect("sql").trim(), "1");
        assert_eq!(current_user(&db, "app", &[]), "app@127.0.0.1");
        // ed25519 needs the client's `client_ed25519` plugin (libmariadb3's plugin directory).
        assert_eq!(current_user(&db, "app_ed", &[]), "app_ed@127.0.0.1");
        assert_eq!(
            current_user(&db, "app_tls", &["--ssl"]),
            "app_tls@127.0.0.1"
        );

        // REQUIRE SSL holds: the same account without TLS is refused.
        let port = db.port.to_string();
        let password = format!("-p{}", crate::PASSWORD);
        let plain = mysql(&[
            "-h",
            "127.0.0.1",
            "-P",
            &port,
            "-u",
            "app_tls",
            &password,
            "--skip-ssl",
            "-e",
            "select 1",
        ]);
        assert!(!plain.status.success(), "app_tls logged in without TLS");
    }

    #[test]
    fn mariadb_stops_and_cleans_up_on_drop() {
        let db = Mariadb::start(false).expect("MariaDB starts");
        let (pid, root) = (db.pid().expect("running"), db.root.clone());
        assert!(
            db.sql("select user from mysql.user where user = 'app_tls'")
                .expect("sql")
                .is_empty()
        );
        drop(db);
        assert!(!ward_local::child::alive(pid), "mariadbd {pid} still runs");
        assert!(!root.exists(), "{} is left behind", root.display());
    }
}
