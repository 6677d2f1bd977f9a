//! The kinds of events a session record holds (docs/cli.md lists each with its payload).

use serde::{Deserialize, Serialize};

/// What one event observed. The string form is what the store, the JSON output and the hash use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "session.start")]
    SessionStart,
    #[serde(rename = "auth")]
    Auth,
    #[serde(rename = "policy.decision")]
    PolicyDecision,
    /// A statement a guardrail refused (it did not reach the resource).
    #[serde(rename = "policy.denied")]
    PolicyDenied,
    #[serde(rename = "db.query")]
    DbQuery,
    #[serde(rename = "db.result")]
    DbResult,
    #[serde(rename = "db.error")]
    DbError,
    #[serde(rename = "db.complete")]
    DbComplete,
    #[serde(rename = "db.notice")]
    DbNotice,
    #[serde(rename = "db.notification")]
    DbNotification,
    #[serde(rename = "db.copy")]
    DbCopy,
    #[serde(rename = "db.cancel")]
    DbCancel,
    /// A fast-path function call (PostgreSQL's FunctionCall message), outside any statement.
    #[serde(rename = "db.function_call")]
    DbFunctionCall,
    /// What a fast-path function call returned.
    #[serde(rename = "db.function_result")]
    DbFunctionResult,
    #[serde(rename = "mask.applied")]
    MaskApplied,
    #[serde(rename = "exec.command")]
    ExecCommand,
    #[serde(rename = "exec.exit")]
    ExecExit,
    #[serde(rename = "term.output")]
    TermOutput,
    #[serde(rename = "term.resize")]
    TermResize,
    #[serde(rename = "term.input")]
    TermInput,
    #[serde(rename = "file.transfer")]
    FileTransfer,
    #[serde(rename = "file.op")]
    FileOp,
    #[serde(rename = "net.forward")]
    NetForward,
    #[serde(rename = "agent.note")]
    AgentNote,
    #[serde(rename = "ui.view")]
    UiView,
    /// The session failed outside any protocol's own error messages (a host that cannot be
    /// reached, a channel refused, a command that could not run).
    #[serde(rename = "session.error")]
    SessionError,
    /// The session was ended from outside it: its user disabled, its grant withdrawn.
    #[serde(rename = "session.terminated")]
    SessionTerminated,
    /// A person asked to end another session (in the record of the asker's own session).
    #[serde(rename = "control.terminate")]
    ControlTerminate,
    /// The person of this session asked for access that a grant gives only with approval.
    #[serde(rename = "access.request")]
    AccessRequest,
    /// The person of this session approved an access request.
    #[serde(rename = "access.approve")]
    AccessApprove,
    /// The person of this session denied an access request.
    #[serde(rename = "access.deny")]
    AccessDeny,
    /// A statement, command or tool call a guardrail holds for an approver's review.
    #[serde(rename = "review.held")]
    ReviewHeld,
    /// What became of a step held for review: allowed (it runs next), rejected, or timed out.
    #[serde(rename = "review.decided")]
    ReviewDecided,
    /// An identity provider changed a user or a group through SCIM.
    #[serde(rename = "scim.change")]
    ScimChange,
    /// A request to an HTTP resource: method, path, query, headers without credentials.
    #[serde(rename = "http.request")]
    HttpRequest,
    /// The head of an HTTP resource's answer: status and headers.
    #[serde(rename = "http.response")]
    HttpResponse,
    /// A chunk of a request's or a response's body, masked, as it passed.
    #[serde(rename = "http.body")]
    HttpBody,
    /// A WebSocket message relayed to or from an HTTP resource.
    #[serde(rename = "http.websocket")]
    HttpWebsocket,
    /// What a client asked an AI model (an HTTP resource with `api`): the messages, masked.
    #[serde(rename = "ai.prompt")]
    AiPrompt,
    /// What the model answered, reassembled from its stream: text, proposed tool calls, usage.
    #[serde(rename = "ai.completion")]
    AiCompletion,
    #[serde(rename = "session.end")]
    SessionEnd,
}

impl EventKind {
    pub const ALL: [EventKind; 41] = [
        EventKind::SessionStart,
        EventKind::Auth,
        EventKind::PolicyDecision,
        EventKind::PolicyDenied,
        EventKind::DbQuery,
        EventKind::DbResult,
        EventKind::DbError,
        EventKind::DbComplete,
        EventKind::DbNotice,
        EventKind::DbNotification,
        EventKind::DbCopy,
        EventKind::DbCancel,
        EventKind::DbFunctionCall,
        EventKind::DbFunctionResult,
        EventKind::MaskApplied,
        EventKind::ExecCommand,
        EventKind::ExecExit,
        EventKind::TermOutput,
        EventKind::TermResize,
        EventKind::TermInput,
        EventKind::FileTransfer,
        EventKind::FileOp,
        EventKind::NetForward,
        EventKind::AgentNote,
        EventKind::UiView,
        EventKind::SessionError,
        EventKind::SessionTerminated,
        EventKind::ControlTerminate,
        EventKind::AccessRequest,
        EventKind::AccessApprove,
        EventKind::AccessDeny,
        EventKind::ReviewHeld,
        EventKind::ReviewDecided,
        EventKind::ScimChange,
        EventKind::HttpRequest,
        EventKind::HttpResponse,
        EventKind::HttpBody,
        EventKind::HttpWebsocket,
        EventKind::AiPrompt,
        EventKind::AiCompletion,
        EventKind::SessionEnd,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SessionStart => "session.start",
            EventKind::Auth => "auth",
            EventKind::PolicyDecision => "policy.decision",
            EventKind::PolicyDenied => "policy.denied",
            EventKind::DbQuery => "db.query",
            EventKind::DbResult => "db.result",
            EventKind::DbError => "db.error",
            EventKind::DbComplete => "db.complete",
            EventKind::DbNotice => "db.notice",
            EventKind::DbNotification => "db.notification",
            EventKind::DbCopy => "db.copy",
            EventKind::DbCancel => "db.cancel",
            EventKind::DbFunctionCall => "db.function_call",
            EventKind::DbFunctionResult => "db.function_result",
            EventKind::MaskApplied => "mask.applied",
            EventKind::ExecCommand => "exec.command",
            EventKind::ExecExit => "exec.exit",
            EventKind::TermOutput => "term.output",
            EventKind::TermResize => "term.resize",
            EventKind::TermInput => "term.input",
            EventKind::FileTransfer => "file.transfer",
            EventKind::FileOp => "file.op",
            EventKind::NetForward => "net.forward",
            EventKind::AgentNote => "agent.note",
            EventKind::UiView => "ui.view",
            EventKind::SessionError => "session.error",
            EventKind::SessionTerminated => "session.terminated",
            EventKind::ControlTerminate => "control.terminate",
            EventKind::AccessRequest => "access.request",
            EventKind::AccessApprove => "access.approve",
            EventKind::AccessDeny => "access.deny",
            EventKind::ReviewHeld => "review.held",
            EventKind::ReviewDecided => "review.decided",
            EventKind::ScimChange => "scim.change",
            EventKind::HttpRequest => "http.request",
            EventKind::HttpResponse => "http.response",
            EventKind::HttpBody => "http.body",
            EventKind::HttpWebsocket => "http.websocket",
            EventKind::AiPrompt => "ai.prompt",
            EventKind::AiCompletion => "ai.completion",
            EventKind::SessionEnd => "session.end",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}
