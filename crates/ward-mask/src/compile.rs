//! Turning a [`MaskingConfig`] into compiled [`Masker`]s, one per profile.

use crate::builtin;
use crate::cells::ColumnRule;
use crate::config::{GroupRef, MaskingConfig, ProfileConfig, ValidatorName};
use crate::engine::RuleSet;
use crate::error::ConfigError;
use crate::glob::glob_match;
use crate::masker::Masker;
use crate::prefilter::Hint;
use crate::replace::Replacement;
use crate::rule::{Rule, RuleError, RuleSpec, TargetSpec, valid_name};
use crate::token::TokenKey;
use crate::validate::Validator;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A compiled masking configuration: the default profile plus every named one.
#[derive(Debug, Clone)]
pub struct Masking {
    default: Masker,
    profiles: BTreeMap<String, Masker>,
}

impl Masking {
    /// The profile used when policy names none: every enabled rule and column rule, or the profile
    /// named `default` if the config defines one.
    pub fn default_profile(&self) -> &Masker {
        &self.default
    }

    /// The named profile, or the default profile (the record's floor) when `name` is not
    /// configured; config validation makes every name a resource or grant uses resolve.
    pub fn profile_or_default(&self, name: &str) -> &Masker {
        self.profile(name).unwrap_or(&self.default)
    }

    /// The named profile, if configured. `default` always names the default profile.
    pub fn profile(&self, name: &str) -> Option<&Masker> {
        match name {
            "default" => Some(&self.default),
            _ => self.profiles.get(name),
        }
    }

    /// Names of the configured profiles.
    pub fn profile_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.profiles.keys().map(String::as_str)
    }
}

impl MaskingConfig {
    /// Compiles every rule and profile. `token_key` is required if any rule or column rule uses
    /// `replacement = "token"`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the rule, profile or column that is wrong and why (invalid regex,
    /// unbounded pattern, unknown name, missing key, …).
    pub fn compile(&self, token_key: Option<&TokenKey>) -> Result<Masking, ConfigError> {
        for (context, names) in [
            ("`masking.enable`", &self.enable),
            ("`masking.disable`", &self.disable),
        ] {
            if let Some(name) = names.iter().find(|n| builtin::by_name(n).is_none()) {
                return Err(ConfigError::UnknownRule {
                    context: context.to_owned(),
                    name: name.clone(),
                });
            }
        }
        let rules = self.compile_rules(token_key)?;
        if let Some(name) = self
            .replacements
            .keys()
            .find(|n| !rules.iter().any(|r| &*r.name == n.as_str()))
        {
            let known = builtin::by_name(name).is_some();
            if !known {
                return Err(ConfigError::UnknownRule {
                    context: "`masking.replacements`".to_owned(),
                    name: name.clone(),
                });
            }
        }
        let columns = self.compile_columns(token_key)?;
        let all = ProfileConfig::default();
        let mut profiles = BTreeMap::new();
        for (name, profile) in &self.profiles {
            profiles.insert(
                name.clone(),
                build_profile(name, profile, &rules, &columns, token_key)?,
            );
        }
        let default = match profiles.get("default") {
            Some(m) => m.clone(),
            None => build_profile("default", &all, &rules, &columns, token_key)?,
        };
        Ok(Masking { default, profiles })
    }

    fn compile_rules(&self, key: Option<&TokenKey>) -> Result<Vec<Arc<Rule>>, ConfigError> {
        let mut rules = Vec::new();
        for b in builtin::all() {
            let on = (b.on_by_default || self.enable.iter().any(|n| n == b.name))
                && !self.disable.iter().any(|n| n == b.name);
            if !on {
                continue;
            }
            let replacement = self.replacements.get(b.name).copied().unwrap_or_default();
            let spec = RuleSpec {
                name: b.name,
                pattern: b.pattern,
                validator: b.validator,
                target: b.target.spec(),
                replacement,
                hint: b.hint,
                runs: b.runs,
            };
            rules.push(compile_one(&spec, key, Rule::compile_deferred)?);
        }
        for (i, rc) in self.rules.iter().enumerate() {
            let taken = builtin::by_name(&rc.name).is_some()
                || self.rules.iter().take(i).any(|o| o.name == rc.name);
            if taken {
                return Err(ConfigError::DuplicateRule(rc.name.clone()));
            }
            let replacement = self
                .replacements
                .get(&rc.name)
                .copied()
                .or(rc.replacement)
                .unwrap_or_default();
            let spec = RuleSpec {
                name: &rc.name,
                pattern: &rc.pattern,
                validator: match rc.validator {
                    None => Validator::None,
                    Some(ValidatorName::Luhn) => Validator::Luhn,
                    Some(ValidatorName::Mod97) => Validator::Mod97,
                },
                target: match &rc.group {
                    None => TargetSpec::Whole,
                    Some(GroupRef::Index(i)) => TargetSpec::Index(*i),
                    Some(GroupRef::Name(n)) => TargetSpec::Name(n),
                },
                replacement,
                hint: Hint::Always,
                runs: None,
            };
            rules.push(compile_one(&spec, key, Rule::compile)?);
        }
        Ok(rules)
    }

    fn compile_columns(&self, key: Option<&TokenKey>) -> Result<Vec<ColumnRule>, ConfigError> {
        let mut out: Vec<ColumnRule> = Vec::new();
        for c in &self.columns {
            let bad = |reason| ConfigError::Column {
                column: c.column.clone(),
                reason,
            };
            if c.column.is_empty() {
                return Err(bad("the column pattern is empty"));
            }
            let name = c.name.clone().unwrap_or_else(|| c.column.clone());
            if !valid_name(&name) {
                return Err(bad(
                    "name must be 1-64 characters of ASCII letters, digits, `_ - . : * ?`",
                ));
            }
            if out.iter().any(|o| *o.name == *name) {
                return Err(bad("another column rule has the same name"));
            }
            let replacement = c.replacement.unwrap_or_default();
            if replacement == Replacement::Token && key.is_none() {
                return Err(ConfigError::MissingTokenKey(name));
            }
            out.push(ColumnRule {
                pattern: c.column.clone(),
                name: Arc::from(name),
                replacement,
            });
        }
        Ok(out)
    }
}

/// Compiles one rule with `build`: [`Rule::compile`] for custom patterns, which must report errors
/// now, [`Rule::compile_deferred`] for built-ins, whose automata are built on first use.
fn compile_one(
    spec: &RuleSpec<'_>,
    key: Option<&TokenKey>,
    build: fn(&RuleSpec<'_>) -> Result<Rule, RuleError>,
) -> Result<Arc<Rule>, ConfigError> {
    if spec.replacement == Replacement::Token && key.is_none() {
        return Err(ConfigError::MissingTokenKey(spec.name.to_owned()));
    }
    let rule = build(spec).map_err(|source| ConfigError::Rule {
        rule: spec.name.to_owned(),
        source,
    })?;
    Ok(Arc::new(rule))
}

fn build_profile(
    profile: &str,
    cfg: &ProfileConfig,
    rules: &[Arc<Rule>],
    columns: &[ColumnRule],
    key: Option<&TokenKey>,
) -> Result<Masker, ConfigError> {
    let picked_rules = pick(profile, "rules", cfg.rules.as_deref(), rules, |r| &r.name)?;
    let picked_columns = pick(profile, "columns", cfg.columns.as_deref(), columns, |c| {
        &c.name
    })?;
    let set = RuleSet::new(picked_rules, key.cloned());
    Ok(Masker {
        set: Arc::new(set),
        columns: picked_columns.into(),
    })
}

/// The items whose name matches one of `wanted` (all items when `None`), in their original order.
fn pick<T: Clone>(
    profile: &str,
    field: &str,
    wanted: Option<&[String]>,
    items: &[T],
    name: impl Fn(&T) -> &Arc<str>,
) -> Result<Vec<T>, ConfigError> {
    let Some(wanted) = wanted else {
        return Ok(items.to_vec());
    };
    if let Some(w) = wanted
        .iter()
        .find(|w| !items.iter().any(|it| glob_match(w, name(it))))
    {
        return Err(ConfigError::UnknownRule {
            context: format!("profile `{profile}` {field}"),
            name: w.clone(),
        });
    }
    Ok(items
        .iter()
        .filter(|it| wanted.iter().any(|w| glob_match(w, name(it))))
        .cloned()
        .collect())
}
