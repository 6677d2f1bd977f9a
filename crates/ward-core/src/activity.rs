//! A person's activity across their sessions, in time order, and the links between what an AI
//! assistant proposed and what then ran: a statement or command that matches, by normalised
//! text, one an assistant's answer proposed shortly before is linked to that proposal.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The start of a timeline as people write it: a duration back from now (`24h`, `7d`), or an
/// RFC 3339 time; `None` when it is neither.
pub fn since(text: &str) -> Option<crate::Timestamp> {
    match crate::ConfigDuration::parse(text) {
        Some(back) => {
            let back = i64::try_from(back.0.as_nanos()).unwrap_or(i64::MAX);
            Some(crate::Timestamp(
                crate::Timestamp::now().0.saturating_sub(back),
            ))
        }
        None => crate::Timestamp::parse_rfc3339(text).ok(),
    }
}

/// How long after a proposal a matching statement or command is linked to it.
pub const LINK_WINDOW_SECS: i64 = 3600;

/// One step of a person's activity.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ActivityItem {
    /// RFC 3339.
    pub at: String,
    /// Nanoseconds since the epoch, for ordering.
    #[serde(skip)]
    pub at_ns: i64,
    pub session: String,
    pub resource: String,
    pub protocol: String,
    /// The event's place in its session's chain.
    pub seq: i64,
    /// The event's kind (`ai.prompt`, `ai.completion`, `db.query`, `exec.command`, …).
    pub kind: String,
    /// One line saying what happened (masked, as recorded).
    pub summary: String,
    /// An assistant's answer: the statements and commands it proposed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proposals: Vec<String>,
    /// A statement or command that an assistant proposed shortly before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposed_by: Option<Proposal>,
}

/// Where a statement or command was proposed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Proposal {
    pub session: String,
    pub seq: i64,
    /// RFC 3339.
    pub at: String,
    pub resource: String,
    /// The proposal as the assistant wrote it.
    pub text: String,
}

/// A statement or command as compared: whitespace runs collapsed, ASCII case folded outside
/// quotes (SQL keywords and identifiers are case-insensitive; literals are not), trailing
/// semicolons and whitespace dropped.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut space = false;
    for c in text.trim().chars() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => space = true,
            None => {
                if space && !out.is_empty() {
                    out.push(' ');
                }
                space = false;
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                out.push(c.to_ascii_lowercase());
            }
        }
    }
    while out.ends_with([';', ' ']) {
        out.pop();
    }
    out
}

/// The statements of a text (SQL split at semicolons outside quotes; each non-empty).
pub fn statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in text.chars() {
        current.push(c);
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == ';' => {
                out.push(std::mem::take(&mut current));
            }
            None => {}
        }
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.trim_end_matches(';').trim().is_empty())
        .collect()
}

/// What an answer proposes: the statements of its fenced code blocks (shell blocks line by
/// line), and the string arguments of its tool calls that name code (`sql`, `query`,
/// `command`, `cmd`, `statement`, `script`).
pub fn proposals(text: &str, tool_arguments: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(lang) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        let shell = matches!(lang.trim(), "sh" | "bash" | "shell" | "console" | "zsh");
        let block: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.trim_start().starts_with("```"))
            .collect();
        if shell {
            found.extend(
                block
                    .iter()
                    .map(|l| l.trim().trim_start_matches("$ ").to_owned())
                    .filter(|l| !l.is_empty() && !l.starts_with('#')),
            );
        } else {
            found.extend(statements(&block.join("\n")));
        }
    }
    const CODE: [&str; 6] = ["sql", "query", "command", "cmd", "statement", "script"];
    for args in tool_arguments {
        let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(args) else {
            continue;
        };
        for (key, value) in fields {
            if let Some(code) = value.as_str().filter(|_| CODE.contains(&key.as_str())) {
                found.extend(statements(code));
            }
        }
    }
    found
}

/// Links each item that ran something (`runs`: its statements or commands) to the latest
/// proposal of the same normalised text at most [`LINK_WINDOW_SECS`] before it. `items` must
/// be in time order.
pub fn link(items: &mut [ActivityItem], runs: &[Vec<String>]) {
    let mut proposed: Vec<(String, usize)> = Vec::new();
    for i in 0..items.len() {
        for p in &items[i].proposals {
            proposed.push((normalise(p), i));
        }
        let Some(ran) = runs.get(i) else { continue };
        let at = items[i].at_ns;
        let hit = ran.iter().find_map(|r| {
            let r = normalise(r);
            proposed.iter().rev().find(|(p, j)| {
                *p == r && at - items[*j].at_ns <= LINK_WINDOW_SECS * 1_000_000_000 && *j != i
            })
        });
        if let Some((_, j)) = hit {
            let source = &items[*j];
            let text = source
                .proposals
                .iter()
                .find(|p| ran.iter().any(|r| normalise(r) == normalise(p)))
                .cloned()
                .unwrap_or_default();
            items[i].proposed_by = Some(Proposal {
                session: source.session.clone(),
                seq: source.seq,
                at: source.at.clone(),
                resource: source.resource.clone(),
                text,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_text_ignores_spacing_keyword_case_and_semicolons_but_not_literals() {
        assert_eq!(
            normalise("  SELECT  count(*)\n FROM orders WHERE s = 'Open' ;; "),
            "select count(*) from orders where s = 'Open'"
        );
        assert_eq!(
            normalise("select count(*) from orders where s = 'Open'"),
            normalise("SELECT COUNT(*) FROM ORDERS WHERE S = 'Open';")
        );
        assert_ne!(normalise("select 'A'"), normalise("select 'a'"));
    }

    #[test]
    fn proposals_come_from_code_blocks_and_tool_arguments() {
        let text = "Run this:\n```sql\nBEGIN; UPDATE t SET a = ';' WHERE id = 1;\nCOMMIT;\n```\nthen\n```bash\n$ systemctl restart app\n# done\n```\n";
        let args = [
            "{\"sql\": \"ALTER TABLE orders ADD COLUMN note text;\"}",
            "{\"path\": \"/tmp\"}",
        ];
        assert_eq!(
            proposals(text, &args),
            [
                "BEGIN;",
                "UPDATE t SET a = ';' WHERE id = 1;",
                "COMMIT;",
                "systemctl restart app",
                "ALTER TABLE orders ADD COLUMN note text;"
            ]
        );
    }

    fn item(at_s: i64, proposals: &[&str]) -> ActivityItem {
        ActivityItem {
            at_ns: at_s * 1_000_000_000,
            session: format!("s{at_s}"),
            proposals: proposals.iter().map(|p| (*p).to_owned()).collect(),
            ..ActivityItem::default()
        }
    }

    #[test]
    fn a_run_links_to_the_latest_matching_proposal_within_the_window() {
        let mut items = vec![
            item(0, &["SELECT 1;"]),
            item(10, &["select  1"]),
            item(40, &[]),
            item(5000, &[]),
            item(5001, &[]),
        ];
        let runs = vec![
            vec![],
            vec![],
            vec!["select 1;".to_owned()],
            vec!["select 1".to_owned()],
            vec!["select 2".to_owned()],
        ];
        link(&mut items, &runs);
        let by = items[2].proposed_by.as_ref().expect("linked");
        assert_eq!(
            (by.session.as_str(), by.text.as_str()),
            ("s10", "select  1")
        );
        assert!(items[3].proposed_by.is_none(), "past the window");
        assert!(items[4].proposed_by.is_none(), "another statement");
    }
}
