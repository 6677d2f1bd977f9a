//! SplitMix64 and the small helpers the generators draw from; no dependency, same output everywhere.

use std::fmt::Write;

pub struct Rng(u64);

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";
pub const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// `len` characters drawn from `alphabet`.
    pub fn chars(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len).map(|_| char::from(*self.pick(alphabet))).collect()
    }

    pub fn alnum(&mut self, len: usize) -> String {
        self.chars(ALNUM, len)
    }

    pub fn hex(&mut self, len: usize) -> String {
        self.chars(HEX, len)
    }

    pub fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-{}{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            char::from(*self.pick(b"89ab")),
            &h[17..20],
            &h[20..]
        )
    }

    /// A timestamp on 2026-11-25 as `HH:MM:SS`.
    pub fn time(&mut self) -> String {
        let s = self.below(86_400);
        format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    }

    /// `2026-MM-DD`.
    pub fn date(&mut self) -> String {
        format!("2026-{:02}-{:02}", self.range(1, 11), self.range(1, 28))
    }

    pub fn ipv4(&mut self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{}.{}.{}.{}",
            self.pick(&[10, 172, 192, 34, 52, 81]),
            self.below(256),
            self.below(256),
            self.range(1, 254)
        );
        s
    }

    /// `cents` as `1234.56`.
    pub fn amount(&mut self) -> String {
        let cents = self.range(99, 250_000);
        format!("{}.{:02}", cents / 100, cents % 100)
    }
}
