//! `ward prune`: remove sessions past the retention period, with a signed prune record.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use ward_config::Config;
use ward_core::Timestamp;
use ward_store::{Location, Store};

use crate::serve::{key_source, open_store, store_tls};

/// Prunes sessions that ended before `before`, or before `[retention] days` ago.
pub fn prune(
    config: &Config,
    before: Option<Timestamp>,
    dry_run: bool,
    json: bool,
    admin_url: Option<&str>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let cutoff = match (before, config.retention.days) {
        (Some(t), _) => t,
        (None, Some(days)) => {
            let age = Duration::from_secs(u64::from(days) * 86_400);
            let nanos = i64::try_from(age.as_nanos()).unwrap_or(i64::MAX);
            Timestamp(Timestamp::now().0.saturating_sub(nanos))
        }
        (None, None) => bail!(
            "{}: no [retention] days set, so nothing expires (or pass --before RFC3339)",
            config.source.display()
        ),
    };
    let key = key_source(config)
        .load()
        .context("loading the signing key for the prune record")?;
    let mut store = match admin_url {
        // On PostgreSQL only the owner may lift the delete triggers.
        Some(url) => Store::open(&Location::Postgres(url.to_owned(), store_tls(config)?))?,
        None => open_store(config)?,
    };
    let report = store.prune(cutoff, &key, dry_run)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    for p in &report.removed {
        writeln!(out, "{verb} {}  {} events", p.session, p.events)?;
    }
    for (id, why) in &report.kept {
        writeln!(
            out,
            "KEPT {id}: does not verify ({why}); investigate before pruning"
        )?;
    }
    match report.record {
        Some(seq) => writeln!(
            out,
            "{} session(s) removed before {}; signed prune record {seq}",
            report.removed.len(),
            cutoff.to_rfc3339()
        )?,
        None => writeln!(
            out,
            "{} session(s) {verb} before {}",
            report.removed.len(),
            cutoff.to_rfc3339()
        )?,
    }
    Ok(())
}
