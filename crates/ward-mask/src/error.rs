//! Errors from compiling a masking configuration.

use crate::rule::RuleError;

/// Why a masking configuration was refused. Each variant names the rule, profile or column concerned.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A custom rule (or a built-in with its overrides) does not compile.
    #[error("masking rule `{rule}`: {source}")]
    Rule {
        rule: String,
        #[source]
        source: RuleError,
    },
    /// Two rules share a name (custom rules may not reuse a built-in's name either).
    #[error("masking rule `{0}` is defined twice (built-in names are taken)")]
    DuplicateRule(String),
    /// A name in `enable`, `disable`, `replacements` or a profile matches no rule.
    #[error("{context} names `{name}`, which matches no masking rule")]
    UnknownRule { context: String, name: String },
    /// A rule replaces with keyed tokens but no key was supplied to `compile`.
    #[error("masking rule `{0}` uses `replacement = \"token\"` but no token key was configured")]
    MissingTokenKey(String),
    /// A column rule is malformed.
    #[error("column rule `{column}`: {reason}")]
    Column {
        column: String,
        reason: &'static str,
    },
}
