//! Masking throughput (bytes/second, one thread) over 64 MiB of generated logs, psql and CSV results
//! and JSON documents: clean, with a secret every few KiB, and through the streaming masker.
//!
//! Run with `CARGO_TARGET_DIR=/work/target-mask cargo bench -p ward-mask --bench masking`. The corpus
//! is built in memory from a fixed seed (see `corpus/`); building it takes a second or two before the
//! first benchmark.

mod corpus;

use corpus::{Corpus, SecretGap};
use divan::counter::BytesCount;
use divan::{Bencher, black_box};
use std::sync::OnceLock;
use ward_mask::{MaskReport, Masker};

/// Corpus size: the issue asks for at least 64 MiB.
const SIZE: usize = 64 << 20;
/// The chunk size fed to the streaming masker (a typical socket read or COPY buffer).
const CHUNK: usize = 16 << 10;
/// A secret after every 2–6 KiB of text.
const GAP: SecretGap = SecretGap {
    min: 2 << 10,
    max: 6 << 10,
};
const SEED: u64 = 0x5741_5244; // "WARD"

fn main() {
    divan::main();
}

fn masker() -> &'static Masker {
    static M: OnceLock<Masker> = OnceLock::new();
    M.get_or_init(|| Masker::builtin().expect("built-ins compile"))
}

/// The clean corpus; checked once to mask nothing, so the benchmark measures the no-match path.
fn clean() -> &'static [u8] {
    static C: OnceLock<Corpus> = OnceLock::new();
    &C.get_or_init(|| {
        let c = corpus::generate(SIZE, None, SEED);
        let mut report = MaskReport::new();
        let masked = masker().mask(&c.bytes, &mut report);
        assert!(report.is_empty(), "clean corpus masked: {report:?}");
        assert_eq!(masked.len(), c.bytes.len());
        c
    })
    .bytes
}

/// The corpus with secrets; checked once that at least one mask lands per planted secret.
fn with_secrets() -> &'static [u8] {
    static C: OnceLock<Corpus> = OnceLock::new();
    &C.get_or_init(|| {
        let c = corpus::generate(SIZE, Some(GAP), SEED);
        let mut report = MaskReport::new();
        masker().mask(&c.bytes, &mut report);
        let rules: Vec<String> = report.iter().map(|(r, n)| format!("{r} {n}")).collect();
        eprintln!(
            "with_secrets: {} bytes, {} secrets planted, {} masked ({})",
            c.bytes.len(),
            c.secrets,
            report.total(),
            rules.join(", ")
        );
        assert!(
            report.total() >= c.secrets as u64,
            "a planted secret was missed"
        );
        c
    })
    .bytes
}

// Each iteration masks all 64 MiB, so a few samples of one iteration suffice.

#[divan::bench(sample_count = 10, sample_size = 1)]
fn mask_clean(b: Bencher) {
    let data = clean();
    let m = masker();
    b.counter(BytesCount::of_slice(data))
        .bench(|| m.mask(black_box(data), &mut MaskReport::new()).len());
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn mask_with_secrets(b: Bencher) {
    let data = with_secrets();
    let m = masker();
    b.counter(BytesCount::of_slice(data))
        .bench(|| m.mask(black_box(data), &mut MaskReport::new()).len());
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn stream_clean(b: Bencher) {
    let data = clean();
    let m = masker();
    b.counter(BytesCount::of_slice(data))
        .bench(|| stream(m, data));
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn stream_with_secrets(b: Bencher) {
    let data = with_secrets();
    let m = masker();
    b.counter(BytesCount::of_slice(data))
        .bench(|| stream(m, data));
}

/// Streams `data` in [`CHUNK`]-sized pieces, handing each piece's output on (and reusing the buffer)
/// as a proxy writing to a socket would.
fn stream(m: &Masker, data: &[u8]) -> usize {
    let mut s = m.stream();
    let mut out = Vec::with_capacity(2 * CHUNK);
    let mut total = 0;
    for c in data.chunks(CHUNK) {
        s.push_into(black_box(c), &mut out);
        total += black_box(&out).len();
        out.clear();
    }
    s.finish_into(&mut out);
    total + out.len()
}

#[divan::bench]
fn compile_builtins() -> Masker {
    Masker::builtin().expect("built-ins compile")
}
