//! What a masking call did: which rules matched and how often — never the values.

use std::sync::Arc;

/// Per-rule match counts from one or more masking calls, for a `mask.applied` event.
///
/// Holds rule names and counts only; building it allocates nothing until a rule matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaskReport {
    // A handful of rules match per event at most, so a vector beats a map.
    counts: Vec<(Arc<str>, u64)>,
}

impl MaskReport {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when nothing was masked.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// `(rule name, matches)` pairs in the order rules first matched.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.counts.iter().map(|(n, c)| (&**n, *c))
    }

    /// Matches counted for `rule` (0 when it never matched).
    pub fn count(&self, rule: &str) -> u64 {
        self.iter().find(|(n, _)| *n == rule).map_or(0, |(_, c)| c)
    }

    /// Total matches across rules.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, c)| c).sum()
    }

    /// Adds every count of `other` into `self`.
    pub fn merge(&mut self, other: &MaskReport) {
        for (name, c) in &other.counts {
            self.add_n(name, *c);
        }
    }

    /// Empties the report, keeping its allocation.
    pub fn clear(&mut self) {
        self.counts.clear();
    }

    pub(crate) fn add(&mut self, name: &Arc<str>) {
        self.add_n(name, 1);
    }

    fn add_n(&mut self, name: &Arc<str>, n: u64) {
        match self
            .counts
            .iter_mut()
            .find(|(k, _)| Arc::ptr_eq(k, name) || **k == **name)
        {
            Some((_, c)) => *c += n,
            None => self.counts.push((Arc::clone(name), n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_merges_by_name() {
        let card: Arc<str> = Arc::from("card");
        let email: Arc<str> = Arc::from("email");
        let mut a = MaskReport::new();
        assert!(a.is_empty());
        a.add(&card);
        a.add(&card);
        let mut b = MaskReport::new();
        b.add(&email);
        b.add(&Arc::from("card"));
        a.merge(&b);
        assert_eq!(a.count("card"), 3);
        assert_eq!(a.count("email"), 1);
        assert_eq!(a.count("ssn"), 0);
        assert_eq!(a.total(), 4);
        assert_eq!(
            a.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            ["card", "email"]
        );
    }
}
