//! `ward replay`: a session's statements, results and errors in order, as a person reads them.
//! Recorded text is printed through [`super::shown`], so it cannot drive the reader's terminal;
//! only the terminal player (SSH sessions) writes a recorded terminal as it was.

use std::io::Write;

use ward_core::Timestamp;
use ward_core::payload::{CallValue, DbResult, GrantRef, Payload};
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
        let s = |v: &Option<String>| inline(v.as_deref().unwrap_or_default()).into_owned();
        let text = |v: &str| block(v.trim()).into_owned();
        let Some(payload) = e.read() else {
            writeln!(out, "{stamp} {} {}", inline(&e.kind), e.payload)?;
            continue;
        };
        match payload {
            Payload::SessionStart(p) => {
                writeln!(out, "{stamp} connected from {}", inline(&p.client_addr))?
            }
            Payload::Auth(p) => writeln!(
                out,
                "{stamp} auth {} ({}) {}",
                inline(&p.result),
                inline(&p.method),
                s(&p.reason)
            )?,
            Payload::PolicyDecision(p) if p.allowed => {
                let who = match p.grant {
                    Some(GrantRef { user: Some(u), .. }) => format!("user {}", inline(&u)),
                    Some(GrantRef { group: Some(g), .. }) => format!("group {}", inline(&g)),
                    _ => "?".to_owned(),
                };
                writeln!(
                    out,
                    "{stamp} allowed by grant to {who}, upstream user {}",
                    s(&p.upstream_user)
                )?;
            }
            Payload::PolicyDecision(p) => writeln!(out, "{stamp} DENIED: {}", s(&p.reason))?,
            Payload::AgentNote(p) => writeln!(out, "{stamp} NOTE (agent): {}", text(&p.text))?,
            Payload::ExecCommand(p) => match (p.shell, p.subsystem) {
                (Some(_), _) => writeln!(out, "{stamp} $ (interactive shell)")?,
                (_, Some(name)) => writeln!(out, "{stamp} $ (subsystem {})", inline(&name))?,
                _ => writeln!(
                    out,
                    "{stamp} $ {}",
                    text(p.command.as_deref().unwrap_or_default())
                )?,
            },
            Payload::TermOutput(p) => {
                for line in ward_web::asciicast::output_text(&p).lines() {
                    writeln!(out, "{:13}{}", "", inline(line))?;
                }
            }
            Payload::TermResize(p) => writeln!(out, "{stamp} terminal {}x{}", p.cols, p.rows)?,
            Payload::ExecExit(p) => match (p.status, p.signal) {
                (_, Some(signal)) => writeln!(out, "{stamp} killed by signal {}", inline(&signal))?,
                (status, None) => writeln!(out, "{stamp} exit status {}", status.unwrap_or(0))?,
            },
            Payload::UiView(p) => writeln!(
                out,
                "{stamp} viewed session {} ({})",
                inline(&p.session),
                inline(&p.what)
            )?,
            Payload::DbQuery(p) => {
                // An agent's session queries several resources: each query names its own.
                let resource = p.resource.as_deref().unwrap_or(&session.resource);
                write!(out, "{stamp} {}=> {}", inline(resource), text(&p.text))?;
                if let Some(params) = p.params.filter(|p| !p.is_empty()) {
                    let shown: Vec<String> = params
                        .iter()
                        .map(|v| {
                            v.as_deref()
                                .map_or("NULL".into(), |s| format!("'{}'", inline(s)))
                        })
                        .collect();
                    write!(out, "   -- params: {}", shown.join(", "))?;
                }
                writeln!(out)?;
            }
            Payload::DbResult(p) => {
                table(&p, out)?;
                // Rows and their completion are one event; a result cut short has none.
                if let Some(us) = p.duration_us {
                    completion(p.tag.as_deref(), us, out)?;
                }
            }
            Payload::DbComplete(p) => completion(p.tag.as_deref(), p.duration_us, out)?,
            Payload::DbError(p) => writeln!(
                out,
                "{stamp} {} {}: {}",
                s(&p.severity),
                s(&p.code),
                text(&p.message)
            )?,
            Payload::DbNotice(p) => {
                writeln!(out, "{stamp} {}: {}", s(&p.severity), text(&p.message))?
            }
            Payload::SessionError(p) => {
                writeln!(out, "{stamp} {}: {}", inline(&p.severity), text(&p.message))?
            }
            Payload::DbNotification(p) => writeln!(
                out,
                "{stamp} NOTIFY {} {:?}",
                inline(&p.channel),
                inline(&p.payload)
            )?,
            Payload::DbCancel(p) => {
                writeln!(out, "{stamp} cancel requested from {}", inline(&p.from))?
            }
            Payload::DbFunctionCall(p) => {
                let args: Vec<String> = p.args.iter().map(|a| argument(a.as_ref())).collect();
                writeln!(
                    out,
                    "{stamp} fast-path call {}({})",
                    inline(&p.function),
                    args.join(", ")
                )?
            }
            Payload::DbFunctionResult(p) => writeln!(
                out,
                "{:13}returned {} ({:.3} ms)",
                "",
                argument(p.result.as_ref()),
                p.duration_us as f64 / 1000.0
            )?,
            Payload::PolicyDenied(p) => writeln!(
                out,
                "{stamp} DENIED by guardrail {} ({}), not run",
                s(&p.rule),
                s(&p.reason)
            )?,
            Payload::DbCopy(p) => {
                writeln!(
                    out,
                    "{stamp} COPY {} {} bytes{}",
                    inline(&p.direction),
                    p.bytes,
                    if p.failed { " (aborted)" } else { "" }
                )?;
                for line in p.data.unwrap_or_default().lines().take(SHOWN_ROWS) {
                    writeln!(out, "{:13}{}", "", inline(line))?;
                }
            }
            Payload::MaskApplied(p) => {
                let rules: Vec<String> = p
                    .rules
                    .iter()
                    .map(|(rule, n)| format!("{} {n}", inline(rule)))
                    .collect();
                writeln!(out, "{stamp} masked: {}", rules.join(", "))?;
            }
            Payload::SessionEnd(p) => {
                writeln!(out, "{stamp} session ended: {}", inline(&p.outcome))?
            }
            _ => writeln!(out, "{stamp} {} {}", inline(&e.kind), e.payload)?,
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
        if let Some(Payload::TermOutput(output)) = e.read() {
            out.write_all(ward_web::asciicast::output_text(&output).as_bytes())?;
        }
    }
    out.flush()?;
    Ok(())
}

/// A fast-path argument or result, cut like a cell.
fn argument(v: Option<&CallValue>) -> String {
    match v {
        Some(v) if v.truncated => format!(
            "{} ({} bytes, recording truncated)",
            cell(Some(&v.value)),
            v.bytes
        ),
        Some(v) => cell(Some(&v.value)),
        None => "NULL".to_owned(),
    }
}

fn cell(v: Option<&str>) -> String {
    let text = match v {
        None => "NULL".to_owned(),
        Some(s) => inline(s).into_owned(),
    };
    if text.chars().count() > CELL_WIDTH {
        let cut: String = text.chars().take(CELL_WIDTH - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

fn table(p: &DbResult, out: &mut impl Write) -> anyhow::Result<()> {
    let names: Vec<String> = p
        .columns
        .iter()
        .map(|c| inline(&c.name).into_owned())
        .collect();
    let rows: Vec<Vec<String>> = p
        .rows
        .iter()
        .take(SHOWN_ROWS)
        .map(|row| row.iter().map(|c| cell(c.as_deref())).collect())
        .collect();
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
    let count = p.row_count;
    let kept = p.rows.len();
    let mut note = format!("({count} row{})", if count == 1 { "" } else { "s" });
    if count > rows.len() as u64 {
        note.push_str(&format!(", {} shown", rows.len()));
    }
    if p.truncated {
        note.push_str(&format!(", recording truncated after {kept} rows"));
    }
    writeln!(out, "{pad}{note}")?;
    Ok(())
}

/// A statement's command tag and duration.
fn completion(tag: Option<&str>, us: u64, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:13}{} ({:.3} ms)",
        "",
        inline(tag.unwrap_or("(empty query)")),
        us as f64 / 1000.0
    )
}
