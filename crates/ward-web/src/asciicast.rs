//! A recorded terminal session as asciicast v2, the format asciinema's player and tools read:
//! a JSON header line, then `[seconds, "o", text]` for output, `[seconds, "r", "COLSxROWS"]`
//! for a resize and `[seconds, "m", label]` markers where a command started.

use std::io::Write;

use serde_json::json;
use ward_core::Timestamp;
use ward_core::payload::{Payload, TermResize, Terminal};
use ward_store::query::{EventRow, SessionRow};

/// The terminal size when the recording names none.
const DEFAULT_SIZE: (u64, u64) = (80, 24);

/// A recorded size, unless it is empty.
fn size(r: &TermResize) -> Option<(u64, u64)> {
    (r.cols > 0 && r.rows > 0).then_some((r.cols, r.rows))
}

/// Writes the asciicast of `session` to `out`, reading its events a page at a time with
/// `page` (the events after a seq, and whether more may follow), so a terminal session of any
/// length is converted in bounded memory. The header's size is the first one recorded in the
/// first page (a terminal's size comes with its request, at the start). Returns the lines
/// written.
pub fn write_asciicast<E>(
    session: &SessionRow,
    mut page: impl FnMut(Option<i64>) -> Result<(Vec<EventRow>, bool), E>,
    out: &mut dyn Write,
) -> anyhow::Result<u64>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let start = Timestamp::parse_rfc3339(&session.started_at)
        .map(|t| t.0)
        .unwrap_or(0);
    let seconds = |e: &EventRow| {
        let at = Timestamp::parse_rfc3339(&e.at)
            .map(|t| t.0)
            .unwrap_or(start);
        (((at - start).max(0) as f64) / 1e9 * 1e6).round() / 1e6
    };
    let (mut events, mut more) = page(None)?;
    let first_size = events
        .iter()
        .find(|e| e.kind == "term.resize")
        .and_then(|e| match e.read()? {
            Payload::TermResize(r) => size(&r),
            _ => None,
        })
        .unwrap_or(DEFAULT_SIZE);
    let header = json!({
        "version": 2,
        "width": first_size.0,
        "height": first_size.1,
        "timestamp": start / 1_000_000_000,
        "title": format!("{}@{}", session.user, session.resource),
        "env": { "TERM": "xterm-256color" },
    });
    writeln!(out, "{header}")?;
    let mut lines = 1;
    let mut sized = false;
    loop {
        for e in &events {
            let line = match e.read() {
                Some(Payload::TermOutput(t)) => json!([seconds(e), "o", output_text(&t)]),
                Some(Payload::TermResize(r)) => {
                    // The first size is the header's.
                    let Some((cols, rows)) = size(&r) else {
                        continue;
                    };
                    if !sized {
                        sized = true;
                        continue;
                    }
                    json!([seconds(e), "r", format!("{cols}x{rows}")])
                }
                Some(Payload::ExecCommand(c)) => {
                    let label = match (c.shell, c.subsystem) {
                        (Some(_), _) => "shell".to_owned(),
                        (_, Some(s)) => format!("subsystem {s}"),
                        _ => format!("$ {}", c.command.unwrap_or_default()),
                    };
                    json!([seconds(e), "m", label])
                }
                _ => continue,
            };
            writeln!(out, "{line}")?;
            lines += 1;
        }
        let after = events.last().map(|e| e.seq);
        if !more || after.is_none() {
            break;
        }
        (events, more) = page(after)?;
    }
    out.flush()?;
    Ok(lines)
}

/// What a `term.output` event showed: its `data`, its `data_b64` bytes as text, or a line
/// saying how much output a command sent past the recording cap.
pub fn output_text(output: &Terminal) -> std::borrow::Cow<'_, str> {
    if let Some(text) = &output.data {
        return text.into();
    }
    if let Some(n) = output.bytes_not_stored {
        return format!("\r\n[Ward: {n} more bytes of output, not stored]\r\n").into();
    }
    use base64::Engine as _;
    let bytes = output
        .data_b64
        .as_deref()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned().into()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn event(seq: i64, at: &str, kind: &str, payload: Value) -> EventRow {
        EventRow {
            seq,
            at: at.into(),
            kind: kind.into(),
            payload,
            hash: String::new(),
        }
    }

    #[test]
    fn output_resizes_and_markers_with_offsets_from_the_start() {
        let session: SessionRow = serde_json::from_value(json!({
            "id": "x", "user": "alice", "groups": [], "auth_method": "password", "resource": "web1",
            "protocol": "ssh", "client_addr": "", "started_at": "2026-11-26T10:00:00Z",
            "ended_at": null, "outcome": null, "bytes_up": 0, "bytes_down": 0, "event_count": 5
        }))
        .expect("row");
        let events = [
            event(
                1,
                "2026-11-26T10:00:00.5Z",
                "term.resize",
                json!({ "cols": 120, "rows": 40 }),
            ),
            event(
                2,
                "2026-11-26T10:00:01Z",
                "exec.command",
                json!({ "shell": true }),
            ),
            event(
                3,
                "2026-11-26T10:00:01.25Z",
                "term.output",
                json!({ "data": "$ ls\r\n" }),
            ),
            event(
                4,
                "2026-11-26T10:00:02Z",
                "term.resize",
                json!({ "cols": 100, "rows": 30 }),
            ),
            event(5, "2026-11-26T10:00:03Z", "auth", json!({})),
        ];
        // Two pages: the writer follows them.
        let pages = [events[..2].to_vec(), events[2..].to_vec()];
        let mut out = Vec::new();
        let written = write_asciicast(
            &session,
            |after| {
                let i = usize::from(after.is_some());
                Ok::<_, std::io::Error>((pages[i].clone(), i == 0))
            },
            &mut out,
        )
        .expect("written");
        assert_eq!(written, 4);
        let lines: Vec<Value> = String::from_utf8(out)
            .expect("UTF-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        assert_eq!(lines[0]["version"], 2);
        assert_eq!(
            (lines[0]["width"].clone(), lines[0]["height"].clone()),
            (json!(120), json!(40))
        );
        assert_eq!(lines[0]["title"], "alice@web1");
        assert_eq!(lines[1], json!([1.0, "m", "shell"]));
        assert_eq!(lines[2], json!([1.25, "o", "$ ls\r\n"]));
        assert_eq!(lines[3], json!([2.0, "r", "100x30"]));
        assert_eq!(lines.len(), 4);
    }
}
