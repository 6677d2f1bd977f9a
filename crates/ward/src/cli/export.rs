//! `ward export ID --out FILE`: one self-contained, offline-verifiable file per session, or
//! (`--format asciicast`) a terminal session for asciinema; `ward export --user USER --out DIR`:
//! a person's timeline, as the bundles of its sessions and the timeline that points into them.

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

/// `ward export --user USER --since … --out DIR`: `DIR/SESSION.json`, the bundle of each
/// session on the person's timeline, and `DIR/timeline.json` (`ward.timeline.v1`): the timeline
/// as `ward activity --json` shows it, each step naming its session and event, so that every
/// step can be checked in its bundle.
pub fn export_timeline(
    store: &mut Store,
    user: &str,
    since: ward_core::Timestamp,
    dir: &Path,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let items = store.activity(user, since, None)?;
    let mut sessions: Vec<String> = Vec::new();
    for item in &items {
        if !sessions.contains(&item.session) {
            sessions.push(item.session.clone());
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for id in &sessions {
        let sid = store.resolve_session(id)?;
        let path = dir.join(format!("{id}.json"));
        let mut file = create(&path)?;
        store
            .write_bundle(sid, &mut file)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let timeline = serde_json::json!({
        "format": "ward.timeline.v1",
        "user": user,
        "since": since.to_rfc3339(),
        "exported_at": ward_core::Timestamp::now().to_rfc3339(),
        "sessions": sessions,
        "items": items,
    });
    let path = dir.join("timeline.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&timeline)?)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(
        out,
        "wrote {}: {} steps of {user} in {} session bundle(s)",
        dir.display(),
        items.len(),
        sessions.len()
    )?;
    writeln!(
        out,
        "verify each anywhere with: ward verify --bundle {}/SESSION.json --key <public key>",
        dir.display()
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
