//! A deterministic corpus of realistic text for the masking benchmark: application and access logs,
//! psql result tables, CSV exports and JSON API responses, optionally with a secret every few KiB.
//!
//! Everything is generated from a fixed seed, so every run (and every machine) masks the same bytes
//! and nothing large is committed or downloaded.

mod json;
mod logs;
mod rng;
mod secrets;
mod tables;
mod words;

pub use rng::Rng;

/// A generated corpus and what was planted in it.
pub struct Corpus {
    pub bytes: Vec<u8>,
    /// Secrets planted (0 for a clean corpus). A planted secret may be masked by more than one rule
    /// (a `password=` value that is also a URL password), never by none.
    pub secrets: usize,
}

/// Where and how often secrets go.
#[derive(Clone, Copy)]
pub struct SecretGap {
    pub min: usize,
    pub max: usize,
}

/// Builds at least `size` bytes. With `gap`, a secret appears after every `gap.min..gap.max` bytes, in
/// whatever block is being written, in a form that suits it (a log line, a table cell, a JSON field).
pub fn generate(size: usize, gap: Option<SecretGap>, seed: u64) -> Corpus {
    let mut w = Writer {
        out: Vec::with_capacity(size + 64 * 1024),
        rng: Rng::new(seed),
        gap,
        next_secret: 0,
        secrets: 0,
    };
    w.schedule();
    while w.out.len() < size {
        // Block mix by weight: logs dominate real traffic, then query results, then API bodies.
        match w.rng.below(20) {
            0..=6 => logs::app_block(&mut w),
            7..=9 => logs::access_block(&mut w),
            10..=13 => tables::psql_block(&mut w),
            14..=15 => tables::csv_block(&mut w),
            _ => json::block(&mut w),
        }
    }
    Corpus {
        bytes: w.out,
        secrets: w.secrets,
    }
}

/// The corpus being written, plus the secret schedule.
pub struct Writer {
    pub out: Vec<u8>,
    pub rng: Rng,
    gap: Option<SecretGap>,
    next_secret: usize,
    secrets: usize,
}

impl Writer {
    /// Whether the next record should carry a secret; counts it and schedules the next one if so.
    pub fn secret_due(&mut self) -> bool {
        if self.gap.is_none() || self.out.len() < self.next_secret {
            return false;
        }
        self.secrets += 1;
        self.schedule();
        true
    }

    fn schedule(&mut self) {
        if let Some(g) = self.gap {
            let span = (g.max - g.min) as u64;
            self.next_secret = self.out.len() + g.min + self.rng.below(span.max(1)) as usize;
        }
    }

    pub fn push(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }
}
