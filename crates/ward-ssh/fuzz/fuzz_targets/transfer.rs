#![no_main]

//! The transfer parsers on arbitrary channel data in arbitrary chunks.
//!
//! The input is a series of chunks, each a control byte and then up to 128
//! bytes: the control byte's top bit picks the side (0 client, 1 host) and
//! its low seven bits are the chunk's length less one. Client chunks go to
//! the SFTP parser's client side and to an scp upload, host chunks to the
//! SFTP parser's host side and to an scp download.

use libfuzzer_sys::fuzz_target;
use ward_ssh::transfer::{FileEvent, Scp, Sftp};

fuzz_target!(|data: &[u8]| {
    let mut sftp = Sftp::new();
    let mut upload = Scp::from_command("scp -r -p -t -- /dst").expect("an scp sink");
    let mut download = Scp::from_command("scp -r -f /src/dir").expect("an scp source");
    let mut fed = 0u64;
    let mut events = Vec::new();
    let mut rest = data;
    while let Some((&control, tail)) = rest.split_first() {
        let len = usize::from(control & 0x7f) + 1;
        let (chunk, tail) = tail.split_at(len.min(tail.len()));
        rest = tail;
        fed += chunk.len() as u64;
        if control & 0x80 == 0 {
            events.extend(sftp.client(chunk));
            events.extend(upload.source(chunk));
        } else {
            events.extend(sftp.host(chunk));
            events.extend(download.source(chunk));
        }
    }
    events.extend(sftp.finish());
    events.extend(upload.finish());
    events.extend(download.finish());
    for event in &events {
        if let FileEvent::Transfer(transfer) = event {
            assert!(transfer.size <= fed, "more bytes reported than fed");
        }
    }
});
