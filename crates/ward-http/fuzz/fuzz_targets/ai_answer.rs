#![no_main]

//! The AI model answer reader on arbitrary bodies in arbitrary chunks: each endpoint, streamed
//! (server-sent events) or whole (JSON), and the prompt reader on the same bytes as JSON. They
//! must never panic, whatever the provider (or a man in the middle) sends.

use libfuzzer_sys::fuzz_target;
use ward_http::ai::{Answer, Endpoint, prompt};

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let endpoint = match first % 3 {
        0 => Endpoint::OpenaiChat,
        1 => Endpoint::OpenaiResponses,
        _ => Endpoint::AnthropicMessages,
    };
    let step = usize::from(first >> 2).max(1);
    let mut answer = Answer::new(endpoint, first & 0x80 != 0, 1 << 16);
    for chunk in body.chunks(step) {
        answer.push(chunk);
    }
    let _ = answer.finish(first & 0x40 != 0);
    if let Ok(json) = serde_json::from_slice(body) {
        let _ = prompt(endpoint, &json);
    }
});
