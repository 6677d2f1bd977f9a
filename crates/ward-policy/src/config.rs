//! The `[[guardrails]]` table as written in Ward's config.

use serde::Deserialize;
use ward_core::ConfigDuration;

use crate::StatementKind;

/// One guardrail rule as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailConfig {
    /// Named in the client's error and in the record.
    pub name: String,
    /// Resources the rule applies to; all when empty.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Only sessions of members of this group.
    pub group: Option<String>,
    /// Only sessions of this user.
    pub user: Option<String>,
    /// Statement kinds denied.
    #[serde(default)]
    pub deny: Vec<StatementKind>,
    /// Statements whose text matches this regex are denied (HTTP: the request line,
    /// `METHOD /path?query`).
    pub pattern: Option<String>,
    /// AI model resources: prompts in which these masking rules find something (`url_password`,
    /// `aws_access_key`) are refused before the provider sees them.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// HTTP: the methods the rule matches (`DELETE`); all when empty.
    #[serde(default)]
    pub methods: Vec<String>,
    /// HTTP: the paths the rule matches, as case-insensitive globs (`/admin/*`, where `*`
    /// also matches `/`); all when empty.
    #[serde(default)]
    pub paths: Vec<String>,
    /// What happens to text the SQL parser cannot parse, for a rule with `deny` kinds.
    #[serde(default)]
    pub unparsed: Unparsed,
    /// What happens to what the rule matches: refused, or held for an approver's review.
    #[serde(default)]
    pub action: Action,
    /// With `action = "review"`: the groups whose members allow or reject a held step.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// With `action = "review"`: how long a step is held at most (default 5 minutes); then it
    /// is rejected.
    pub review_timeout: Option<ConfigDuration>,
}

/// What a rule does with what it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Refused at once.
    #[default]
    Deny,
    /// Held while its session waits, until an approver allows or rejects it.
    Review,
}

/// What a rule with statement kinds does with text it cannot parse (so cannot check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unparsed {
    #[default]
    Deny,
    Allow,
}
