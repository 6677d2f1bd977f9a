//! `ward export ID --out FILE`: one self-contained, offline-verifiable file per session, or
//! (`--format asciicast`) a terminal session for asciinema.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use ward_audit::Store;

pub fn export(
    store: &mut Store,
    id: &str,
    path: &Path,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let sid = store.resolve_session(id)?;
    let bundle = store.export(sid)?;
    let text = serde_json::to_vec_pretty(&bundle)?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    writeln!(
        out,
        "wrote {}: session {}, {} events, {} checkpoint(s), {} key(s)",
        path.display(),
        bundle.session.id,
        bundle.events.len(),
        bundle.checkpoints.len(),
        bundle.keys.len()
    )?;
    writeln!(
        out,
        "verify it anywhere with: ward verify --bundle {} --key <public key>",
        path.display()
    )?;
    Ok(())
}

/// `ward export ID --format asciicast --out FILE`: a terminal session for asciinema.
pub fn export_asciicast(
    store: &mut Store,
    id: &str,
    path: &Path,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let session = store.session(id)?;
    let sid = store.resolve_session(id)?;
    let events = store.events(sid)?;
    let cast = crate::asciicast::asciicast(&session, &events);
    std::fs::write(path, &cast).with_context(|| format!("writing {}", path.display()))?;
    writeln!(
        out,
        "wrote {}: asciicast v2 of session {}, {} lines; play it with `asciinema play {}`",
        path.display(),
        session.id,
        cast.lines().count(),
        path.display()
    )?;
    Ok(())
}
