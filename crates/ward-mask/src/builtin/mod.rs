//! The built-in detectors: names, patterns, validators, and whether each is on by default.
//!
//! Every pattern has a bounded length (the streaming masker relies on it) and uses ASCII word
//! boundaries, so bytes that are not UTF-8 act as separators. The table order is the tie-break when two
//! detectors match the same text at the same position with the same length: specific credentials first,
//! generic personal data last.

mod credentials;
mod network;
#[cfg(test)]
mod pem_equivalence;
mod personal;
#[cfg(test)]
mod prefilter_equivalence;
#[cfg(test)]
mod run_equivalence;
#[cfg(test)]
mod tests;
mod tokens;

use crate::prefilter::Hint;
use crate::rule::TargetSpec;
use crate::run::Runs;
use crate::validate::Validator;

/// One built-in detector.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Builtin {
    pub name: &'static str,
    pub pattern: &'static str,
    pub validator: Validator,
    pub target: BuiltinTarget,
    pub on_by_default: bool,
    /// What every match must contain; lets clean text skip the rule.
    pub hint: Hint,
    /// Value runs the pattern leaves to code (see `run.rs`).
    pub runs: Option<&'static Runs>,
}

/// Which part of a built-in's match is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BuiltinTarget {
    Whole,
    /// The first capture group that took part (the value, not the key or scheme around it).
    Value,
}

impl BuiltinTarget {
    pub(crate) fn spec(self) -> TargetSpec<'static> {
        match self {
            BuiltinTarget::Whole => TargetSpec::Whole,
            BuiltinTarget::Value => TargetSpec::FirstGroup,
        }
    }
}

/// All built-ins, in priority order.
pub(crate) fn all() -> impl Iterator<Item = &'static Builtin> {
    credentials::BUILTINS
        .iter()
        .chain(tokens::BUILTINS)
        .chain(credentials::GENERIC)
        .chain(personal::BUILTINS)
        .chain(network::BUILTINS)
}

/// The built-in named `name`.
pub(crate) fn by_name(name: &str) -> Option<&'static Builtin> {
    all().find(|b| b.name == name)
}
