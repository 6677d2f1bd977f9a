//! `ward verify`: recompute every hash chain, check every signed checkpoint, and name the first
//! break of each session; or do the same for an export bundle, offline.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use ward_store::Store;
use ward_store::bundle::Bundle;
use ward_store::keys::PublicKey;
use ward_store::verify::{AnchorStatus, CheckpointStatus, Report, Status};

/// Parses `--key` values: a public key (`ed25519:<base64>`) or a file that holds one.
pub fn anchors(keys: &[String]) -> anyhow::Result<Vec<PublicKey>> {
    keys.iter()
        .map(|k| match PublicKey::parse(k) {
            Ok(key) => Ok(key),
            Err(e) if Path::new(k).is_file() => {
                let text = std::fs::read_to_string(k).with_context(|| format!("reading {k}"))?;
                let line = text
                    .lines()
                    .map(str::trim)
                    .find(|l| l.starts_with("ed25519:"))
                    .ok_or(e)?;
                Ok(PublicKey::parse(line)?)
            }
            Err(e) => Err(e.into()),
        })
        .collect()
}

/// Parses `--anchor SEQ:HASH` (a checkpoint seq and its hex hash, as `ward verify` prints them).
pub fn anchor(text: &str) -> anyhow::Result<(u64, [u8; 32])> {
    let parsed = text.split_once(':').and_then(|(seq, hash)| {
        let hash: [u8; 32] = hex::decode(hash.trim()).ok()?.try_into().ok()?;
        Some((seq.trim().parse().ok()?, hash))
    });
    parsed.with_context(|| {
        format!("--anchor `{text}`: expected SEQ:HASH, a checkpoint seq and its 64 hex digits")
    })
}

/// How to report a verification.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    /// Sessions without a signed end (`open`) do not fail the verification.
    pub allow_open: bool,
}

/// Verifies the store (one session, or all), and that it still holds `anchor` if one is given;
/// prints a report and returns whether it is sound and complete.
pub fn verify_store(
    store: &mut Store,
    session: Option<&str>,
    keys: &[PublicKey],
    anchor: Option<(u64, [u8; 32])>,
    how: Output,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    let only = session.map(|s| store.resolve_session(s)).transpose()?;
    let mut report = store.verify(only, keys)?;
    if let Some((seq, hash)) = anchor {
        store.check_anchor(&mut report, seq, &hash)?;
    }
    report.judge(how.allow_open);
    print(&report, how.json, out)?;
    Ok(report.ok)
}

/// Verifies an export bundle with nothing but the file and the keys given.
pub fn verify_bundle(
    path: &Path,
    keys: &[PublicKey],
    how: Output,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let bundle = Bundle::parse(&text).with_context(|| path.display().to_string())?;
    let mut report = bundle.verify(keys)?;
    report.judge(how.allow_open);
    print(&report, how.json, out)?;
    Ok(report.ok)
}

fn print(report: &Report, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        writeln!(out)?;
        return Ok(());
    }
    let (mut verified, mut open, mut pruned, mut broken) = (0, 0, 0, 0);
    for v in &report.sessions {
        let label = match &v.status {
            Status::Verified { .. } => {
                verified += 1;
                "verified"
            }
            Status::Open { .. } => {
                open += 1;
                "OPEN"
            }
            Status::Pruned { .. } => {
                pruned += 1;
                "pruned"
            }
            Status::MissingEvents { .. } | Status::MissingSession { .. } => {
                broken += 1;
                "MISSING"
            }
            Status::Tampered { .. } | Status::Orphaned => {
                broken += 1;
                "TAMPERED"
            }
        };
        writeln!(
            out,
            "{label:<14} {}  {}",
            v.session,
            v.status.describe(v.events)
        )?;
    }
    match &report.checkpoint_chain {
        CheckpointStatus::Ok => writeln!(
            out,
            "checkpoints: {} checked, signatures and links valid",
            report.checkpoints
        )?,
        CheckpointStatus::Broken { seq, reason } => {
            writeln!(out, "CHECKPOINT {seq} BROKEN: {reason}")?;
        }
        CheckpointStatus::Unsigned => writeln!(
            out,
            "UNSIGNED: no checkpoint in this bundle is signed by a trusted key, so nothing vouches for it"
        )?,
    }
    match &report.anchor {
        Some(AnchorStatus::Held { seq }) => writeln!(
            out,
            "anchor: checkpoint {seq} is held unchanged, and every later checkpoint links to it"
        )?,
        Some(AnchorStatus::Broken { seq, reason }) => {
            writeln!(out, "ANCHOR {seq} BROKEN: {reason}")?;
        }
        None => {}
    }
    if let Some(newest) = &report.newest_checkpoint {
        writeln!(
            out,
            "newest checkpoint: {}:{} (keep it outside the store; `ward verify --anchor` with it later proves nothing signed by then was removed)",
            newest.seq, newest.hash
        )?;
    }
    if report.trust.anchored {
        writeln!(out, "trusted keys: {}", report.trust.keys.join(", "))?;
    } else {
        writeln!(
            out,
            "trusted keys: the record's own ({}); pass --key with a public key you trust for an independent check",
            report.trust.keys.join(", ")
        )?;
    }
    writeln!(
        out,
        "{} session(s): {verified} verified, {open} open (no signed end), {broken} broken{}",
        report.sessions.len(),
        if pruned > 0 {
            format!(", {pruned} pruned")
        } else {
            String::new()
        }
    )?;
    Ok(())
}
