//! `Masker`: a compiled profile that masks byte buffers and strings, and hands out stream and cell maskers.

use crate::cells::{CellPlan, ColumnRef, ColumnRule};
use crate::config::MaskingConfig;
use crate::engine::{Cursors, RuleSet, Scratch};
use crate::error::ConfigError;
use crate::report::MaskReport;
use crate::stream::StreamMasker;
use std::borrow::Cow;
use std::sync::Arc;

/// A compiled set of masking rules (one profile). Cheap to clone and shareable across threads.
///
/// # Performance
/// Clean input costs one prefilter pass over all rules (`prefilter.rs`) and no allocation: the result
/// is `Cow::Borrowed`. A rule's regex runs only around what that pass finds for it.
#[derive(Debug, Clone)]
pub struct Masker {
    pub(crate) set: Arc<RuleSet>,
    pub(crate) columns: Arc<[ColumnRule]>,
}

impl Masker {
    /// The built-in detectors that are on by default, each replacing with `[REDACTED:<rule>]`.
    pub fn builtin() -> Result<Masker, ConfigError> {
        Ok(MaskingConfig::default()
            .compile(None)?
            .default_profile()
            .clone())
    }

    /// Masks `input`, adding what matched to `report`. Returns the input itself when nothing matched.
    pub fn mask<'a>(&self, input: &'a [u8], report: &mut MaskReport) -> Cow<'a, [u8]> {
        let mut scratch = Scratch::default();
        let mut spans = Vec::new();
        let mut cursors = Cursors::default();
        let end = self
            .set
            .resolve(input, 0, usize::MAX, &mut cursors, &mut scratch, &mut spans);
        if spans.is_empty() {
            return Cow::Borrowed(input);
        }
        let mut out = Vec::with_capacity(input.len());
        self.set
            .render(input, 0, (0, end), &spans, &mut out, report);
        Cow::Owned(out)
    }

    /// Masks a string. Replacements are UTF-8; a custom byte-level pattern that split a character would
    /// leave U+FFFD in its place rather than invalid UTF-8.
    pub fn mask_str<'a>(&self, input: &'a str, report: &mut MaskReport) -> Cow<'a, str> {
        match self.mask(input.as_bytes(), report) {
            Cow::Borrowed(_) => Cow::Borrowed(input),
            Cow::Owned(bytes) => match String::from_utf8(bytes) {
                Ok(s) => Cow::Owned(s),
                Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
            },
        }
    }

    /// A streaming masker for one byte stream (terminal output, COPY data, an HTTP body).
    pub fn stream(&self) -> StreamMasker {
        StreamMasker::new(self.clone())
    }

    /// Plans masking for a result's columns once; the plan then masks each cell.
    pub fn plan_columns(&self, columns: &[ColumnRef<'_>]) -> CellPlan {
        CellPlan::new(self.clone(), columns)
    }

    /// Names of the value rules in this profile, in priority order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.set.rules.iter().map(|r| &*r.name)
    }

    /// Names of the column rules in this profile, in configuration order.
    pub fn column_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.columns.iter().map(|c| &*c.name)
    }

    /// The value rules and column rules of `self` that `other` does not apply: what `other` may
    /// leave in clear where `self` would mask it. Empty when `other` masks with every rule of
    /// `self`. Rules are compared by name, which identifies them within one [`crate::Masking`].
    pub fn missing_from(&self, other: &Masker) -> MissingRules<'_> {
        MissingRules {
            rules: self
                .rule_names()
                .filter(|n| !other.rule_names().any(|o| o == *n))
                .collect(),
            columns: self
                .column_names()
                .filter(|n| !other.column_names().any(|o| o == *n))
                .collect(),
        }
    }
}

/// Rules one profile applies and another does not (see [`Masker::missing_from`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MissingRules<'a> {
    /// Value rule names, in priority order.
    pub rules: Vec<&'a str>,
    /// Column rule names, in configuration order.
    pub columns: Vec<&'a str>,
}

impl MissingRules<'_> {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.columns.is_empty()
    }
}
