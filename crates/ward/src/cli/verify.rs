//! `ward verify`: recompute every hash chain and name the first break.

use std::io::Write;

use ward_audit::Store;
use ward_audit::verify::Status;

/// Prints one line per session; returns false when any session is broken.
pub fn verify(
    store: &Store,
    session: Option<&str>,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    let only = session.map(|s| store.resolve_session(s)).transpose()?;
    let verdicts = store.verify(only)?;
    let ok = verdicts.iter().all(|v| v.status == Status::Intact);
    if json {
        serde_json::to_writer_pretty(
            &mut *out,
            &serde_json::json!({ "ok": ok, "sessions": verdicts }),
        )?;
        writeln!(out)?;
        return Ok(ok);
    }
    for v in &verdicts {
        match &v.status {
            Status::Intact => writeln!(
                out,
                "intact    {}  {} events, chain verified",
                v.session, v.events
            )?,
            Status::Tampered { seq, reason } => {
                writeln!(out, "TAMPERED  {}  at seq {seq}: {reason}", v.session)?;
            }
            Status::MissingEvents {
                after_seq,
                expected,
                found,
            } => {
                let after = after_seq.map_or("the start".to_owned(), |s| format!("seq {s}"));
                writeln!(
                    out,
                    "MISSING   {}  events missing after {after}: record says {expected}, found {found}",
                    v.session
                )?;
            }
        }
    }
    let broken = verdicts
        .iter()
        .filter(|v| v.status != Status::Intact)
        .count();
    writeln!(
        out,
        "{} session(s) checked, {broken} broken",
        verdicts.len()
    )?;
    writeln!(
        out,
        "(hash chains only: signed checkpoints are not implemented yet)"
    )?;
    Ok(ok)
}
