//! `ward sessions list` and `ward sessions show`.

use std::io::Write;

use ward_core::Timestamp;
use ward_store::Store;
use ward_store::query::{SessionFilter, SessionRow};

use super::shown::inline;

pub fn list(
    store: &mut Store,
    filter: &SessionFilter,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let rows = store.sessions(filter)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &rows)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<36}  {:<12} {:<12} {:<8} {:<21} {:<20} {:>9} {:<10} {:>6}",
        "ID", "USER", "RESOURCE", "PROTO", "CLIENT", "STARTED", "DURATION", "OUTCOME", "EVENTS"
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:<36}  {:<12} {:<12} {:<8} {:<21} {:<20} {:>9} {:<10} {:>6}",
            r.id,
            inline(&r.user),
            inline(&r.resource),
            r.protocol,
            inline(&r.client_addr),
            r.started_at
                .get(..19)
                .unwrap_or(&r.started_at)
                .replace('T', " "),
            duration(r),
            r.outcome.as_deref().unwrap_or("live"),
            r.event_count
        )?;
    }
    if rows.is_empty() {
        writeln!(out, "(no sessions)")?;
    }
    Ok(())
}

/// `1.2s`, `3m04s`, or `-` for a live session.
pub fn duration(r: &SessionRow) -> String {
    let (Ok(start), Some(Ok(end))) = (
        Timestamp::parse_rfc3339(&r.started_at),
        r.ended_at.as_deref().map(Timestamp::parse_rfc3339),
    ) else {
        return "-".into();
    };
    let secs = (end.0 - start.0) as f64 / 1e9;
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    }
}

pub fn show(store: &mut Store, id: &str, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let session = store.session(id)?;
    let sid = store.resolve_session(id)?;
    let events = store.events(sid)?;
    if json {
        serde_json::to_writer_pretty(
            &mut *out,
            &serde_json::json!({ "session": session, "events": events }),
        )?;
        writeln!(out)?;
        return Ok(());
    }
    header(&session, out)?;
    writeln!(out)?;
    for e in &events {
        // The payload prints as JSON, whose strings escape every control character.
        writeln!(
            out,
            "{:>5}  {}  {:<16} {}",
            e.seq,
            e.at,
            inline(&e.kind),
            e.payload
        )?;
    }
    Ok(())
}

/// The lines that introduce a session in `show` and `replay`.
pub fn header(s: &SessionRow, out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out, "session   {}", s.id)?;
    writeln!(
        out,
        "user      {} (groups: {}; {})",
        inline(&s.user),
        inline(&s.groups.join(", ")),
        s.auth_method
    )?;
    writeln!(
        out,
        "resource  {} [{}] from {}",
        inline(&s.resource),
        s.protocol,
        inline(&s.client_addr)
    )?;
    writeln!(
        out,
        "time      {} → {} ({})",
        s.started_at,
        s.ended_at.as_deref().unwrap_or("still open"),
        duration(s)
    )?;
    writeln!(
        out,
        "outcome   {}; {} events; {} up, {} down",
        s.outcome.as_deref().unwrap_or("live"),
        s.event_count,
        super::bytes(s.bytes_up),
        super::bytes(s.bytes_down)
    )?;
    Ok(())
}

/// Asks the Ward serving session `id` to end it.
pub fn terminate(
    store: &mut Store,
    id: &str,
    reason: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let session = store.session(id)?;
    if session.ended_at.is_some() {
        anyhow::bail!(
            "session {} ended already ({})",
            session.id,
            session.outcome.as_deref().unwrap_or("?")
        );
    }
    store.request_termination(
        &session.id,
        "an administrator (ward sessions terminate)",
        reason,
    )?;
    writeln!(
        out,
        "asked to end session {} ({} on {}); the Ward serving it ends it within a second",
        session.id,
        inline(&session.user),
        inline(&session.resource)
    )?;
    Ok(())
}
