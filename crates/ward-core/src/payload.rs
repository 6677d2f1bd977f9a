//! What each kind of event says: one type per [`crate::EventKind`], for the code that writes
//! events and the code that reads them (the API, and through its OpenAPI document the web UI).
//! docs/cli.md describes each field.
//!
//! Records are never rewritten, so a reader must take every shape a payload ever had: fields
//! that were added later, or that only some writers fill, are optional, and fields a reader
//! does not know are kept in `other` where a payload is open-ended.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::{EventKind, Identity};

mod http;
pub use http::{
    AiCompletion, AiMessage, AiPrompt, AiToolCall, HttpRequest, HttpResponse, HttpWebsocket,
};

/// `session.start`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct SessionStart {
    pub id: String,
    pub identity: Option<Identity>,
    pub resource: String,
    /// `postgres`, `mysql`, `ssh`, `http`, `web`, `mcp`.
    pub protocol: String,
    pub client_addr: String,
    /// What the client asked for before it was admitted (PostgreSQL's startup parameters),
    /// masked.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// Why the person connects (a ticket, free text), as the client gave it, masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `auth`: how the identity was proven, or why not.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Auth {
    pub method: String,
    pub user: String,
    /// `ok`, `failed`, `refused`.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// What else a protocol says about the login: `tls`, an SSH key's `fingerprint`, an
    /// agent's `agent` and `on_behalf_of`, every `attempts` of a refused SSH connection, …
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl Auth {
    /// A login that proved `identity`.
    pub fn ok(identity: &Identity) -> Self {
        Self {
            method: identity.method.clone(),
            user: identity.subject.clone(),
            result: "ok".into(),
            issuer: Some(identity.issuer.clone()),
            credential: identity.credential.clone(),
            ..Self::default()
        }
    }

    /// A login that did not prove `user`: `result` is `failed` or `refused`.
    pub fn not_ok(method: &str, user: &str, result: &str, reason: String) -> Self {
        Self {
            method: method.into(),
            user: user.into(),
            result: result.into(),
            reason: Some(reason),
            ..Self::default()
        }
    }

    /// With one more field a protocol adds (`tls`, `fingerprint`, `agent`, …).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.other.insert(key.into(), value.into());
        self
    }
}

/// The grant a decision chose: its index in `[[grants]]` and whom it names.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct GrantRef {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// `policy.decision`, for every protocol.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct PolicyDecision {
    pub allowed: bool,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<GrantRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask_client: Option<bool>,
    /// The profile that masks what is recorded of this resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masking_profile: Option<String>,
    /// The profile that masks what the client receives, under `mask_client`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_profile: Option<String>,
    /// SSH: how Ward logs in to the host (`key`, `certificate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// The reason the client gave for this access (required by grants with
    /// `require_reason`), masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_given: Option<String>,
    /// The approved access request that opened the grant (grants with `requires_approval`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalRef>,
    /// Why not, when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The approved access request a session was let in by.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ApprovalRef {
    /// The request's id (`ward requests show ID`).
    pub request: String,
    /// Who approved it.
    pub approved_by: Vec<String>,
    /// When its window ends (RFC 3339); the session ends then too.
    pub until: String,
}

/// `policy.denied`: a statement, command, line or feature refused.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct PolicyDenied {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Which statement of a multi-statement query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<u64>,
    /// `simple`, `extended`, `fast-path`, `mcp`; MySQL: `query`, `command`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// What the client was told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// SSH and agents: the command or line refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// SSH: a feature refused (`agent forwarding`, `X11 forwarding`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// `db.query`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct DbQuery {
    pub text: String,
    /// Extended protocol: the prepared statement's name (`""` for the unnamed one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    /// The parameters as text, `null` for NULL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Vec<Option<String>>>,
    /// In an agent's session: the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// A result column.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ResultColumn {
    pub name: String,
    /// PostgreSQL: the type's OID; MySQL: the column's type code (`MYSQL_TYPE_*`).
    pub type_oid: u32,
}

/// The rows of a result as read back: each a list of cells as text, `null` for NULL.
pub type Rows = Vec<Vec<Option<String>>>;

/// `db.result`: a statement's rows (the first ones, up to the cap) and, when it finished, its
/// completion.
// A writer streams the rows it keeps (its `R` serializes as `Rows` does) instead of gathering
// them first. The schema's defaults are spelled out: derived ones would need to choose `R`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
#[schema(bound = "")]
pub struct DbResult<R = Rows> {
    #[schema(default = json!([]))]
    pub columns: Vec<ResultColumn>,
    #[schema(value_type = Vec<Vec<Option<String>>>, default = json!([]))]
    pub rows: R,
    /// The true count, past the rows kept.
    #[schema(default = 0)]
    pub row_count: u64,
    #[schema(default = false)]
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(default = json!(null))]
    pub tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(default = json!(null))]
    pub duration_us: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(default = false)]
    pub suspended: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(default = json!(null))]
    pub resource: Option<String>,
}

/// `db.complete`: a statement without rows finished.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct DbComplete {
    /// The command tag; `null` for an empty query.
    pub tag: Option<String>,
    pub duration_us: u64,
    /// The portal was suspended at its row limit rather than finished.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub suspended: bool,
}

/// `db.error` and `db.notice`: the server's fields (or Ward's own error).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct DbMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// SQLSTATE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The other fields the server sent (`position`, `where`, `schema`, …); MySQL:
    /// `error_code`, the server's error number (`1146`).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `db.notification`: LISTEN/NOTIFY.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct DbNotification {
    pub pid: i64,
    pub channel: String,
    pub payload: String,
    /// A message that could not be decoded, as hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

/// `db.copy`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct DbCopy {
    /// `in`, `out`.
    pub direction: String,
    pub data: Option<String>,
    /// The true size.
    pub bytes: u64,
    pub truncated: bool,
    /// Ended by CopyFail.
    pub failed: bool,
}

/// `db.cancel`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct DbCancel {
    /// The address that sent the CancelRequest.
    pub from: String,
}

/// A value of a fast-path call, as recorded.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct CallValue {
    pub value: String,
    pub bytes: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// `db.function_call`: a fast-path call.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct DbFunctionCall {
    pub function_oid: u32,
    pub function: String,
    pub args: Vec<Option<CallValue>>,
    /// A call that could not be decoded, as hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

/// `db.function_result`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct DbFunctionResult {
    pub function: String,
    pub result: Option<CallValue>,
    pub duration_us: u64,
}

/// `mask.applied`: which rules masked an event, and how often; never the values.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct MaskApplied {
    pub event_seq: u64,
    pub rules: BTreeMap<String, u64>,
}

/// `exec.command`: an SSH exec request, shell, subsystem or variable passed; an agent's command.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ExecCommand {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsystem: Option<String>,
    /// A variable the grant let through.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub env: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `exec.exit`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ExecExit {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// `term.output` and `term.input`; `http.body` too (a chunk of a stream, alike).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Terminal {
    /// Masked text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Masked bytes that are not terminal text, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_b64: Option<String>,
    /// `stdout` (when absent), `stderr`, `stdin`; for `http.body`, `request` or `response`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Past the cap: bytes counted and hashed, not stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_not_stored: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256_not_stored: Option<String>,
    /// A typed line that was not echoed (a password): only its length is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// `term.resize`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct TermResize {
    pub cols: u64,
    pub rows: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
}

/// `file.transfer`: a file moved by sftp or scp.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct FileTransfer {
    pub path: String,
    /// `upload`, `download`.
    pub direction: String,
    pub size: u64,
    /// `null` when the bytes did not move in order from offset 0.
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
}

/// `file.op`: an sftp operation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct FileOp {
    pub op: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// `net.forward`: SSH port forwarding.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct NetForward {
    /// `local`, `remote`.
    pub direction: String,
    pub host: String,
    pub port: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub originator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_up: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_down: Option<u64>,
}

/// `agent.note`: an AI agent's stated intent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AgentNote {
    pub text: String,
}

/// `ui.view`: a viewer read recorded content.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct UiView {
    /// The session viewed.
    pub session: String,
    /// `detail`, `events 1..200`, `search snippets`, `export`, `asciicast`.
    pub what: String,
}

/// `session.error`: the session failed outside any protocol's own error messages.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct SessionError {
    /// `FATAL` when the session ended with it, else `ERROR`.
    pub severity: String,
    pub message: String,
    /// In an agent's session: the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// `session.terminated`: the session was ended from outside it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct SessionTerminated {
    /// Who ended it: `an administrator (ward users disable)`, `a configuration reload`.
    pub by: String,
    /// Why: `user "alice" disabled`, `grant withdrawn`.
    pub reason: String,
}

/// `control.terminate`: the person of this session asked to end another one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ControlTerminate {
    /// The session to end.
    pub session: String,
    pub reason: String,
}

/// `access.request`: the person of this session asked for access that a grant gives only with
/// approval.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AccessRequested {
    /// The request's id.
    pub request: String,
    pub resource: String,
    /// Why, as the person gave it (masked).
    pub reason: String,
    /// How long the access is asked for, in seconds from approval.
    pub seconds: u64,
    /// The groups whose members may approve it.
    pub approvers: Vec<String>,
    /// How many approvals it needs.
    pub approvals: u32,
}

/// `access.approve` and `access.deny`: the person of this session decided on a request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AccessReviewed {
    /// The request's id.
    pub request: String,
    /// Who asked.
    pub requester: String,
    pub resource: String,
    /// The reviewer's comment (masked); required to deny.
    pub comment: String,
    /// The request's state after this review: `pending` (more approvals needed), `approved`,
    /// `denied`.
    pub state: String,
    /// When an approved request's window ends (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// `review.held`: a guardrail holds a step of this session for an approver's review.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ReviewHeld {
    /// The review's id (an access request of kind `step`).
    pub request: String,
    pub resource: String,
    /// The guardrail's name.
    pub rule: String,
    /// What it matched: `drop`, `delete_without_where`, `pattern`, …
    pub reason: String,
    /// The statement, command or tool call held (masked).
    pub text: String,
    /// The groups whose members review it.
    pub approvers: Vec<String>,
    /// How long it is held at most.
    pub timeout_seconds: u64,
}

/// `review.decided`: what became of a held step.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ReviewDecided {
    pub request: String,
    /// `allowed` (it runs next), `rejected`, or `timed out`.
    pub verdict: String,
    /// The reviewer, when one decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The reviewer's comment (masked).
    pub comment: String,
    /// How long the step waited, in milliseconds.
    pub waited_ms: u64,
}

/// `scim.change`: an identity provider created, replaced, patched or deleted a user or a
/// group through SCIM.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ScimChange {
    /// `User` or `Group`.
    pub resource_type: String,
    /// `create`, `replace`, `patch`, `delete`.
    pub op: String,
    pub id: String,
    /// The user's name, or the group's.
    pub name: String,
    /// A user's `active` after the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// A group's members (user names) after the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    /// What Ward did about it: `user disabled`, `user enabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
}

/// `session.end`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct SessionEnd {
    /// `ok`, `denied`, `error`, `incomplete`, `terminated`.
    pub outcome: String,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

/// An event's kind with its payload: `{"kind": "db.query", "payload": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "payload")]
pub enum Payload {
    #[serde(rename = "session.start")]
    SessionStart(SessionStart),
    #[serde(rename = "auth")]
    Auth(Auth),
    #[serde(rename = "policy.decision")]
    PolicyDecision(PolicyDecision),
    #[serde(rename = "policy.denied")]
    PolicyDenied(PolicyDenied),
    #[serde(rename = "db.query")]
    DbQuery(DbQuery),
    #[serde(rename = "db.result")]
    DbResult(DbResult),
    #[serde(rename = "db.error")]
    DbError(DbMessage),
    #[serde(rename = "db.complete")]
    DbComplete(DbComplete),
    #[serde(rename = "db.notice")]
    DbNotice(DbMessage),
    #[serde(rename = "db.notification")]
    DbNotification(DbNotification),
    #[serde(rename = "db.copy")]
    DbCopy(DbCopy),
    #[serde(rename = "db.cancel")]
    DbCancel(DbCancel),
    #[serde(rename = "db.function_call")]
    DbFunctionCall(DbFunctionCall),
    #[serde(rename = "db.function_result")]
    DbFunctionResult(DbFunctionResult),
    #[serde(rename = "mask.applied")]
    MaskApplied(MaskApplied),
    #[serde(rename = "exec.command")]
    ExecCommand(ExecCommand),
    #[serde(rename = "exec.exit")]
    ExecExit(ExecExit),
    #[serde(rename = "term.output")]
    TermOutput(Terminal),
    #[serde(rename = "term.resize")]
    TermResize(TermResize),
    #[serde(rename = "term.input")]
    TermInput(Terminal),
    #[serde(rename = "file.transfer")]
    FileTransfer(FileTransfer),
    #[serde(rename = "file.op")]
    FileOp(FileOp),
    #[serde(rename = "net.forward")]
    NetForward(NetForward),
    #[serde(rename = "agent.note")]
    AgentNote(AgentNote),
    #[serde(rename = "ui.view")]
    UiView(UiView),
    #[serde(rename = "session.error")]
    SessionError(SessionError),
    #[serde(rename = "session.terminated")]
    SessionTerminated(SessionTerminated),
    #[serde(rename = "control.terminate")]
    ControlTerminate(ControlTerminate),
    #[serde(rename = "access.request")]
    AccessRequest(AccessRequested),
    #[serde(rename = "access.approve")]
    AccessApprove(AccessReviewed),
    #[serde(rename = "access.deny")]
    AccessDeny(AccessReviewed),
    #[serde(rename = "review.held")]
    ReviewHeld(ReviewHeld),
    #[serde(rename = "review.decided")]
    ReviewDecided(ReviewDecided),
    #[serde(rename = "scim.change")]
    ScimChange(ScimChange),
    #[serde(rename = "http.request")]
    HttpRequest(HttpRequest),
    #[serde(rename = "http.response")]
    HttpResponse(HttpResponse),
    #[serde(rename = "http.body")]
    HttpBody(Terminal),
    #[serde(rename = "http.websocket")]
    HttpWebsocket(HttpWebsocket),
    #[serde(rename = "ai.prompt")]
    AiPrompt(AiPrompt),
    #[serde(rename = "ai.completion")]
    AiCompletion(AiCompletion),
    #[serde(rename = "session.end")]
    SessionEnd(SessionEnd),
}

impl Payload {
    /// The kind of event this payload belongs to.
    pub fn kind(&self) -> EventKind {
        match self {
            Payload::SessionStart(_) => EventKind::SessionStart,
            Payload::Auth(_) => EventKind::Auth,
            Payload::PolicyDecision(_) => EventKind::PolicyDecision,
            Payload::PolicyDenied(_) => EventKind::PolicyDenied,
            Payload::DbQuery(_) => EventKind::DbQuery,
            Payload::DbResult(_) => EventKind::DbResult,
            Payload::DbError(_) => EventKind::DbError,
            Payload::DbComplete(_) => EventKind::DbComplete,
            Payload::DbNotice(_) => EventKind::DbNotice,
            Payload::DbNotification(_) => EventKind::DbNotification,
            Payload::DbCopy(_) => EventKind::DbCopy,
            Payload::DbCancel(_) => EventKind::DbCancel,
            Payload::DbFunctionCall(_) => EventKind::DbFunctionCall,
            Payload::DbFunctionResult(_) => EventKind::DbFunctionResult,
            Payload::MaskApplied(_) => EventKind::MaskApplied,
            Payload::ExecCommand(_) => EventKind::ExecCommand,
            Payload::ExecExit(_) => EventKind::ExecExit,
            Payload::TermOutput(_) => EventKind::TermOutput,
            Payload::TermResize(_) => EventKind::TermResize,
            Payload::TermInput(_) => EventKind::TermInput,
            Payload::FileTransfer(_) => EventKind::FileTransfer,
            Payload::FileOp(_) => EventKind::FileOp,
            Payload::NetForward(_) => EventKind::NetForward,
            Payload::AgentNote(_) => EventKind::AgentNote,
            Payload::UiView(_) => EventKind::UiView,
            Payload::SessionError(_) => EventKind::SessionError,
            Payload::SessionTerminated(_) => EventKind::SessionTerminated,
            Payload::ControlTerminate(_) => EventKind::ControlTerminate,
            Payload::AccessRequest(_) => EventKind::AccessRequest,
            Payload::AccessApprove(_) => EventKind::AccessApprove,
            Payload::AccessDeny(_) => EventKind::AccessDeny,
            Payload::ReviewHeld(_) => EventKind::ReviewHeld,
            Payload::ReviewDecided(_) => EventKind::ReviewDecided,
            Payload::ScimChange(_) => EventKind::ScimChange,
            Payload::HttpRequest(_) => EventKind::HttpRequest,
            Payload::HttpResponse(_) => EventKind::HttpResponse,
            Payload::HttpBody(_) => EventKind::HttpBody,
            Payload::HttpWebsocket(_) => EventKind::HttpWebsocket,
            Payload::AiPrompt(_) => EventKind::AiPrompt,
            Payload::AiCompletion(_) => EventKind::AiCompletion,
            Payload::SessionEnd(_) => EventKind::SessionEnd,
        }
    }

    /// The kind, and the payload as the record stores it.
    pub fn into_parts(self) -> (EventKind, Value) {
        let kind = self.kind();
        let mut tagged = serde_json::to_value(self).unwrap_or(Value::Null);
        (kind, tagged["payload"].take())
    }

    /// Reads a stored payload of `kind`: `None` when the kind is unknown or the payload has
    /// none of the shapes it ever had.
    pub fn read(kind: &str, payload: &Value) -> Option<Self> {
        let tagged = serde_json::json!({ "kind": kind, "payload": payload });
        serde_json::from_value(tagged).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind has its variant, named as the record names the kind.
    #[test]
    fn every_kind_reads_and_an_empty_payload_is_taken() {
        for kind in EventKind::ALL {
            let read = Payload::read(kind.as_str(), &serde_json::json!({}));
            let read = read.unwrap_or_else(|| panic!("{} has no payload type", kind.as_str()));
            let back = serde_json::to_value(&read).expect("serializes");
            assert_eq!(back["kind"], kind.as_str());
            assert_eq!(read.kind(), kind);
        }
        assert!(Payload::read("no.such", &serde_json::json!({})).is_none());
    }

    /// Fields a payload had before they were typed, and fields no type names, are kept.
    #[test]
    fn old_and_open_ended_shapes_are_taken() {
        let auth = serde_json::json!({ "method": "publickey", "user": "alice:web1", "result": "failed", "fingerprint": "SHA256:x", "attempts": [{}] });
        let Some(Payload::Auth(a)) = Payload::read("auth", &auth) else {
            panic!("auth");
        };
        assert_eq!(a.other["fingerprint"], "SHA256:x");
        let error = serde_json::json!({ "severity": "ERROR", "code": "42P01", "message": "no", "position": "15" });
        let Some(Payload::DbError(e)) = Payload::read("db.error", &error) else {
            panic!("db.error");
        };
        assert_eq!(e.other["position"], "15");
        // SSH recorded its own failures as db.error without a code.
        let ssh =
            serde_json::json!({ "severity": "FATAL", "message": "Ward could not open resource" });
        assert!(matches!(
            Payload::read("db.error", &ssh),
            Some(Payload::DbError(_))
        ));
    }
}
