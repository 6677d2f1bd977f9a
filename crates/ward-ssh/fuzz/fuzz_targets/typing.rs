#![no_main]

//! The typed-line tracker on arbitrary terminal traffic in arbitrary chunks.
//!
//! The input is a series of chunks, each a control byte and then up to 128 bytes: the control
//! byte's top bit picks the side (0 what the person typed, 1 what the host sent) and its low
//! seven bits are the chunk's length less one. No more lines may be decided than Enters typed.

use libfuzzer_sys::fuzz_target;
use ward_ssh::typing::Typing;

fuzz_target!(|data: &[u8]| {
    let mut typing = Typing::default();
    let (mut enters, mut decided) = (0usize, 0usize);
    let mut rest = data;
    while let Some((&control, tail)) = rest.split_first() {
        let len = usize::from(control & 0x7f) + 1;
        let (chunk, tail) = tail.split_at(len.min(tail.len()));
        rest = tail;
        if control & 0x80 == 0 {
            let (entered, lines) = typing.input(chunk);
            enters += entered.len();
            decided += lines.len();
        } else {
            decided += typing.output(chunk).len();
        }
    }
    decided += typing.finish().len();
    assert!(decided <= enters, "{decided} lines decided for {enters} Enters");
});
