//! Keyword anchors: a `:` or `=` right after a key such as `password`, `client_secret` or
//! `Authorization`, checked backwards from the operator.

use super::bit;

/// A key of `Hint::Keys`, lower-case, and the rules that use it.
#[derive(Debug)]
struct Key {
    word: Vec<u8>,
    rules: u64,
}

#[derive(Debug)]
pub(super) struct Keys {
    keys: Vec<Key>,
    /// Per rule: the longest match of its hint's `before` pattern.
    leads: Vec<Option<usize>>,
    /// Per byte: the keys (bit `k` for `keys[k]`) that may end in that byte.
    ends: Box<[u64; 256]>,
    /// Per pair of ASCII bytes (bit `a * 256 + b`): whether some key ends in `a b`. Most `:`/`=`
    /// follow a pair no key ends with (`_id=`, `"status":`), and this rejects them with one lookup.
    pairs: Box<[u64; 1024]>,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            leads: Vec::new(),
            ends: Box::new([0; 256]),
            pairs: Box::new([0; 1024]),
        }
    }
}

impl Keys {
    pub(super) fn add(&mut self, words: &[&str], before: &str, rule: usize, bit: u64) {
        if self.leads.len() <= rule {
            self.leads.resize(rule + 1, None);
        }
        if let Some(lead) = self.leads.get_mut(rule) {
            *lead = longest_match(before);
        }
        for w in words {
            let word = w.to_ascii_lowercase().into_bytes();
            match self.keys.iter_mut().find(|k| k.word == word) {
                Some(k) => k.rules |= bit,
                None => self.keys.push(Key { word, rules: bit }),
            }
        }
    }

    pub(super) fn build(&mut self) {
        for key in &self.keys {
            let Some(&[a, b]) = key
                .word
                .len()
                .checked_sub(2)
                .and_then(|i| key.word.get(i..))
            else {
                // A one-letter key: every pair may end it.
                self.pairs.fill(u64::MAX);
                break;
            };
            for a in [a.to_ascii_lowercase(), a.to_ascii_uppercase()] {
                for b in [b.to_ascii_lowercase(), b.to_ascii_uppercase()] {
                    let i = usize::from(a) << 8 | usize::from(b);
                    if let Some(w) = self.pairs.get_mut(i / 64) {
                        *w |= 1 << (i % 64);
                    }
                }
            }
        }
        // Past 64 keys, `rules_at` checks every key at every operator instead.
        for (k, key) in self.keys.iter().enumerate().take(64) {
            for (b, slot) in (0u8..=255).zip(self.ends.iter_mut()) {
                let ends = key
                    .word
                    .last()
                    .is_some_and(|&c| b.to_ascii_lowercase() == c);
                // A non-ASCII byte may end the K or ſ of a key (`ends_with_key`).
                if ends || !b.is_ascii() {
                    *slot |= bit(k);
                }
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How far before its operator a match of `rule` can start, if its hint says.
    pub(super) fn lead(&self, rule: usize) -> Option<usize> {
        self.leads.get(rule).copied().flatten()
    }

    /// The rules whose key ends right before the assignment operator at `op`, allowing a quote and
    /// up to four spaces or tabs between.
    pub(super) fn rules_at(&self, hay: &[u8], op: usize) -> u64 {
        let mut end = op;
        for _ in 0..4 {
            match end.checked_sub(1).and_then(|i| hay.get(i)) {
                Some(b' ' | b'\t') => end -= 1,
                _ => break,
            }
        }
        if let Some(b'"' | b'\'') = end.checked_sub(1).and_then(|i| hay.get(i)) {
            end -= 1;
        }
        let text = hay.get(..end).unwrap_or_default();
        let Some(&last) = text.last() else {
            return 0;
        };
        if let Some(&[a, b]) = end.checked_sub(2).and_then(|i| hay.get(i..end)) {
            let i = usize::from(a) << 8 | usize::from(b);
            // A non-ASCII byte may be part of the K or ſ of a key (`ends_with_key`).
            let ascii = (a | b).is_ascii();
            if ascii
                && self
                    .pairs
                    .get(i / 64)
                    .is_some_and(|w| w >> (i % 64) & 1 == 0)
            {
                return 0;
            }
        }
        if self.keys.len() > 64 {
            return self
                .keys
                .iter()
                .filter(|k| ends_with_key(text, &k.word))
                .fold(0, |a, k| a | k.rules);
        }
        let mut maybe = self.ends[usize::from(last)];
        let mut rules = 0;
        while maybe != 0 {
            let k = maybe.trailing_zeros() as usize;
            maybe &= maybe - 1;
            if let Some(key) = self
                .keys
                .get(k)
                .filter(|key| ends_with_key(text, &key.word))
            {
                rules |= key.rules;
            }
        }
        rules
    }
}

/// Whether `text` ends with `word` (lower-case ASCII) ignoring ASCII case. Under `(?i)`, `k` also
/// matches U+212A (KELVIN SIGN) and `s` matches U+017F (LONG S): from a non-ASCII byte on, the key
/// counts as present.
fn ends_with_key(text: &[u8], word: &[u8]) -> bool {
    let mut t = text.len();
    for &c in word.iter().rev() {
        let Some(&b) = t.checked_sub(1).and_then(|i| text.get(i)) else {
            return false;
        };
        if !b.is_ascii() {
            return true;
        }
        if b.to_ascii_lowercase() != c {
            return false;
        }
        t -= 1;
    }
    true
}

/// The longest match of `pattern` in bytes (`None` if it does not parse or is unbounded).
fn longest_match(pattern: &str) -> Option<usize> {
    regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?
        .properties()
        .maximum_len()
}
