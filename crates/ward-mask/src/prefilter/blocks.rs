//! Anchors found from 64-byte bitmasks: the digit layouts of cards, SSNs and IBANs, and the `:`/`=`
//! that keys and URLs need. Also the `@` of an address, found with `memchr`.

use super::{Kind, Prefilter, Push};
use crate::shape::{self, Shape};
use crate::swar::Masks;

impl Prefilter {
    /// `@` between an address character and a letter or digit, in `hay[from..to]`.
    pub(super) fn scan_mail(&self, hay: &[u8], from: usize, to: usize, push: &mut impl Push) {
        if self.mail == 0 {
            return;
        }
        let seg = hay.get(from..to).unwrap_or_default();
        for i in memchr::memchr_iter(b'@', seg) {
            if shape::mail_at(hay, from + i) {
                push.push(self.mail, from + i, 1, Kind::Contained);
            }
        }
    }

    /// Digit layouts and `:`/`=` in `hay[from..to]`, from the blocks' bitmasks.
    pub(super) fn scan_blocks(&self, hay: &[u8], from: usize, to: usize, push: &mut impl Push) {
        let digits = self.card | self.ssn | self.iban != 0;
        let punct = !self.keys.is_empty() || self.userinfo != 0;
        if !digits && !punct {
            return;
        }
        let masks_at = |at: usize| match hay.get(at..at + 64) {
            Some(b) => b.try_into().map(Masks::of).unwrap_or_default(),
            None => Masks::of_partial(hay.get(at..).unwrap_or_default()),
        };
        let mut at = from;
        let mut cur = masks_at(at);
        // Whether the byte before the block is a digit.
        let mut digit_before = from
            .checked_sub(1)
            .and_then(|i| hay.get(i))
            .is_some_and(u8::is_ascii_digit);
        while at < to {
            let next = masks_at(at + 64);
            // Only positions before `to` belong to this segment.
            let keep = match to - at {
                n if n >= 64 => u64::MAX,
                n => (1u64 << n) - 1,
            };
            if punct {
                // A `:` or `=` between digits (times, ports) neither ends a key nor starts `://`.
                let before = cur.digit << 1 | u64::from(digit_before);
                let after = cur.digit >> 1 | next.digit << 63;
                let mut bits = cur.punct & !(before & after) & keep;
                while bits != 0 {
                    let p = at + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    self.at_punct(hay, p, push);
                }
            }
            if digits {
                let (card, ssn, iban) = shape::digit_shapes(&cur, &next);
                let shapes = [
                    (Shape::CardDigits, card, self.card),
                    (Shape::DashedDigits, ssn, self.ssn),
                    (Shape::IbanStart, iban, self.iban),
                ];
                for (shape, bits, rules) in shapes {
                    if rules != 0 {
                        each_at(shape, hay, at, bits & keep, rules, push);
                    }
                }
            }
            digit_before = cur.digit >> 63 == 1;
            cur = next;
            at += 64;
        }
    }

    /// A `:`/`=` (or one of `; < > ?`, which the masks group with them) at `p`.
    fn at_punct(&self, hay: &[u8], p: usize, push: &mut impl Push) {
        let b = hay.get(p).copied();
        if b == Some(b':') && self.userinfo != 0 && shape::userinfo_at(hay, p) {
            push.push(self.userinfo, p, 3, Kind::Contained);
        }
        if matches!(b, Some(b':' | b'=')) && !self.keys.is_empty() {
            let rules = self.keys.rules_at(hay, p);
            if rules != 0 {
                push.push(rules, p, 1, Kind::Keyed);
            }
        }
    }
}

/// Anchors `rules` at each candidate bit of `bits` (the block at `at`) where `shape` really occurs.
fn each_at(shape: Shape, hay: &[u8], at: usize, bits: u64, rules: u64, push: &mut impl Push) {
    let kind = match shape.starts_match() {
        true => Kind::Starts,
        false => Kind::Contained,
    };
    let mut bits = bits;
    while bits != 0 {
        let p = at + bits.trailing_zeros() as usize;
        bits &= bits - 1;
        let here = match shape {
            Shape::CardDigits => shape::card_at(hay, p).is_some(),
            Shape::DashedDigits => shape::ssn_at(hay, p),
            Shape::IbanStart => shape::iban_at(hay, p),
            _ => false,
        };
        if here {
            push.push(rules, p, 1, kind);
        }
    }
}
