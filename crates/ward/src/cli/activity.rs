//! `ward activity USER`: a person's sessions since a time as one timeline, oldest first: what
//! they asked AI assistants and what the assistants answered and proposed, interleaved with the
//! statements and commands they ran, each linked to the proposal it matches.

use std::io::Write;

use anyhow::Context;
use ward_core::Timestamp;
use ward_store::Store;

use super::shown::inline;

/// `--since` as a time: an RFC 3339 time, or a duration back from now (`24h`, `7d`).
pub fn since(text: &str) -> anyhow::Result<Timestamp> {
    ward_core::activity::since(text).with_context(|| {
        format!("--since `{text}` is neither a duration (24h) nor an RFC 3339 time")
    })
}

pub fn show(
    store: &mut Store,
    user: &str,
    since: Timestamp,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let items = store.activity(user, since, None)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &items)?;
        writeln!(out)?;
        return Ok(());
    }
    if items.is_empty() {
        writeln!(out, "no activity of {} since {since}", inline(user))?;
        return Ok(());
    }
    for item in &items {
        let at = item.at.get(..19).unwrap_or(&item.at).replace('T', " ");
        let session = item.session.get(..8).unwrap_or(&item.session);
        writeln!(
            out,
            "{at}  {:<12} {:<8} {session}  {}",
            inline(&item.resource),
            item.protocol,
            inline(&item.summary)
        )?;
        if let Some(p) = &item.proposed_by {
            let when = p.at.get(11..19).unwrap_or(&p.at);
            writeln!(
                out,
                "{:>21}↳ proposed at {when} in session {} ({}): {}",
                "",
                p.session.get(..8).unwrap_or(&p.session),
                inline(&p.resource),
                inline(&p.text)
            )?;
        }
    }
    Ok(())
}
