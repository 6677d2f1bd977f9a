//! AI model APIs, read as they pass: the conversation a client sends (`ai.prompt`) and the
//! model's answer, reassembled from its stream (`ai.completion`). Sans-IO: JSON in, payloads
//! out. OpenAI-compatible Chat Completions and Responses, and Anthropic Messages.

use serde_json::Value;
use ward_config::AiApi;
use ward_core::payload::{AiCompletion, AiMessage, AiPrompt, AiToolCall};
use ward_mask::{MaskReport, Masker};

/// An endpoint of a model API whose payloads Ward reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    OpenaiChat,
    OpenaiResponses,
    AnthropicMessages,
}

impl Endpoint {
    /// The endpoint a request to `path` (on the resource) is, for a resource speaking `api`.
    pub fn of(api: AiApi, method: &hyper::Method, path: &str) -> Option<Self> {
        if method != hyper::Method::POST {
            return None;
        }
        let path = path.trim_end_matches('/');
        match api {
            AiApi::Openai if path.ends_with("/chat/completions") => Some(Self::OpenaiChat),
            AiApi::Openai if path.ends_with("/responses") => Some(Self::OpenaiResponses),
            AiApi::Anthropic if path.ends_with("/messages") => Some(Self::AnthropicMessages),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::OpenaiChat => "openai-chat",
            Self::OpenaiResponses => "openai-responses",
            Self::AnthropicMessages => "anthropic-messages",
        }
    }
}

fn string(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The text of a message's content: a string, or the text of its parts (`text`, `input_text`,
/// `output_text`, a tool result's content), one per line.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.clone()),
                _ => p
                    .get("text")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| p.get("content").map(text_of))
                    .or_else(|| p.get("output").map(text_of)),
            })
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Arguments as JSON text (OpenAI sends a string, Anthropic an object).
fn arguments(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn message(role: &str, text: String) -> AiMessage {
    AiMessage {
        role: role.to_owned(),
        text,
        tool_calls: Vec::new(),
    }
}

/// The conversation of a request body.
pub fn prompt(endpoint: Endpoint, body: &Value) -> AiPrompt {
    let items = |key: &str| {
        body.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut messages = Vec::new();
    let mut tools = Vec::new();
    match endpoint {
        Endpoint::OpenaiChat => {
            for m in items("messages") {
                let mut msg = message(m["role"].as_str().unwrap_or("user"), text_of(&m["content"]));
                for call in m["tool_calls"].as_array().into_iter().flatten() {
                    msg.tool_calls.push(AiToolCall {
                        id: call["id"].as_str().map(str::to_owned),
                        name: string(&call["function"]["name"]),
                        arguments: arguments(&call["function"]["arguments"]),
                    });
                }
                messages.push(msg);
            }
            for t in items("tools") {
                tools.push(string(&t["function"]["name"]));
            }
        }
        Endpoint::OpenaiResponses => {
            if let Some(i) = body["instructions"].as_str() {
                messages.push(message("system", i.to_owned()));
            }
            match &body["input"] {
                Value::String(s) => messages.push(message("user", s.clone())),
                Value::Array(inputs) => {
                    for item in inputs {
                        match item["type"].as_str() {
                            Some("function_call") => {
                                let mut msg = message("assistant", String::new());
                                msg.tool_calls.push(AiToolCall {
                                    id: item["call_id"].as_str().map(str::to_owned),
                                    name: string(&item["name"]),
                                    arguments: arguments(&item["arguments"]),
                                });
                                messages.push(msg);
                            }
                            Some("function_call_output") => {
                                messages.push(message("tool", text_of(&item["output"])))
                            }
                            _ => messages.push(message(
                                item["role"].as_str().unwrap_or("user"),
                                text_of(&item["content"]),
                            )),
                        }
                    }
                }
                _ => {}
            }
            for t in items("tools") {
                tools.push(string(&t["name"]));
            }
        }
        Endpoint::AnthropicMessages => {
            let system = text_of(&body["system"]);
            if !system.is_empty() {
                messages.push(message("system", system));
            }
            for m in items("messages") {
                let mut msg = message(m["role"].as_str().unwrap_or("user"), text_of(&m["content"]));
                for block in m["content"].as_array().into_iter().flatten() {
                    if block["type"] == "tool_use" {
                        msg.tool_calls.push(AiToolCall {
                            id: block["id"].as_str().map(str::to_owned),
                            name: string(&block["name"]),
                            arguments: arguments(&block["input"]),
                        });
                    }
                }
                messages.push(msg);
            }
            for t in items("tools") {
                tools.push(string(&t["name"]));
            }
        }
    }
    AiPrompt {
        api: endpoint.name().to_owned(),
        model: string(&body["model"]),
        stream: body["stream"].as_bool().unwrap_or(false),
        messages,
        tools,
        masked_upstream: false,
    }
}

/// Masks what the conversation of a request body says (`messages`, `input`, `instructions`,
/// `system`), in place, before the provider sees it.
pub fn mask_request(body: &mut Value, masker: &Masker, report: &mut MaskReport) {
    fn mask(v: &mut Value, masker: &Masker, report: &mut MaskReport) {
        match v {
            Value::String(s) => {
                if let std::borrow::Cow::Owned(masked) = masker.mask_str(s, report) {
                    *s = masked;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| mask(i, masker, report)),
            Value::Object(fields) => fields.values_mut().for_each(|f| mask(f, masker, report)),
            _ => {}
        }
    }
    for key in ["messages", "input", "instructions", "system"] {
        if let Some(v) = body.get_mut(key) {
            mask(v, masker, report);
        }
    }
}

/// A tool call being assembled from a stream.
#[derive(Default)]
struct Call {
    id: Option<String>,
    name: String,
    arguments: String,
}

/// A model's answer, read as its body passes: server-sent events chunk by chunk, or one JSON
/// document.
pub struct Answer {
    endpoint: Endpoint,
    sse: bool,
    /// SSE: the incomplete line; JSON: the document so far (up to `cap`).
    pending: Vec<u8>,
    cap: usize,
    overflowed: bool,
    model: String,
    text: String,
    /// By the stream's index of the call (or content block).
    calls: Vec<(u64, Call)>,
    finish: Option<String>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    /// A whole answer the stream ended with (Responses' `response.completed`).
    whole: Option<Value>,
}

impl Answer {
    /// An answer from `endpoint`; `sse` when its content type is `text/event-stream`. At most
    /// `cap` bytes of a JSON answer are read.
    pub fn new(endpoint: Endpoint, sse: bool, cap: usize) -> Self {
        Self {
            endpoint,
            sse,
            pending: Vec::new(),
            cap,
            overflowed: false,
            model: String::new(),
            text: String::new(),
            calls: Vec::new(),
            finish: None,
            input_tokens: None,
            output_tokens: None,
            whole: None,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        if !self.sse {
            let room = self.cap.saturating_sub(self.pending.len());
            self.overflowed |= chunk.len() > room;
            self.pending
                .extend_from_slice(&chunk[..room.min(chunk.len())]);
            return;
        }
        self.pending.extend_from_slice(chunk);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            if let Some(data) = line.strip_prefix("data:") {
                let data = data.trim_start();
                if let Ok(event) = serde_json::from_str::<Value>(data) {
                    self.event(&event);
                }
            }
        }
        if self.pending.len() > self.cap {
            self.overflowed = true;
            self.pending.clear();
        }
    }

    fn call(&mut self, index: u64) -> &mut Call {
        let at = match self.calls.iter().position(|(i, _)| *i == index) {
            Some(at) => at,
            None => {
                self.calls.push((index, Call::default()));
                self.calls.len() - 1
            }
        };
        &mut self.calls[at].1
    }

    /// One event of a stream.
    fn event(&mut self, e: &Value) {
        let index = |v: &Value| v.as_u64().unwrap_or(0);
        match self.endpoint {
            Endpoint::OpenaiChat => {
                if let Some(m) = e["model"].as_str() {
                    self.model = m.to_owned();
                }
                for choice in e["choices"].as_array().into_iter().flatten() {
                    if let Some(t) = choice["delta"]["content"].as_str() {
                        self.text.push_str(t);
                    }
                    for tc in choice["delta"]["tool_calls"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        let call = self.call(index(&tc["index"]));
                        if let Some(id) = tc["id"].as_str() {
                            call.id = Some(id.to_owned());
                        }
                        if let Some(n) = tc["function"]["name"].as_str() {
                            call.name.push_str(n);
                        }
                        if let Some(a) = tc["function"]["arguments"].as_str() {
                            call.arguments.push_str(a);
                        }
                    }
                    if let Some(f) = choice["finish_reason"].as_str() {
                        self.finish = Some(f.to_owned());
                    }
                }
                self.usage(&e["usage"], "prompt_tokens", "completion_tokens");
            }
            Endpoint::OpenaiResponses => match e["type"].as_str().unwrap_or_default() {
                "response.output_text.delta" => {
                    self.text.push_str(e["delta"].as_str().unwrap_or_default())
                }
                "response.output_item.added" if e["item"]["type"] == "function_call" => {
                    let call = self.call(index(&e["output_index"]));
                    call.id = e["item"]["call_id"].as_str().map(str::to_owned);
                    call.name = string(&e["item"]["name"]);
                }
                "response.function_call_arguments.delta" => {
                    let delta = string(&e["delta"]);
                    self.call(index(&e["output_index"]))
                        .arguments
                        .push_str(&delta);
                }
                "response.completed" | "response.incomplete" | "response.failed" => {
                    self.whole = Some(e["response"].clone());
                }
                "response.created" => self.model = string(&e["response"]["model"]),
                _ => {}
            },
            Endpoint::AnthropicMessages => match e["type"].as_str().unwrap_or_default() {
                "message_start" => {
                    self.model = string(&e["message"]["model"]);
                    self.usage(&e["message"]["usage"], "input_tokens", "output_tokens");
                }
                "content_block_start" if e["content_block"]["type"] == "tool_use" => {
                    let block = &e["content_block"];
                    let call = self.call(index(&e["index"]));
                    call.id = block["id"].as_str().map(str::to_owned);
                    call.name = string(&block["name"]);
                }
                "content_block_delta" => {
                    let delta = &e["delta"];
                    match delta["type"].as_str() {
                        Some("text_delta") => self
                            .text
                            .push_str(delta["text"].as_str().unwrap_or_default()),
                        Some("input_json_delta") => {
                            let part = string(&delta["partial_json"]);
                            self.call(index(&e["index"])).arguments.push_str(&part);
                        }
                        _ => {}
                    }
                }
                "message_delta" => {
                    if let Some(s) = e["delta"]["stop_reason"].as_str() {
                        self.finish = Some(s.to_owned());
                    }
                    self.usage(&e["usage"], "input_tokens", "output_tokens");
                }
                _ => {}
            },
        }
    }

    fn usage(&mut self, usage: &Value, input: &str, output: &str) {
        if let Some(n) = usage[input].as_u64() {
            self.input_tokens = Some(n);
        }
        if let Some(n) = usage[output].as_u64() {
            self.output_tokens = Some(n);
        }
    }

    /// A whole (non-streamed) answer.
    fn document(&mut self, d: &Value) {
        if let Some(m) = d["model"].as_str() {
            self.model = m.to_owned();
        }
        match self.endpoint {
            Endpoint::OpenaiChat => {
                let choice = &d["choices"][0];
                self.text = text_of(&choice["message"]["content"]);
                for (i, tc) in choice["message"]["tool_calls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let call = self.call(i as u64);
                    call.id = tc["id"].as_str().map(str::to_owned);
                    call.name = string(&tc["function"]["name"]);
                    call.arguments = arguments(&tc["function"]["arguments"]);
                }
                self.finish = choice["finish_reason"].as_str().map(str::to_owned);
                self.usage(&d["usage"], "prompt_tokens", "completion_tokens");
            }
            Endpoint::OpenaiResponses => {
                let mut text = Vec::new();
                self.calls.clear();
                for (i, item) in d["output"].as_array().into_iter().flatten().enumerate() {
                    match item["type"].as_str() {
                        Some("message") => text.push(text_of(&item["content"])),
                        Some("function_call") => {
                            let call = self.call(i as u64);
                            call.id = item["call_id"].as_str().map(str::to_owned);
                            call.name = string(&item["name"]);
                            call.arguments = arguments(&item["arguments"]);
                        }
                        _ => {}
                    }
                }
                self.text = text.join("\n");
                self.finish = d["status"].as_str().map(str::to_owned);
                self.usage(&d["usage"], "input_tokens", "output_tokens");
            }
            Endpoint::AnthropicMessages => {
                self.text = text_of(&d["content"]);
                for (i, block) in d["content"].as_array().into_iter().flatten().enumerate() {
                    if block["type"] == "tool_use" {
                        let call = self.call(i as u64);
                        call.id = block["id"].as_str().map(str::to_owned);
                        call.name = string(&block["name"]);
                        call.arguments = arguments(&block["input"]);
                    }
                }
                self.finish = d["stop_reason"].as_str().map(str::to_owned);
                self.usage(&d["usage"], "input_tokens", "output_tokens");
            }
        }
    }

    /// The answer, whole; `None` for a body that was no answer (an error the provider sent as
    /// something else than the API's shape is recorded as the body only).
    pub fn finish(mut self, status_ok: bool) -> Option<AiCompletion> {
        let mut incomplete = None;
        if !self.sse {
            match serde_json::from_slice::<Value>(&self.pending) {
                Ok(d) if status_ok => self.document(&d),
                Ok(_) => return None,
                Err(e) => {
                    if !status_ok {
                        return None;
                    }
                    incomplete = Some(if self.overflowed {
                        "the answer is larger than [recording] max_message_bytes".to_owned()
                    } else {
                        format!("the answer is not JSON: {e}")
                    });
                }
            }
        } else if let Some(whole) = self.whole.take() {
            self.document(&whole);
        }
        if self.overflowed && incomplete.is_none() {
            incomplete =
                Some("a line of the stream is larger than [recording] max_message_bytes".into());
        }
        let tool_calls = std::mem::take(&mut self.calls)
            .into_iter()
            .map(|(_, c)| AiToolCall {
                id: c.id,
                name: c.name,
                arguments: c.arguments,
            })
            .collect();
        Some(AiCompletion {
            api: self.endpoint.name().to_owned(),
            model: self.model,
            text: self.text,
            tool_calls,
            finish_reason: self.finish,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            incomplete,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sse(answer: &mut Answer, events: &[Value], step: usize) {
        let mut wire = Vec::new();
        for e in events {
            wire.extend_from_slice(format!("event: x\ndata: {e}\n\n").as_bytes());
        }
        wire.extend_from_slice(b"data: [DONE]\n\n");
        for chunk in wire.chunks(step) {
            answer.push(chunk);
        }
    }

    #[test]
    fn a_chat_conversation_and_its_streamed_answer_with_a_tool_call() {
        let body = json!({
            "model": "gpt-x", "stream": true,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "run the migration"}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "run_sql", "arguments": "{\"sql\":\"select 1\"}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "1"}
            ],
            "tools": [{"type": "function", "function": {"name": "run_sql", "parameters": {}}}]
        });
        let p = prompt(Endpoint::OpenaiChat, &body);
        assert_eq!(
            (p.model.as_str(), p.stream, p.tools.as_slice()),
            ("gpt-x", true, &["run_sql".to_owned()][..])
        );
        let said: Vec<(&str, &str)> = p
            .messages
            .iter()
            .map(|m| (m.role.as_str(), m.text.as_str()))
            .collect();
        assert_eq!(
            said,
            [
                ("system", "be brief"),
                ("user", "run the migration"),
                ("assistant", ""),
                ("tool", "1")
            ]
        );
        assert_eq!(
            p.messages[2].tool_calls[0].arguments,
            "{\"sql\":\"select 1\"}"
        );

        let events = [
            json!({"model": "gpt-x", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "I will "}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "run it."}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_9", "function": {"name": "run_sql", "arguments": "{\"sql\": \"ALTER"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": " TABLE t\"}"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 7}}),
        ];
        for step in [1, 5, 1000] {
            let mut a = Answer::new(Endpoint::OpenaiChat, true, 1 << 20);
            sse(&mut a, &events, step);
            let c = a.finish(true).expect("an answer");
            assert_eq!(c.text, "I will run it.");
            assert_eq!(c.tool_calls.len(), 1);
            assert_eq!(c.tool_calls[0].id.as_deref(), Some("call_9"));
            assert_eq!(c.tool_calls[0].arguments, "{\"sql\": \"ALTER TABLE t\"}");
            assert_eq!(
                (c.finish_reason.as_deref(), c.input_tokens, c.output_tokens),
                (Some("tool_calls"), Some(12), Some(7))
            );
            assert_eq!(c.model, "gpt-x");
        }
    }

    #[test]
    fn anthropic_messages_streamed_and_whole() {
        let body = json!({"model": "claude-x", "system": [{"type": "text", "text": "sys"}],
            "messages": [{"role": "user", "content": "hello"}], "tools": [{"name": "run_sql"}]});
        let p = prompt(Endpoint::AnthropicMessages, &body);
        assert_eq!(p.messages.len(), 2);
        assert_eq!(
            (p.messages[0].role.as_str(), p.messages[1].text.as_str()),
            ("system", "hello")
        );
        let events = [
            json!({"type": "message_start", "message": {"model": "claude-x", "usage": {"input_tokens": 3, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi "}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "there"}}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "tu_1", "name": "run_sql", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"sql\":"}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"x\"}"}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
            json!({"type": "message_stop"}),
        ];
        let mut a = Answer::new(Endpoint::AnthropicMessages, true, 1 << 20);
        sse(&mut a, &events, 7);
        let c = a.finish(true).expect("answer");
        assert_eq!(
            (c.text.as_str(), c.finish_reason.as_deref()),
            ("Hi there", Some("tool_use"))
        );
        assert_eq!((c.input_tokens, c.output_tokens), (Some(3), Some(9)));
        assert_eq!(
            (
                c.tool_calls[0].name.as_str(),
                c.tool_calls[0].arguments.as_str()
            ),
            ("run_sql", "{\"sql\":\"x\"}")
        );

        let whole = json!({"model": "claude-x", "content": [{"type": "text", "text": "ok"}, {"type": "tool_use", "id": "t", "name": "run_sql", "input": {"sql": "y"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 2}});
        let mut a = Answer::new(Endpoint::AnthropicMessages, false, 1 << 20);
        a.push(whole.to_string().as_bytes());
        let c = a.finish(true).expect("answer");
        assert_eq!(
            (c.text.as_str(), c.tool_calls[0].arguments.as_str()),
            ("ok", "{\"sql\":\"y\"}")
        );
    }

    #[test]
    fn responses_take_the_completed_response_and_a_cut_answer_says_so() {
        let body = json!({"model": "m", "instructions": "sys", "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]});
        let p = prompt(Endpoint::OpenaiResponses, &body);
        assert_eq!(
            p.messages
                .iter()
                .map(|m| m.text.as_str())
                .collect::<Vec<_>>(),
            ["sys", "hi"]
        );
        let done = json!({"model": "m", "status": "completed", "output": [
            {"type": "message", "content": [{"type": "output_text", "text": "hello"}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}],
            "usage": {"input_tokens": 4, "output_tokens": 5}});
        let events = [
            json!({"type": "response.created", "response": {"model": "m"}}),
            json!({"type": "response.output_text.delta", "delta": "hel"}),
            json!({"type": "response.completed", "response": done}),
        ];
        let mut a = Answer::new(Endpoint::OpenaiResponses, true, 1 << 20);
        sse(&mut a, &events, 3);
        let c = a.finish(true).expect("answer");
        assert_eq!(
            (c.text.as_str(), c.tool_calls.len(), c.output_tokens),
            ("hello", 1, Some(5))
        );

        let mut a = Answer::new(Endpoint::OpenaiChat, false, 10);
        a.push(b"{\"choices\": [{\"message\": {\"content\": \"long\"}}]}");
        let c = a.finish(true).expect("answer");
        assert!(
            c.incomplete
                .is_some_and(|i| i.contains("max_message_bytes"))
        );
        // An error status with its own JSON is not an answer.
        let mut a = Answer::new(Endpoint::OpenaiChat, false, 1 << 20);
        a.push(b"{\"error\": {\"message\": \"no\"}}");
        assert!(a.finish(false).is_none());
    }

    #[test]
    fn masking_upstream_masks_the_conversation_and_nothing_else() {
        let masker = Masker::builtin().expect("builtin");
        let mut body = json!({"model": "postgres://app:hunter2@db/shop",
            "messages": [{"role": "user", "content": "connect with postgres://app:hunter2@db/shop"}]});
        let mut report = MaskReport::new();
        mask_request(&mut body, &masker, &mut report);
        assert!(
            !body["messages"][0]["content"]
                .as_str()
                .unwrap_or_default()
                .contains("hunter2")
        );
        assert_eq!(body["model"], "postgres://app:hunter2@db/shop");
        assert_eq!(report.count("url_password"), 1);
    }
}
