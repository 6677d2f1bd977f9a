#![no_main]

//! The WebSocket frame reader on arbitrary bytes in arbitrary chunks, from either side.
//!
//! The first byte picks the side (its low bit: 1 the client's, masked frames) and the cap; then
//! a series of chunks, each a length byte and up to 255 bytes. It must never panic, and once it
//! says the stream cannot be read it is not fed again (the relay closes). No message holds more
//! than the cap, nor more than its size says.

use libfuzzer_sys::fuzz_target;
use ward_http::ws::Frames;

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let cap = usize::from(first >> 1) * 8;
    let mut frames = Frames::new(first & 1 == 1, cap);
    let mut out = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let (chunk, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        if frames.push(chunk, &mut out).is_err() {
            break;
        }
    }
    for m in out {
        assert!(
            m.data.len() <= cap.max(125),
            "{} bytes kept of cap {cap}",
            m.data.len()
        );
        assert!(m.data.len() as u64 <= m.bytes);
        assert_eq!(m.truncated, (m.data.len() as u64) < m.bytes);
    }
});
