//! `ward store migrate`: set up the PostgreSQL store as its owner.

use std::io::Write;

use anyhow::bail;
use ward_config::Config;
use ward_store::{Location, Store};

use crate::serve::store_location;

/// Applies the schema migrations as the owner (`admin_url`) and grants the runtime role of
/// `[store] url` what Ward needs: SELECT and INSERT, and UPDATE on users only.
pub fn migrate(config: &Config, admin_url: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let Location::Postgres(url, tls) = store_location(config)? else {
        bail!(
            "{}: [store] has no url: the SQLite store migrates itself when Ward opens it",
            config.source.display()
        );
    };
    let pg: postgres::Config = url.parse()?;
    let Some(role) = pg.get_user() else {
        bail!("[store] url names no user, so there is no role to grant");
    };
    // The owner reaches the store the way Ward does, over TLS when `[store] tls` is on.
    let applied = Store::migrate_postgres(admin_url, tls.as_ref(), role)?;
    if applied.is_empty() {
        writeln!(out, "store schema is up to date")?;
    } else {
        writeln!(out, "applied migrations {applied:?}")?;
    }
    writeln!(
        out,
        "role {role} may SELECT and INSERT (and UPDATE users); triggers refuse UPDATE, DELETE and TRUNCATE on the audit tables"
    )?;
    Ok(())
}
