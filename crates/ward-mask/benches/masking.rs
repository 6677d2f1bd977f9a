//! Masking throughput (bytes/second): clean text, text with a few secrets, and the streaming masker.
//!
//! Run with `CARGO_TARGET_DIR=/work/target-mask cargo bench -p ward-mask --bench masking`.

use divan::counter::BytesCount;
use divan::{Bencher, black_box};
use std::sync::OnceLock;
use ward_mask::{MaskReport, Masker};

fn main() {
    divan::main();
}

fn masker() -> &'static Masker {
    static M: OnceLock<Masker> = OnceLock::new();
    M.get_or_init(|| Masker::builtin().expect("built-ins compile"))
}

/// ~64 KiB of log lines, code and prose with no secrets (but digits, dates, ids and hex).
fn clean() -> Vec<u8> {
    let lines = [
        "2024-01-15T12:30:45.123Z INFO request_id=123e4567-e89b-12d3-a456-426614174000 GET /api/v1/orders/20240115 200 12ms\n",
        "    let total = items.iter().map(|i| i.price * 100).sum::<u64>(); // order 20240115-0042\n",
        "The quick brown fox jumps over the lazy dog, then reads commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904.\n",
        " id | name    | created_at          | amount\n  7 | widget  | 2024-01-15 12:30:45 | 1999.00\n",
    ];
    lines
        .iter()
        .cycle()
        .take(700)
        .flat_map(|l| l.bytes())
        .take(64 * 1024)
        .collect()
}

/// The clean text with a secret roughly every 4 KiB.
fn with_secrets() -> Vec<u8> {
    let secrets = [
        "card 4111 1111 1111 1111 ",
        "AKIAIOSFODNN7EXAMPLE ",
        "Authorization: Bearer abc.def-123\n",
        "alice@example.com ",
        "password=hunter2 ",
        "ghp_0123456789abcdefghijABCDEFGHIJ012345 ",
    ];
    let mut out = Vec::new();
    for (i, chunk) in clean().chunks(4096).enumerate() {
        out.extend_from_slice(chunk);
        out.extend_from_slice(secrets[i % secrets.len()].as_bytes());
    }
    out
}

#[divan::bench]
fn mask_clean(b: Bencher) {
    let data = clean();
    let m = masker();
    b.counter(BytesCount::of_slice(&data))
        .bench(|| m.mask(black_box(&data), &mut MaskReport::new()).len());
}

#[divan::bench]
fn mask_with_secrets(b: Bencher) {
    let data = with_secrets();
    let m = masker();
    b.counter(BytesCount::of_slice(&data))
        .bench(|| m.mask(black_box(&data), &mut MaskReport::new()).len());
}

#[divan::bench(args = [256, 4096])]
fn stream_clean(b: Bencher, chunk: usize) {
    let data = clean();
    let m = masker();
    b.counter(BytesCount::of_slice(&data))
        .bench(|| stream(m, &data, chunk));
}

#[divan::bench(args = [256, 4096])]
fn stream_with_secrets(b: Bencher, chunk: usize) {
    let data = with_secrets();
    let m = masker();
    b.counter(BytesCount::of_slice(&data))
        .bench(|| stream(m, &data, chunk));
}

fn stream(m: &Masker, data: &[u8], chunk: usize) -> usize {
    let mut s = m.stream();
    let mut out = Vec::with_capacity(data.len() + 1024);
    for c in data.chunks(chunk) {
        s.push_into(black_box(c), &mut out);
    }
    s.finish_into(&mut out);
    out.len()
}

#[divan::bench]
fn compile_builtins() -> Masker {
    Masker::builtin().expect("built-ins compile")
}
