//! The MCP tools: `list_resources`, `query`, `exec` and `note`, each admitted and recorded
//! like a person's statement or command.

use std::time::Instant;

use serde_json::{Value, json};
use ward_admit::{Admitted, Runtime};
use ward_config::{GrantDecision, ResourceKind};
use ward_core::Identity;
use ward_core::payload::{
    AgentNote, DbMessage, DbQuery, DbResult, ExecCommand, ExecExit, Payload, PolicyDenied,
    ResultColumn, SessionError, Terminal,
};
use ward_mask::{CellPlan, ColumnRef, MaskReport, Masker};
use ward_pg::catalog::Tables;
use ward_pg::codec::backend::Column;
use ward_pg::upstream::Compiled;
use ward_store::{JsonBody, MaskedJson, MaskedJsonBy, PremaskedJson};

use super::{AgentSession, AgentUpstream, DEFAULT_ROWS, MAX_RESULT_BYTES, MAX_ROWS, tool_result};
use crate::Web;

pub(super) fn list() -> Value {
    json!([
        {
            "name": "list_resources",
            "description": "The resources (databases) this identity may reach through Ward, with their kind.",
            "inputSchema": { "type": "object", "properties": {} }
        },
        {
            "name": "query",
            "description": "Runs one SQL statement on a resource as the upstream role Ward's policy grants, and returns its columns and rows (secrets masked). Parameters are $1, $2, … in the statement, given as text. Statements a guardrail denies are not run.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "resource": { "type": "string", "description": "A resource name from list_resources." },
                    "sql": { "type": "string", "description": "One SQL statement." },
                    "params": { "type": "array", "items": { "type": ["string", "null"] }, "description": "Values for $1, $2, … as text; null for NULL." },
                    "max_rows": { "type": "integer", "minimum": 1, "maximum": MAX_ROWS, "description": "Rows to return at most (default 100)." },
                    "reason": { "type": "string", "description": "Why (a ticket reference or a sentence); required when the grant says require_reason, and recorded." }
                },
                "required": ["resource", "sql"]
            }
        },
        {
            "name": "exec",
            "description": "Runs one shell command on an SSH resource as the account Ward's policy grants, and returns its stdout, stderr and exit status (secrets masked).",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "resource": { "type": "string", "description": "An SSH resource name from list_resources." },
                    "command": { "type": "string" },
                    "reason": { "type": "string", "description": "Why (a ticket reference or a sentence); required when the grant says require_reason, and recorded." }
                },
                "required": ["resource", "command"]
            }
        },
        {
            "name": "note",
            "description": "Records what you are about to do and why, in the session's audit trail, next to the commands and results it leads to.",
            "inputSchema": {
                "type": "object",
                "properties": { "text": { "type": "string" } },
                "required": ["text"]
            }
        }
    ])
}

pub(super) async fn call(web: &Web, session: &AgentSession, params: &Value) -> Value {
    // Each call is admitted with, and reaches, what is in force when it starts.
    let compiled = web.live.current();
    let args = params.get("arguments").cloned().unwrap_or(json!({}));
    let text = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_owned);
    match params.get("name").and_then(Value::as_str) {
        Some("list_resources") => list_resources(web, &compiled, &session.identity),
        Some("note") => match text("text") {
            Some(t) => {
                session
                    .record
                    .record(MaskedJson::from(Payload::AgentNote(AgentNote { text: t })))
                    .await;
                tool_result("noted in the session's audit trail".into(), None, false)
            }
            None => tool_result("`text` is required".into(), None, true),
        },
        Some("exec") => match (text("resource"), text("command")) {
            (Some(resource), Some(command)) => {
                let reason = text("reason");
                exec(
                    web,
                    &compiled,
                    session,
                    (&resource, reason.as_deref()),
                    &command,
                )
                .await
            }
            _ => tool_result("`resource` and `command` are required".into(), None, true),
        },
        Some("query") => match (text("resource"), text("sql")) {
            (Some(resource), Some(sql)) => {
                let values: Vec<Option<String>> = args
                    .get("params")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .map(|v| match v {
                                Value::Null => None,
                                Value::String(s) => Some(s.clone()),
                                other => Some(other.to_string()),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let max_rows = args
                    .get("max_rows")
                    .and_then(Value::as_u64)
                    .map_or(DEFAULT_ROWS, |n| usize::try_from(n).unwrap_or(MAX_ROWS))
                    .clamp(1, MAX_ROWS);
                let reason = text("reason");
                let to = (resource.as_str(), reason.as_deref());
                query(&compiled, session, to, &sql, &values, max_rows).await
            }
            _ => tool_result("`resource` and `sql` are required".into(), None, true),
        },
        Some(other) => tool_result(format!("no tool named {other}"), None, true),
        None => tool_result("`name` is required".into(), None, true),
    }
}

fn list_resources(web: &Web, compiled: &Compiled, identity: &Identity) -> Value {
    let now = time::OffsetDateTime::now_utc();
    let config = &compiled.runtime.config;
    let reachable: Vec<Value> = config
        .resources
        .iter()
        .filter(|r| r.kind == ResourceKind::Postgres || web.ssh_login.is_some())
        .filter(|r| {
            matches!(
                config.decide_grant(
                    &identity.subject,
                    &identity.groups,
                    &r.name,
                    now,
                    compiled
                        .runtime
                        .control
                        .approval(&identity.subject, &r.name)
                        .is_some(),
                ),
                GrantDecision::Allowed { .. }
            )
        })
        // An HTTP resource has no tool: agents reach it through the HTTP listener. A MySQL
        // resource has none yet: agents reach it through the MySQL listener.
        .filter_map(|r| match r.kind {
            ResourceKind::Postgres => {
                Some(json!({ "name": r.name, "kind": "postgres", "database": r.database }))
            }
            ResourceKind::Ssh => Some(json!({ "name": r.name, "kind": "ssh" })),
            ResourceKind::Http | ResourceKind::Mysql => None,
        })
        .collect();
    let names: Vec<&str> = reachable
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    let text = if names.is_empty() {
        "no resource is granted to this identity".to_owned()
    } else {
        format!("resources: {}", names.join(", "))
    };
    tool_result(text, Some(json!({ "resources": reachable })), false)
}

/// Admits the session's identity to `resource` as every protocol is admitted (the decision is
/// recorded in the agent's session); a refusal comes back as the tool's error result.
async fn admitted(
    runtime: &Runtime,
    session: &AgentSession,
    (resource, reason): (&str, Option<&str>),
    kind: ResourceKind,
) -> Result<Admitted, Value> {
    let request = ward_admit::Request {
        identity: session.identity.clone(),
        resource,
        kind,
        record: ward_admit::Record::Within(&session.record),
        check: None,
        reason,
        reason_how: "pass the tool argument `reason` (a ticket reference or a sentence)",
    };
    runtime
        .admit(request)
        .await
        .map_err(|refused| tool_result(refused.message, None, true))
}

/// An error of Ward's own about `resource`, recorded as `db.error`.
fn ward_error(severity: &str, code: Option<&str>, message: &str, resource: &str) -> DbMessage {
    let mut error = DbMessage {
        severity: Some(severity.to_owned()),
        code: code.map(str::to_owned),
        message: message.to_owned(),
        ..DbMessage::default()
    };
    error.other.insert("resource".into(), resource.into());
    error
}

/// What an agent receives is always masked: with the grant's client profile under
/// `mask_client`, else with the resource's own (the profile of the record).
fn agent_masker(admitted: &Admitted) -> &Masker {
    admitted
        .client_masker
        .as_ref()
        .unwrap_or(&admitted.record_masker)
}

/// Runs a command on an SSH resource with Ward's key: the command, its output (masked) and
/// exit status are recorded in the agent's session. The grant's guardrails apply to the
/// command as they do to a command sent over SSH.
/// Runs `command` on the resource `to` names (with the reason given for it).
async fn exec(
    web: &Web,
    compiled: &Compiled,
    session: &AgentSession,
    to: (&str, Option<&str>),
    command: &str,
) -> Value {
    let resource = to.0;
    let rec = &session.record;
    let Some(login) = &web.ssh_login else {
        return tool_result(
            format!("Ward has no SSH resource \"{resource}\": call list_resources"),
            None,
            true,
        );
    };
    let admitted = match admitted(&compiled.runtime, session, to, ResourceKind::Ssh).await {
        Ok(a) => a,
        Err(refused) => return refused,
    };
    let recorded = |payload| MaskedJsonBy::typed(admitted.record_masker.clone(), payload);
    let event = ExecCommand {
        command: Some(command.to_owned()),
        resource: Some(resource.to_owned()),
        ..ExecCommand::default()
    };
    rec.record(recorded(Payload::ExecCommand(event))).await;
    let denial = admitted
        .guardrails
        .as_ref()
        .and_then(|g| g.check_command(command.as_bytes()));
    if let Some(denial) = denial
        && let Err(message) = admitted
            .reviewer
            .decide(
                &denial,
                (command, "the command"),
                denial.command_message(),
                rec,
            )
            .await
    {
        let denied = PolicyDenied {
            rule: Some(denial.rule.clone()),
            reason: Some(denial.code().to_owned()),
            command: Some(command.to_owned()),
            protocol: Some("mcp".into()),
            resource: Some(resource.to_owned()),
            ..PolicyDenied::default()
        };
        rec.record(recorded(Payload::PolicyDenied(denied))).await;
        let structured = json!({ "denied": true, "rule": denial.rule, "reason": denial.code() });
        return tool_result(message, Some(structured), true);
    }
    let user = &admitted.upstream_user;
    let target = &admitted.resource;
    let out = match ward_ssh::run_command(target, user, login, rec.id(), command, MAX_RESULT_BYTES)
        .await
    {
        Ok(out) => out,
        Err(why) => {
            let message = format!("Ward could not run the command on \"{resource}\": {why}");
            let error = SessionError {
                severity: "ERROR".into(),
                message: message.clone(),
                resource: Some(resource.to_owned()),
            };
            rec.record(recorded(Payload::SessionError(error))).await;
            return tool_result(message, None, true);
        }
    };
    let mut report = MaskReport::default();
    let mut show = |bytes: &[u8]| {
        agent_masker(&admitted)
            .mask_str(&String::from_utf8_lossy(bytes), &mut report)
            .into_owned()
    };
    let (stdout, stderr) = (show(&out.stdout), show(&out.stderr));
    for (bytes, stream) in [(&out.stdout, "stdout"), (&out.stderr, "stderr")] {
        if !bytes.is_empty() {
            let output = Terminal {
                data: Some(String::from_utf8_lossy(bytes).into_owned()),
                stream: Some(stream.into()),
                resource: Some(resource.to_owned()),
                ..Terminal::default()
            };
            rec.record(recorded(Payload::TermOutput(output))).await;
        }
    }
    let exit = ExecExit {
        status: out.status.map(i64::from),
        resource: Some(resource.to_owned()),
        ..ExecExit::default()
    };
    rec.record(JsonBody::from(Payload::ExecExit(exit))).await;
    let structured = json!({ "stdout": stdout, "stderr": stderr, "exit_status": out.status, "truncated": out.truncated });
    let text = serde_json::to_string(&structured).unwrap_or_default();
    tool_result(text, Some(structured), false)
}

/// Runs `sql` on the resource `to` names (with the reason given for it).
async fn query(
    compiled: &Compiled,
    session: &AgentSession,
    to: (&str, Option<&str>),
    sql: &str,
    params: &[Option<String>],
    max_rows: usize,
) -> Value {
    let rec = &session.record;
    let resource = to.0;
    let kind = ResourceKind::Postgres;
    let admitted = match admitted(&compiled.runtime, session, to, kind).await {
        Ok(a) => a,
        Err(refused) => return refused,
    };
    let recorded = |payload| MaskedJsonBy::typed(admitted.record_masker.clone(), payload);
    let query_event = DbQuery {
        text: sql.to_owned(),
        params: Some(params.to_vec()),
        resource: Some(resource.to_owned()),
        ..DbQuery::default()
    };
    rec.record(recorded(Payload::DbQuery(query_event))).await;
    let denial = admitted
        .guardrails
        .as_ref()
        .and_then(|g| g.check(sql.as_bytes()));
    if let Some(denial) = denial
        && let Err(message) = admitted
            .reviewer
            .decide(&denial, (sql, "the statement"), denial.message(), rec)
            .await
    {
        let denied = PolicyDenied {
            rule: Some(denial.rule.clone()),
            reason: Some(denial.code().to_owned()),
            protocol: Some("mcp".into()),
            message: Some(message.clone()),
            resource: Some(resource.to_owned()),
            ..PolicyDenied::default()
        };
        rec.record(recorded(Payload::PolicyDenied(denied))).await;
        return tool_result(
            message,
            Some(json!({ "denied": true, "rule": denial.rule, "reason": denial.code() })),
            true,
        );
    }
    let Some(target) = compiled.targets.get(resource) else {
        return tool_result(format!("Ward has no resource \"{resource}\""), None, true);
    };
    let mut upstreams = session.upstreams.lock().await;
    let max_message = compiled
        .runtime
        .config
        .recording
        .max_message_bytes
        .as_usize();
    if !upstreams.contains_key(resource) {
        let target = target.admitted_as(&admitted);
        let params = [("application_name", "ward-mcp")];
        match target.connect(&params, max_message).await {
            Ok(conn) => {
                let upstream = AgentUpstream {
                    conn,
                    target,
                    tables: Tables::default(),
                };
                upstreams.insert(resource.to_owned(), upstream);
            }
            Err(e) => {
                let message = format!("Ward could not open resource \"{resource}\": {e}");
                let error = ward_error("FATAL", Some("08006"), &message, resource);
                rec.record(recorded(Payload::DbError(error))).await;
                return tool_result(message, None, true);
            }
        }
    }
    let Some(upstream) = upstreams.get_mut(resource) else {
        return tool_result("no upstream connection".into(), None, true);
    };
    let started = Instant::now();
    let limit = ward_pg::client::Limit {
        rows: max_rows,
        bytes: MAX_RESULT_BYTES,
    };
    let mut reply = match upstream.conn.execute(sql, params, limit).await {
        Ok(r) => r,
        Err(e) => {
            upstreams.remove(resource);
            let message = format!("the connection to \"{resource}\" failed: {e}");
            let error = ward_error("FATAL", Some("08006"), &message, resource);
            rec.record(recorded(Payload::DbError(error))).await;
            return tool_result(message, None, true);
        }
    };
    let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    if let Some(e) = reply.error {
        let mut error = ward_error(&e.severity, Some(&e.code), &e.message, resource);
        (error.detail, error.hint) = (e.detail.clone(), e.hint.clone());
        rec.record(recorded(Payload::DbError(error))).await;
        let shown = agent_masker(&admitted).mask_str(&e.message, &mut MaskReport::default());
        return tool_result(
            format!("{} {}: {shown}", e.severity, e.code),
            Some(json!({ "error": { "code": e.code, "message": shown } })),
            true,
        );
    }
    // Columns are masked by their rules, as in the PostgreSQL gateway (by label and by the
    // table column each is): once with the record's profile for the record, once with the
    // agent's for what it receives.
    let AgentUpstream { target, tables, .. } = upstream;
    tables
        .resolve(&mut reply.columns, target, max_message)
        .await;
    drop(upstreams);
    let columns: Vec<ColumnRef<'_>> = reply.columns.iter().map(Column::masking_ref).collect();
    let (for_record, for_agent) = (
        admitted.record_masker.plan_columns(&columns),
        agent_masker(&admitted).plan_columns(&columns),
    );
    let mask_row = |plan: &CellPlan, row: &[Option<String>], report: &mut MaskReport| {
        row.iter()
            .enumerate()
            .map(|(i, cell)| {
                cell.as_ref().map(|v| {
                    String::from_utf8_lossy(&plan.mask_cell(i, v.as_bytes(), report)).into_owned()
                })
            })
            .collect::<Vec<Option<String>>>()
    };
    let (mut record_report, mut agent_report) = (MaskReport::default(), MaskReport::default());
    let mut bytes = 0;
    let mut truncated = reply.truncated;
    let (mut recorded_rows, mut rows) = (Vec::new(), Vec::with_capacity(reply.rows.len()));
    for row in &reply.rows {
        let masked = mask_row(&for_agent, row, &mut agent_report);
        bytes += masked.iter().flatten().map(String::len).sum::<usize>();
        if bytes > MAX_RESULT_BYTES {
            truncated = true;
            break;
        }
        recorded_rows.push(mask_row(&for_record, row, &mut record_report));
        rows.push(masked);
    }
    let result = DbResult {
        columns: reply
            .columns
            .iter()
            .map(|c| ResultColumn {
                name: c.name.clone(),
                type_oid: c.type_oid,
            })
            .collect(),
        row_count: recorded_rows.len() as u64,
        rows: recorded_rows,
        truncated,
        tag: reply.tag.clone(),
        duration_us: Some(duration_us),
        resource: Some(resource.to_owned()),
        ..DbResult::default()
    };
    let (kind, result) = Payload::DbResult(result).into_parts();
    rec.record(PremaskedJson(kind, result, record_report)).await;
    let names: Vec<&str> = reply.columns.iter().map(|c| c.name.as_str()).collect();
    let structured = json!({ "columns": names, "rows": rows, "row_count": rows.len(), "truncated": truncated, "tag": reply.tag });
    let text = serde_json::to_string(&structured).unwrap_or_default();
    tool_result(text, Some(structured), false)
}
