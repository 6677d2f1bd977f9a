//! `ward export ID --out FILE`: one self-contained, offline-verifiable file per session, or
//! (`--format asciicast`) a terminal session for asciinema.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use ward_store::Store;

pub fn export(
    store: &mut Store,
    id: &str,
    path: &Path,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let sid = store.resolve_session(id)?;
    let mut file = create(path)?;
    let written = store
        .write_bundle(sid, &mut file)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(
        out,
        "wrote {}: session {}, {} events, {} checkpoint(s), {} key(s)",
        path.display(),
        written.session,
        written.events,
        written.checkpoints,
        written.keys
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
    let mut file = create(path)?;
    let page = |after| store.events_page(sid, after, 200);
    let lines = ward_web::asciicast::write_asciicast(&session, page, &mut file)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(
        out,
        "wrote {}: asciicast v2 of session {}, {lines} lines; play it with `asciinema play {}`",
        path.display(),
        session.id,
        path.display()
    )?;
    Ok(())
}

/// `path`, created or truncated, buffered.
fn create(path: &Path) -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
    let file =
        std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    Ok(std::io::BufWriter::new(file))
}
