//! A person's activity: the steps of their sessions since a time, in time order, with what
//! an AI assistant proposed linked to what then ran (`ward activity`, the web UI's timeline).
//! Everything comes from the recorded events, as stored (masked), so it is as verifiable as
//! they are.

use serde_json::Value;
use ward_core::activity::{self, ActivityItem};
use ward_core::{SessionId, Timestamp};

use crate::db::params;
use crate::query::{SessionFilter, event_row};
use crate::{Store, StoreError};

/// Sessions read for one timeline at most (newest first).
pub const MAX_SESSIONS: u32 = 1000;

/// The kinds a timeline shows.
const KINDS: &str = "'session.start', 'ai.prompt', 'ai.completion', 'db.query', 'exec.command', \
     'term.input', 'agent.note', 'policy.denied', 'http.request', 'session.terminated'";

/// Text cut to `n` characters for a summary.
fn cut(text: &str, n: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}

fn str_of<'a>(p: &'a Value, key: &str) -> &'a str {
    p[key].as_str().unwrap_or_default()
}

/// What an event says on a timeline: its summary, what it proposes, what it ran.
fn describe(kind: &str, p: &Value) -> (String, Vec<String>, Vec<String>) {
    match kind {
        "session.start" => {
            let reason = p["reason"]
                .as_str()
                .map(|r| format!(" (reason: {})", cut(r, 80)))
                .unwrap_or_default();
            (
                format!("{} session started{reason}", str_of(p, "protocol")),
                vec![],
                vec![],
            )
        }
        "ai.prompt" => {
            let asked = p["messages"]
                .as_array()
                .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
                .map(|m| cut(str_of(m, "text"), 200))
                .unwrap_or_default();
            (
                format!("asked {}: {asked}", str_of(p, "model")),
                vec![],
                vec![],
            )
        }
        "ai.completion" => {
            let calls: Vec<&Value> = p["tool_calls"].as_array().into_iter().flatten().collect();
            let args: Vec<&str> = calls.iter().map(|c| str_of(c, "arguments")).collect();
            let proposals = activity::proposals(str_of(p, "text"), &args);
            let mut summary = format!(
                "{} answered: {}",
                str_of(p, "model"),
                cut(str_of(p, "text"), 200)
            );
            for c in &calls {
                summary.push_str(&format!(
                    "; proposes {}({})",
                    str_of(c, "name"),
                    cut(str_of(c, "arguments"), 120)
                ));
            }
            (summary, proposals, vec![])
        }
        "db.query" => {
            let text = str_of(p, "text");
            (cut(text, 300), vec![], activity::statements(text))
        }
        "exec.command" => match p["command"].as_str() {
            Some(c) => (format!("$ {}", cut(c, 300)), vec![], vec![c.to_owned()]),
            None => ("shell opened".to_owned(), vec![], vec![]),
        },
        "term.input" => match p["data"].as_str() {
            Some(d) => (
                format!("typed: {}", cut(d, 300)),
                vec![],
                vec![d.to_owned()],
            ),
            None => ("typed a hidden line".to_owned(), vec![], vec![]),
        },
        "agent.note" => (
            format!("note: {}", cut(str_of(p, "text"), 300)),
            vec![],
            vec![],
        ),
        "policy.denied" => {
            let what = p["command"]
                .as_str()
                .or(p["message"].as_str())
                .unwrap_or_default();
            (
                format!("denied by {}: {}", str_of(p, "rule"), cut(what, 200)),
                vec![],
                vec![],
            )
        }
        "http.request" => (
            format!("{} {}", str_of(p, "method"), cut(str_of(p, "path"), 200)),
            vec![],
            vec![],
        ),
        "session.terminated" => (
            format!(
                "terminated by {}: {}",
                str_of(p, "by"),
                cut(str_of(p, "reason"), 200)
            ),
            vec![],
            vec![],
        ),
        _ => (kind.to_owned(), vec![], vec![]),
    }
}

impl Store {
    /// The timeline of `user`'s sessions started from `since` (until `until`), oldest first,
    /// with statements and commands linked to the assistant's answers that proposed them.
    pub fn activity(
        &mut self,
        user: &str,
        since: Timestamp,
        until: Option<Timestamp>,
    ) -> Result<Vec<ActivityItem>, StoreError> {
        let filter = SessionFilter {
            user: Some(user.to_owned()),
            since: Some(since),
            until,
            limit: Some(MAX_SESSIONS),
            ..SessionFilter::default()
        };
        let sessions = self.sessions(&filter)?;
        let mut steps: Vec<(ActivityItem, Vec<String>)> = Vec::new();
        // Sessions that reach resources; a viewer's web sign-in only looks at others.
        for s in sessions.iter().filter(|s| s.protocol != "web") {
            let Ok(id) = s.id.parse::<SessionId>() else {
                continue;
            };
            let mut rows = Vec::new();
            self.db.for_each(
                &format!("SELECT seq, at, kind, payload, compressed, hash FROM events WHERE session_id = ?1 AND kind IN ({KINDS}) ORDER BY seq"),
                &params![id.0.as_bytes().as_slice()],
                |r| {
                    rows.push(event_row(r)?.0);
                    Ok(true)
                },
            )?;
            // An AI model's requests are shown as their prompts, not as HTTP.
            let ai = rows.iter().any(|r| r.kind == "ai.prompt");
            for row in rows {
                if ai && row.kind == "http.request" {
                    continue;
                }
                let (summary, proposals, ran) = describe(&row.kind, &row.payload);
                let at_ns = Timestamp::parse_rfc3339(&row.at).map_or(0, |t| t.0);
                let item = ActivityItem {
                    at: row.at,
                    at_ns,
                    session: s.id.clone(),
                    resource: s.resource.clone(),
                    protocol: s.protocol.clone(),
                    seq: row.seq,
                    kind: row.kind,
                    summary,
                    proposals,
                    proposed_by: None,
                };
                steps.push((item, ran));
            }
        }
        steps.sort_by(|a, b| {
            (a.0.at_ns, &a.0.session, a.0.seq).cmp(&(b.0.at_ns, &b.0.session, b.0.seq))
        });
        let (mut items, runs): (Vec<ActivityItem>, Vec<Vec<String>>) = steps.into_iter().unzip();
        activity::link(&mut items, &runs);
        Ok(items)
    }
}
