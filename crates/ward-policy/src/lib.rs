//! Ward's statement policy: guardrails that deny SQL statements, commands and HTTP requests
//! before they reach a resource.
//!
//! A rule applies to sessions by resource and by grantee (group or user); it denies statements of
//! given kinds (found by parsing the SQL with `sqlparser`, PostgreSQL dialect) and statements whose
//! text matches a pattern, or, with `action = "review"`, holds them for an approver's review. A
//! rule with `methods` or `paths` is for HTTP requests only.
//! Rules that deny are checked before rules that review: a step one rule forbids is never
//! offered for review. See docs/config.md, `[[guardrails]]`.

mod config;
mod kind;
mod mysql;

use std::sync::Arc;
use std::time::Duration;

pub use config::{Action, GuardrailConfig, Unparsed};
pub use kind::{Dialect, StatementKind};
pub use mysql::{loads_local_file, open_executable_comments, statement_heads};

/// Why the guardrails of a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GuardrailError {
    #[error("guardrails[{index}].{key}: {problem}")]
    Invalid {
        index: usize,
        key: &'static str,
        problem: String,
    },
}

/// One compiled rule.
#[derive(Debug)]
struct Rule {
    name: String,
    resources: Vec<String>,
    group: Option<String>,
    user: Option<String>,
    deny: Vec<StatementKind>,
    pattern: Option<regex::bytes::Regex>,
    unparsed: Unparsed,
    review: Option<Review>,
    /// HTTP rules only (`methods`, `paths`), upper-cased methods.
    methods: Vec<String>,
    paths: Vec<String>,
    /// Prompt rules only: masking rules whose finds refuse a prompt.
    secrets: Vec<String>,
}

/// How a step a review rule matched is reviewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The groups whose members allow or reject it.
    pub approvers: Vec<String>,
    /// How long it is held at most.
    pub timeout: Duration,
}

/// How long a step is held for review when the rule does not say.
pub const DEFAULT_REVIEW_TIMEOUT: Duration = Duration::from_secs(300);

impl Rule {
    /// A rule for HTTP requests, which statements and commands never match.
    fn http(&self) -> bool {
        !self.methods.is_empty() || !self.paths.is_empty()
    }

    /// A rule for the prompts of AI model resources only.
    fn prompts(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// A rule for statements and commands.
    fn statements(&self) -> bool {
        !self.http() && !self.prompts()
    }

    fn applies(&self, resource: &str, subject: &str, groups: &[String]) -> bool {
        (self.resources.is_empty() || self.resources.iter().any(|r| r == resource))
            && self.group.as_ref().is_none_or(|g| groups.contains(g))
            && self.user.as_ref().is_none_or(|u| u == subject)
    }
}

/// All configured guardrails, compiled once at startup.
#[derive(Debug, Default)]
pub struct Guardrails {
    rules: Vec<Arc<Rule>>,
}

impl Guardrails {
    /// Checks and compiles the rules; an error names the rule's index, the key and the problem.
    pub fn compile(configs: &[GuardrailConfig]) -> Result<Self, GuardrailError> {
        let mut rules: Vec<Arc<Rule>> = Vec::new();
        for (index, c) in configs.iter().enumerate() {
            let invalid = |key, problem: String| GuardrailError::Invalid {
                index,
                key,
                problem,
            };
            if c.name.trim().is_empty() {
                return Err(invalid("name", "must not be empty".to_owned()));
            }
            if rules.iter().any(|r| r.name == c.name) {
                return Err(invalid(
                    "name",
                    format!("guardrail `{}` is defined twice", c.name),
                ));
            }
            if c.group.is_some() && c.user.is_some() {
                return Err(invalid(
                    "user",
                    "give `group` or `user`, not both".to_owned(),
                ));
            }
            let http = !c.methods.is_empty() || !c.paths.is_empty();
            if !c.secrets.is_empty() {
                if http || !c.deny.is_empty() || c.pattern.is_some() {
                    return Err(invalid(
                        "secrets",
                        "a rule with `secrets` is for prompts to AI models only: give `deny`, `pattern`, `methods` and `paths` in rules of their own".to_owned(),
                    ));
                }
                if c.action == Action::Review {
                    return Err(invalid(
                        "action",
                        "a prompt carrying a secret is refused, not reviewed (the reviewer would see the secret)".to_owned(),
                    ));
                }
            }
            if c.deny.is_empty() && c.pattern.is_none() && !http && c.secrets.is_empty() {
                return Err(invalid(
                    "deny",
                    "the rule denies nothing: give statement kinds in `deny`, a `pattern`, or both (or, for HTTP, `methods` and `paths`)"
                        .to_owned(),
                ));
            }
            if http && !c.deny.is_empty() {
                return Err(invalid(
                    "deny",
                    "statement kinds do not apply to HTTP requests: give `methods` and `paths` in a rule of their own".to_owned(),
                ));
            }
            if let Some(m) = c
                .methods
                .iter()
                .find(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()))
            {
                return Err(invalid("methods", format!("`{m}` is not an HTTP method")));
            }
            if let Some(p) = c.paths.iter().find(|p| !p.starts_with(['/', '*'])) {
                return Err(invalid(
                    "paths",
                    format!("`{p}` is not a path: it starts with `/` (or `*`)"),
                ));
            }
            let pattern = match &c.pattern {
                Some(p) => Some(
                    regex::bytes::RegexBuilder::new(p)
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|e| invalid("pattern", format!("not a valid regex: {e}")))?,
                ),
                None => None,
            };
            let review = match c.action {
                Action::Deny if !c.approvers.is_empty() || c.review_timeout.is_some() => {
                    let key = if c.approvers.is_empty() {
                        "review_timeout"
                    } else {
                        "approvers"
                    };
                    return Err(invalid(
                        key,
                        "has no effect without `action = \"review\"`".to_owned(),
                    ));
                }
                Action::Deny => None,
                Action::Review => {
                    if c.approvers.is_empty() || c.approvers.iter().any(String::is_empty) {
                        return Err(invalid(
                            "approvers",
                            "`action = \"review\"` needs the groups that review, like `approvers = [\"dba\"]`".to_owned(),
                        ));
                    }
                    let timeout = c.review_timeout.map_or(DEFAULT_REVIEW_TIMEOUT, |d| d.0);
                    if timeout.is_zero() {
                        return Err(invalid(
                            "review_timeout",
                            "must be longer than zero".to_owned(),
                        ));
                    }
                    Some(Review {
                        approvers: c.approvers.clone(),
                        timeout,
                    })
                }
            };
            rules.push(Arc::new(Rule {
                name: c.name.clone(),
                resources: c.resources.clone(),
                group: c.group.clone(),
                user: c.user.clone(),
                deny: c.deny.clone(),
                pattern,
                unparsed: c.unparsed,
                review,
                methods: c.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
                paths: c.paths.clone(),
                secrets: c.secrets.clone(),
            }));
        }
        // Rules that deny come first: a step one of them forbids is never offered for review.
        rules.sort_by_key(|r| r.review.is_some());
        Ok(Self { rules })
    }

    /// The rules that apply to a session of `subject` (member of `groups`) on `resource`, in
    /// config order; `None` when no rule applies (statements then pass unparsed).
    pub fn for_session(
        &self,
        resource: &str,
        subject: &str,
        groups: &[String],
    ) -> Option<SessionGuardrails> {
        let rules: Vec<Arc<Rule>> = self
            .rules
            .iter()
            .filter(|r| r.applies(resource, subject, groups))
            .cloned()
            .collect();
        (!rules.is_empty()).then_some(SessionGuardrails { rules })
    }
}

/// The rules of one session.
#[derive(Debug, Clone)]
pub struct SessionGuardrails {
    rules: Vec<Arc<Rule>>,
}

/// Why a statement is denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Statement `statement` (1-based, in a multi-statement query) is of a denied kind.
    Kind {
        kind: StatementKind,
        statement: usize,
    },
    /// The text matches the rule's pattern.
    Pattern,
    /// The text cannot be parsed, and the rule denies what it cannot check.
    Unparsed { error: String },
    /// An HTTP request matches the rule's methods and paths.
    Request,
    /// A prompt carries a secret of a kind the rule names (a masking rule's name).
    Secret { kind: String },
}

/// A statement a guardrail denies, or holds for review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The rule's name.
    pub rule: String,
    pub reason: Reason,
    /// Set when the rule reviews instead of denying: the step waits for an approver.
    pub review: Option<Review>,
}

impl Denial {
    /// `drop`, `pattern`, `unparsed`, …: what the record says.
    pub fn code(&self) -> &'static str {
        match &self.reason {
            Reason::Kind { kind, .. } => kind.as_str(),
            Reason::Pattern => "pattern",
            Reason::Unparsed { .. } => "unparsed",
            Reason::Request => "request",
            Reason::Secret { .. } => "secret",
        }
    }

    /// What an SSH client reads when a command is denied.
    pub fn command_message(&self) -> String {
        format!(
            "Ward: command denied by guardrail \"{}\": it matches the rule's pattern; it was not run",
            self.rule
        )
    }

    /// What an HTTP client reads when a request is denied.
    pub fn request_message(&self) -> String {
        let why = match &self.reason {
            Reason::Request => "its method and path match the rule".to_owned(),
            Reason::Secret { kind } => {
                format!("the prompt carries a secret ({kind}); remove it and ask again")
            }
            _ => "it matches the rule's pattern".to_owned(),
        };
        format!(
            "request denied by Ward guardrail \"{}\": {why}; it was not sent",
            self.rule
        )
    }

    /// What the client reads.
    pub fn message(&self) -> String {
        let why = match &self.reason {
            Reason::Kind { kind, statement } if *statement > 1 => {
                format!("statement {statement} of the query is {}", kind.described())
            }
            Reason::Kind { kind, .. } => format!("the statement is {}", kind.described()),
            Reason::Pattern => "the statement matches the rule's pattern".to_owned(),
            Reason::Unparsed { error } => format!(
                "Ward cannot parse the statement ({error}), and the rule denies what it cannot check"
            ),
            Reason::Request => "the request's method and path match the rule".to_owned(),
            Reason::Secret { kind } => format!("it carries a secret ({kind})"),
        };
        format!(
            "statement denied by Ward guardrail \"{}\": {why}; it was not run",
            self.rule
        )
    }
}

/// The statements of a text, parsed once on demand.
enum Parsed {
    NotYet,
    Statements(Vec<sqlparser::ast::Statement>),
    Failed(String),
}

impl SessionGuardrails {
    /// Checks a shell command (an SSH exec request, or a line typed into a shell): only the
    /// rules' patterns apply, since statement kinds are SQL.
    pub fn check_command(&self, text: &[u8]) -> Option<Denial> {
        self.rules
            .iter()
            .filter(|rule| rule.statements())
            .find(|rule| rule.pattern.as_ref().is_some_and(|p| p.is_match(text)))
            .map(|rule| Denial {
                rule: rule.name.clone(),
                reason: Reason::Pattern,
                review: rule.review.clone(),
            })
    }

    /// Checks a fast-path function call, which has no SQL text: the first rule, in config
    /// order, that denies the kind `function_call`, or whose pattern matches `name` (the
    /// function's name, or `function <OID>`).
    pub fn check_function_call(&self, name: &str) -> Option<Denial> {
        self.rules
            .iter()
            .filter(|rule| rule.statements())
            .find_map(|rule| {
                let reason = if rule.deny.contains(&StatementKind::FunctionCall) {
                    Reason::Kind {
                        kind: StatementKind::FunctionCall,
                        statement: 1,
                    }
                } else if rule
                    .pattern
                    .as_ref()
                    .is_some_and(|p| p.is_match(name.as_bytes()))
                {
                    Reason::Pattern
                } else {
                    return None;
                };
                Some(Denial {
                    rule: rule.name.clone(),
                    reason,
                    review: rule.review.clone(),
                })
            })
    }

    /// Checks an HTTP request: the first rule whose methods and paths (both, where given)
    /// match it, and whose pattern matches its request line (`METHOD /path?query`) if it has
    /// one; a rule with a pattern alone matches by its pattern.
    pub fn check_http(&self, method: &str, path: &str, query: Option<&str>) -> Option<Denial> {
        let line = match query {
            Some(q) => format!("{method} {path}?{q}"),
            None => format!("{method} {path}"),
        };
        self.rules
            .iter()
            .filter(|rule| !rule.prompts())
            .find(|rule| {
                let pattern = rule.pattern.as_ref();
                (rule.http() || pattern.is_some())
                    && (rule.methods.is_empty()
                        || rule.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
                    && (rule.paths.is_empty()
                        || rule.paths.iter().any(|p| ward_mask::glob_match(p, path)))
                    && pattern.is_none_or(|p| p.is_match(line.as_bytes()))
            })
            .map(|rule| Denial {
                rule: rule.name.clone(),
                reason: if rule.http() {
                    Reason::Request
                } else {
                    Reason::Pattern
                },
                review: rule.review.clone(),
            })
    }

    /// Checks a prompt to an AI model by what masking found in it (`found`: the matches of a
    /// masking rule): the first rule naming one of them.
    pub fn check_prompt(&self, found: impl Fn(&str) -> u64) -> Option<Denial> {
        self.rules
            .iter()
            .filter(|rule| rule.prompts())
            .find_map(|rule| {
                let secret = rule.secrets.iter().find(|s| found(s) > 0)?;
                Some(Denial {
                    rule: rule.name.clone(),
                    reason: Reason::Secret {
                        kind: secret.clone(),
                    },
                    review: None,
                })
            })
    }

    /// Checks one query text (a simple Query, or a Parse's statement): the first rule, in config
    /// order, that denies it says why. A multi-statement text is checked statement by statement.
    pub fn check(&self, text: &[u8]) -> Option<Denial> {
        self.check_sql(text, Dialect::Postgres)
    }

    /// Like [`SessionGuardrails::check`], reading the text as `dialect`.
    pub fn check_sql(&self, text: &[u8], dialect: Dialect) -> Option<Denial> {
        // What MySQL runs of an executable comment is checked like the rest.
        let opened;
        let text = if dialect == Dialect::Mysql {
            opened = open_executable_comments(text);
            &*opened
        } else {
            text
        };
        let mut parsed = Parsed::NotYet;
        for rule in self.rules.iter().filter(|rule| rule.statements()) {
            let deny = |reason| {
                Some(Denial {
                    rule: rule.name.clone(),
                    reason,
                    review: rule.review.clone(),
                })
            };
            if rule.pattern.as_ref().is_some_and(|p| p.is_match(text)) {
                return deny(Reason::Pattern);
            }
            if rule.deny.is_empty() {
                continue;
            }
            if matches!(parsed, Parsed::NotYet) {
                parsed = parse(text, dialect);
            }
            match &parsed {
                Parsed::Failed(error) => {
                    let mut kinds = Vec::new();
                    kind::lexical_kinds(&String::from_utf8_lossy(text), dialect, &mut kinds);
                    if let Some(kind) = kinds.into_iter().find(|k| rule.deny.contains(k)) {
                        return deny(Reason::Kind { kind, statement: 1 });
                    }
                    if rule.unparsed == Unparsed::Deny {
                        return deny(Reason::Unparsed {
                            error: error.clone(),
                        });
                    }
                }
                Parsed::Statements(_)
                    if rule.unparsed == Unparsed::Deny && changes_lexing(text, dialect) =>
                {
                    return deny(Reason::Unparsed {
                        error: format!(
                            "it changes how the server reads string literals ({}), and Ward would read what follows differently",
                            dialect.lexing_settings().join(", ")
                        ),
                    });
                }
                Parsed::Statements(statements) => {
                    for (i, statement) in statements.iter().enumerate() {
                        let mut kinds = Vec::new();
                        kind::kinds_of(statement, &mut kinds);
                        if let Some(kind) = kinds.into_iter().find(|k| rule.deny.contains(k)) {
                            return deny(Reason::Kind {
                                kind,
                                statement: i + 1,
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        None
    }
}

/// Whether the text names a setting that changes how string literals lex: after it, what Ward
/// parses and what PostgreSQL runs can differ (`SET`, `set_config`, `ALTER … SET` alike).
fn changes_lexing(text: &[u8], dialect: Dialect) -> bool {
    dialect.lexing_settings().iter().any(|name| {
        text.windows(name.len())
            .any(|w| w.eq_ignore_ascii_case(name.as_bytes()))
    })
}

fn parse(text: &[u8], dialect: Dialect) -> Parsed {
    let Ok(sql) = std::str::from_utf8(text) else {
        return Parsed::Failed("the text is not UTF-8".to_owned());
    };
    match sqlparser::parser::Parser::parse_sql(dialect.parser().as_ref(), sql) {
        Ok(statements) => Parsed::Statements(statements),
        Err(e) => Parsed::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
