//! Byte-class bitmasks of 64-byte blocks, computed eight bytes at a time with plain integer arithmetic.
//!
//! # Performance
//! The masks let the prefilter test digit layouts (cards, SSNs, IBANs) and find `:`/`=` with a few
//! shifts per block instead of a branch per byte. Each class costs about five integer operations per
//! eight bytes, plus two to pack the per-byte flags into bits; no `unsafe`, no target features.

const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HI: u64 = 0x8080_8080_8080_8080;

const fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// One bit per byte of a 64-byte block: bit `i` describes byte `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Masks {
    /// `0`–`9`.
    pub digit: u64,
    /// One of `: ; < = > ?` (the bytes just above the digits; `:` and `=` are what the caller wants).
    pub punct: u64,
    /// 0x40–0x5F: the capitals and `@ [ \ ] ^ _` (a superset of `A`–`Z` that costs half as much).
    pub upper: u64,
}

/// The high bit of each byte of `w` set where the byte is below `c` (`c <= 0x80`), for ASCII bytes;
/// bytes of 0x80 and above are never "below".
#[inline(always)]
fn below(w: u64, c: u8) -> u64 {
    // (b & 0x7f) + (0x80 - c) has its high bit clear exactly when b & 0x7f < c, and never carries
    // into the next byte (at most 0x7f + 0x80).
    !(((w & LO7) + splat(0x80 - c)) | w) & HI
}

/// Packs the high bits of the eight bytes of `flags` into the low eight bits, byte 0 first.
#[inline(always)]
fn pack(flags: u64) -> u64 {
    // Bit 8k+7 lands on bit 56+k; all partial products have distinct positions, so nothing carries.
    flags.wrapping_mul(0x0002_0408_1020_4081) >> 56
}

impl Masks {
    /// The masks of a full block.
    #[inline]
    pub(crate) fn of(block: &[u8; 64]) -> Masks {
        let mut m = Masks::default();
        for (k, word) in block.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(word);
            let w = u64::from_le_bytes(b);
            let x = w ^ splat(b'0');
            let digit = below(x, 10);
            let punct = below(x, 16) & !digit;
            let upper = below(w ^ splat(0x40), 0x20);
            let shift = 8 * k;
            m.digit |= pack(digit) << shift;
            m.punct |= pack(punct) << shift;
            m.upper |= pack(upper) << shift;
        }
        m
    }

    /// The masks of up to 64 bytes; missing bytes count as zero bytes (in no class).
    pub(crate) fn of_partial(bytes: &[u8]) -> Masks {
        let mut block = [0u8; 64];
        let n = bytes.len().min(64);
        if let (Some(dst), Some(src)) = (block.get_mut(..n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
        Masks::of(&block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_byte_classes() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        for chunk in bytes.chunks(64) {
            let m = Masks::of_partial(chunk);
            for (i, &b) in chunk.iter().enumerate() {
                assert_eq!(m.digit >> i & 1 == 1, b.is_ascii_digit(), "digit {b:#x}");
                assert_eq!(
                    m.punct >> i & 1 == 1,
                    matches!(b, b':' | b';' | b'<' | b'=' | b'>' | b'?'),
                    "punct {b:#x}"
                );
                let upper = (0x40..0x60).contains(&b);
                assert_eq!(m.upper >> i & 1 == 1, upper, "upper {b:#x}");
            }
        }
        let m = Masks::of_partial(b"A1");
        assert_eq!((m.digit, m.upper, m.punct), (0b10, 0b01, 0));
    }
}
