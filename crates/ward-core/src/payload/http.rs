//! The payloads of HTTP resources' events: requests, responses, WebSocket messages, and the
//! conversations and answers of AI model APIs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `http.request`: a request to an HTTP resource as its client sent it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct HttpRequest {
    pub method: String,
    /// The path on the resource (after `/RESOURCE`).
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The headers, without credentials (`authorization`, `cookie`, …: named in `removed`).
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// `http.response`: the head of an HTTP resource's answer, or of Ward's own when the resource
/// could not answer (`error`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// From the request to the response's head.
    pub duration_ms: u64,
    /// Why Ward answered instead of the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `http.websocket`: one WebSocket message.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct HttpWebsocket {
    /// `client` or `server`.
    pub from: String,
    /// `text`, `binary`, `close`, `ping`, `pong`.
    pub opcode: String,
    /// Masked text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Masked bytes that are not text, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_b64: Option<String>,
    /// The message's size.
    pub bytes: u64,
    /// Only the first `[recording] max_result_bytes` were stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    /// A close message's status code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

/// `ai.prompt`: a request to an AI model API, as the model's conversation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AiPrompt {
    /// `openai-chat`, `openai-responses`, `anthropic-messages`.
    pub api: String,
    pub model: String,
    pub stream: bool,
    /// The conversation sent, oldest first (the system prompt, if any, first), masked.
    pub messages: Vec<AiMessage>,
    /// The tools offered to the model, by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Masked before the provider saw it too (the grant's `mask_upstream`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub masked_upstream: bool,
}

/// One message of a conversation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AiMessage {
    /// `system`, `user`, `assistant`, `tool`.
    pub role: String,
    /// Its text, masked.
    pub text: String,
    /// An assistant message's tool calls, or a tool result's call id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<AiToolCall>,
}

/// A tool call a model proposed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AiToolCall {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    /// Its arguments as the model wrote them (JSON text), masked.
    pub arguments: String,
}

/// `ai.completion`: a model's answer, whole.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AiCompletion {
    pub api: String,
    pub model: String,
    /// The answer's text, masked.
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<AiToolCall>,
    /// `stop`, `tool_calls`, `end_turn`, `tool_use`, … as the provider said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// The answer could not be read whole (cut off, not JSON): what was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}
