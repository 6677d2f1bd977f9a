//! Masking configuration as it appears under `[masking]` in Ward's TOML config.
//!
//! ```toml
//! [masking]
//! disable = ["email"]                 # built-ins switched off
//! enable = ["ipv4"]                   # off-by-default built-ins switched on
//! replacements = { card = "partial", secret_value = "same_length" }
//!
//! [[masking.rules]]
//! name = "employee_id"
//! pattern = 'EMP-([0-9]{6})'
//! group = 1                           # mask only the digits (index or group name)
//! validator = "luhn"                  # optional: "luhn" | "mod97"
//! replacement = "token"               # "full" (default) | "partial" | "same_length" | "token"
//!
//! [[masking.columns]]
//! column = "*password*"               # column name glob, or "table.column"
//!
//! [masking.profiles.support]
//! rules = ["card", "email", "aws_*"]  # names or globs; omitted = every enabled rule
//! columns = ["*password*"]            # column rules by name; omitted = all
//! ```

use crate::replace::Replacement;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The `[masking]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaskingConfig {
    /// Built-in detectors to switch off.
    pub disable: Vec<String>,
    /// Off-by-default built-ins (`ipv4`, `ipv6`) to switch on.
    pub enable: Vec<String>,
    /// Replacement per rule name, built-in or custom (overrides a custom rule's own `replacement`).
    pub replacements: BTreeMap<String, Replacement>,
    /// Custom value rules, `[[masking.rules]]`.
    pub rules: Vec<RuleConfig>,
    /// Column rules, `[[masking.columns]]`: mask whole cells by column name.
    pub columns: Vec<ColumnRuleConfig>,
    /// Named profiles, `[masking.profiles.NAME]`. A profile named `default` replaces the implicit one
    /// (all enabled rules and all column rules).
    pub profiles: BTreeMap<String, ProfileConfig>,
}

/// A custom value rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Appears in `[REDACTED:<name>]` and in reports: ASCII letters, digits, `_ - . : * ?`.
    pub name: String,
    /// A regex (Rust `regex` syntax) with a bounded match length (≤ 64 KiB): `{1,256}`, not `+`.
    pub pattern: String,
    /// An extra check on the masked text.
    #[serde(default)]
    pub validator: Option<ValidatorName>,
    /// Defaults to `full`.
    #[serde(default)]
    pub replacement: Option<Replacement>,
    /// Mask only this capture group (index or name) instead of the whole match.
    #[serde(default)]
    pub group: Option<GroupRef>,
}

/// Validators a custom rule may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidatorName {
    /// Luhn checksum over the digits (card-style numbers).
    Luhn,
    /// ISO 7064 mod-97-10 over the letters and digits, IBAN style.
    Mod97,
}

/// A capture group by index or by name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum GroupRef {
    Index(usize),
    Name(String),
}

/// Masks every cell of matching columns, whatever the content.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnRuleConfig {
    /// Glob (`*`, `?`, case-insensitive). With a `.` it matches `table.column`, else the column name.
    pub column: String,
    /// Name in reports and `[REDACTED:<name>]`; defaults to the `column` pattern.
    #[serde(default)]
    pub name: Option<String>,
    /// Defaults to `full`.
    #[serde(default)]
    pub replacement: Option<Replacement>,
}

/// Which rules one profile applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileConfig {
    /// Rule names or globs; `None` = every enabled rule.
    pub rules: Option<Vec<String>>,
    /// Column rule names or globs; `None` = every column rule.
    pub columns: Option<Vec<String>>,
}
