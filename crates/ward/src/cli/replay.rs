//! `ward replay`: a session's statements, results and errors in order, as a person reads them.
//! Recorded text is printed through [`super::shown`], so it cannot drive the reader's terminal;
//! only the terminal player (SSH sessions) writes a recorded terminal as it was.

use std::io::Write;

use serde_json::Value;
use ward_core::Timestamp;
use ward_store::Store;

use super::shown::{block, inline};

/// Rows of a result shown before "… N more rows".
const SHOWN_ROWS: usize = 20;
/// Widest cell shown before it is cut.
const CELL_WIDTH: usize = 40;

/// How a terminal session plays back.
#[derive(Debug, Clone, Copy)]
pub struct Playback {
    /// 2.0 plays twice as fast.
    pub speed: f64,
    /// Pauses longer than this many seconds are cut to it.
    pub skip_idle: Option<f64>,
}

pub fn replay(
    store: &mut Store,
    id: &str,
    playback: Playback,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let session = store.session(id)?;
    let sid = store.resolve_session(id)?;
    let events = store.events(sid)?;
    if session.protocol == "ssh" {
        return play(&events, playback, out);
    }
    super::sessions::header(&session, out)?;
    writeln!(out)?;
    let start = Timestamp::parse_rfc3339(&session.started_at)
        .map(|t| t.0)
        .unwrap_or(0);
    for e in &events {
        let at = Timestamp::parse_rfc3339(&e.at)
            .map(|t| t.0)
            .unwrap_or(start);
        let stamp = format!("[+{:>8.3}s]", (at - start) as f64 / 1e9);
        let p = &e.payload;
        let raw = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("");
        let s = |k: &str| inline(raw(k));
        let text = |k: &str| block(raw(k).trim());
        match e.kind.as_str() {
            "session.start" => writeln!(out, "{stamp} connected from {}", s("client_addr"))?,
            "auth" => writeln!(
                out,
                "{stamp} auth {} ({}) {}",
                s("result"),
                s("method"),
                s("reason")
            )?,
            "policy.decision" => {
                if p.get("allowed").and_then(Value::as_bool) == Some(true) {
                    let who = match (p.pointer("/grant/user"), p.pointer("/grant/group")) {
                        (Some(Value::String(u)), _) => format!("user {u}"),
                        (_, Some(Value::String(g))) => format!("group {g}"),
                        _ => "?".to_owned(),
                    };
                    writeln!(
                        out,
                        "{stamp} allowed by grant to {who}, upstream user {}",
                        s("upstream_user")
                    )?;
                } else {
                    writeln!(out, "{stamp} DENIED: {}", s("reason"))?;
                }
            }
            "agent.note" => writeln!(out, "{stamp} NOTE (agent): {}", text("text"))?,
            "exec.command" => match (p.get("shell"), p.get("subsystem")) {
                (Some(_), _) => writeln!(out, "{stamp} $ (interactive shell)")?,
                (_, Some(name)) => {
                    writeln!(out, "{stamp} $ (subsystem {})", inline(&name.to_string()))?
                }
                _ => writeln!(out, "{stamp} $ {}", text("command"))?,
            },
            "term.output" => {
                for line in ward_web::asciicast::output_text(p).lines() {
                    writeln!(out, "{:13}{}", "", inline(line))?;
                }
            }
            "term.resize" => writeln!(
                out,
                "{stamp} terminal {}x{}",
                p.get("cols").and_then(Value::as_u64).unwrap_or(0),
                p.get("rows").and_then(Value::as_u64).unwrap_or(0)
            )?,
            "exec.exit" => writeln!(
                out,
                "{stamp} exit status {}",
                p.get("status").and_then(Value::as_u64).unwrap_or(0)
            )?,
            "ui.view" => writeln!(
                out,
                "{stamp} viewed session {} ({})",
                s("session"),
                s("what")
            )?,
            "db.query" => {
                // An agent's session queries several resources: each query names its own.
                let resource = p
                    .get("resource")
                    .and_then(Value::as_str)
                    .unwrap_or(&session.resource);
                write!(out, "{stamp} {}=> {}", inline(resource), text("text"))?;
                if let Some(params) = p
                    .get("params")
                    .and_then(Value::as_array)
                    .filter(|a| !a.is_empty())
                {
                    let shown: Vec<String> = params
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map_or("NULL".into(), |s| format!("'{}'", inline(s)))
                        })
                        .collect();
                    write!(out, "   -- params: {}", shown.join(", "))?;
                }
                writeln!(out)?;
            }
            "db.result" => {
                table(p, out)?;
                // Rows and their completion are one event; a result cut short has none.
                if p.get("duration_us").is_some() {
                    completion(p, out)?;
                }
            }
            "db.complete" => completion(p, out)?,
            "db.error" => writeln!(
                out,
                "{stamp} {} {}: {}",
                s("severity"),
                s("code"),
                text("message")
            )?,
            "db.notice" | "session.error" => {
                writeln!(out, "{stamp} {}: {}", s("severity"), text("message"))?
            }
            "db.notification" => {
                writeln!(out, "{stamp} NOTIFY {} {:?}", s("channel"), s("payload"))?
            }
            "db.cancel" => writeln!(out, "{stamp} cancel requested from {}", s("from"))?,
            "db.function_call" => {
                let args: Vec<String> = p
                    .get("args")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(argument).collect())
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{stamp} fast-path call {}({})",
                    s("function"),
                    args.join(", ")
                )?
            }
            "db.function_result" => writeln!(
                out,
                "{:13}returned {} ({:.3} ms)",
                "",
                argument(p.get("result").unwrap_or(&Value::Null)),
                p.get("duration_us").and_then(Value::as_u64).unwrap_or(0) as f64 / 1000.0
            )?,
            "policy.denied" => writeln!(
                out,
                "{stamp} DENIED by guardrail {} ({}), not run",
                s("rule"),
                s("reason")
            )?,
            "db.copy" => {
                let bytes = p.get("bytes").and_then(Value::as_u64).unwrap_or(0);
                writeln!(
                    out,
                    "{stamp} COPY {} {bytes} bytes{}",
                    s("direction"),
                    if p.get("failed") == Some(&Value::Bool(true)) {
                        " (aborted)"
                    } else {
                        ""
                    }
                )?;
                for line in raw("data").lines().take(SHOWN_ROWS) {
                    writeln!(out, "{:13}{}", "", inline(line))?;
                }
            }
            "mask.applied" => {
                let rules: Vec<String> = p
                    .get("rules")
                    .and_then(Value::as_object)
                    .map(|r| {
                        r.iter()
                            .map(|(rule, n)| format!("{} {n}", inline(rule)))
                            .collect()
                    })
                    .unwrap_or_default();
                writeln!(out, "{stamp} masked: {}", rules.join(", "))?;
            }
            "session.end" => writeln!(out, "{stamp} session ended: {}", s("outcome"))?,
            other => writeln!(out, "{stamp} {} {p}", inline(other))?,
        }
    }
    Ok(())
}

/// Plays a terminal session's output as it came, at its pace (scaled by `speed`, pauses cut to
/// `skip_idle`).
fn play(
    events: &[ward_store::query::EventRow],
    playback: Playback,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut last: Option<i64> = None;
    for e in events.iter().filter(|e| e.kind == "term.output") {
        let at = Timestamp::parse_rfc3339(&e.at).map(|t| t.0).unwrap_or(0);
        if let Some(before) = last {
            let mut pause = (at - before).max(0) as f64 / 1e9 / playback.speed.max(0.01);
            if let Some(cap) = playback.skip_idle {
                pause = pause.min(cap);
            }
            out.flush()?;
            std::thread::sleep(std::time::Duration::from_secs_f64(pause));
        }
        last = Some(at);
        out.write_all(ward_web::asciicast::output_text(&e.payload).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// A fast-path argument or result (`{value, bytes, truncated}`), cut like a cell.
fn argument(v: &Value) -> String {
    match v.get("value") {
        Some(value) => {
            let shown = cell(value);
            if v.get("truncated") == Some(&Value::Bool(true)) {
                let bytes = v.get("bytes").and_then(Value::as_u64).unwrap_or(0);
                format!("{shown} ({bytes} bytes, recording truncated)")
            } else {
                shown
            }
        }
        None => "NULL".to_owned(),
    }
}

fn cell(v: &Value) -> String {
    let text = match v {
        Value::Null => "NULL".to_owned(),
        Value::String(s) => inline(s).into_owned(),
        other => other.to_string(),
    };
    if text.chars().count() > CELL_WIDTH {
        let cut: String = text.chars().take(CELL_WIDTH - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

fn table(p: &Value, out: &mut impl Write) -> anyhow::Result<()> {
    let names: Vec<String> = p
        .get("columns")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .map(|c| inline(c.get("name").and_then(Value::as_str).unwrap_or("?")).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = p
        .get("rows")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .take(SHOWN_ROWS)
                .map(|row| {
                    row.as_array()
                        .map(|c| c.iter().map(cell).collect())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    let mut widths: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let pad = " ".repeat(super::shown::INDENT);
    if !names.is_empty() {
        writeln!(out, "{pad}{}", line(&names))?;
        writeln!(
            out,
            "{pad}{}",
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("-+-")
        )?;
    }
    for row in &rows {
        writeln!(out, "{pad}{}", line(row))?;
    }
    let count = p.get("row_count").and_then(Value::as_u64).unwrap_or(0);
    let kept = p.get("rows").and_then(Value::as_array).map_or(0, Vec::len) as u64;
    let mut note = format!("({count} row{})", if count == 1 { "" } else { "s" });
    if count > rows.len() as u64 {
        note.push_str(&format!(", {} shown", rows.len()));
    }
    if p.get("truncated") == Some(&Value::Bool(true)) {
        note.push_str(&format!(", recording truncated after {kept} rows"));
    }
    writeln!(out, "{pad}{note}")?;
    Ok(())
}

/// A statement's command tag and duration.
fn completion(p: &Value, out: &mut impl Write) -> std::io::Result<()> {
    let tag = p
        .get("tag")
        .and_then(Value::as_str)
        .unwrap_or("(empty query)");
    let us = p.get("duration_us").and_then(Value::as_u64).unwrap_or(0);
    writeln!(
        out,
        "{:13}{} ({:.3} ms)",
        "",
        inline(tag),
        us as f64 / 1000.0
    )
}
