//! One compiled masking rule: pattern, validator, which part to mask, and how to replace it.

use crate::prefilter::Hint;
use crate::replace::Replacement;
use crate::run::Runs;
use crate::tail::TailDfa;
use crate::validate::Validator;
use regex::bytes::{Regex, RegexBuilder};
use std::sync::{Arc, OnceLock};

/// The longest match any rule may have, in bytes. The streaming masker holds back at most this much
/// (plus a few bytes of context), so it bounds memory per stream.
pub const MAX_MATCH_LEN: usize = 64 * 1024;

/// Which part of a match is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The whole match.
    Whole,
    /// One capture group by index; the whole match if the group did not take part.
    Group(usize),
    /// The first capture group that took part (patterns with alternative value forms, e.g. quoted or not).
    FirstGroup,
}

/// Why a rule's pattern was refused.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The regex does not parse or compile.
    #[error("invalid regex: {0}")]
    Regex(#[from] regex::Error),
    /// The pattern can match zero bytes, which would match everywhere.
    #[error("pattern can match empty text; every match must consume at least one byte")]
    EmptyMatch,
    /// Streaming needs a bound on match length.
    #[error(
        "pattern can match more than {limit} bytes (or has no bound); bound repetitions, e.g. `{{1,256}}` \
         instead of `+` and `{{0,256}}` instead of `*`"
    )]
    Unbounded { limit: usize },
    /// `group` names a capture group the pattern lacks.
    #[error("capture group `{0}` does not exist in the pattern")]
    NoSuchGroup(String),
    /// Building the streaming tail automaton failed (usually: pattern too large).
    #[error("pattern too large for the streaming automaton: {0}")]
    Automaton(#[from] Box<regex_automata::hybrid::BuildError>),
    /// Rule names appear inside replacements, so they are kept plain.
    #[error(
        "rule name must be 1-64 characters of ASCII letters, digits, `_`, `-`, `.`, `:`, `*` or `?`"
    )]
    BadName,
}

/// What a caller (built-in table or config) asks for.
#[derive(Debug, Clone)]
pub(crate) struct RuleSpec<'a> {
    pub name: &'a str,
    pub pattern: &'a str,
    pub validator: Validator,
    pub target: TargetSpec<'a>,
    pub replacement: Replacement,
    pub hint: Hint,
    /// Value runs left to code; `pattern` is then the cut pattern (see `run.rs`).
    pub runs: Option<&'static Runs>,
}

/// A capture group reference before it is resolved against the pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetSpec<'a> {
    Whole,
    Index(usize),
    Name(&'a str),
    FirstGroup,
}

/// A compiled rule, shared by every masker and stream built from the same config.
///
/// # Performance
/// A rule's automata are large next to the rest of the masker (bounded repetitions such as
/// `{1,4096}` compile to thousands of NFA states, several times over: forward, reverse, per-thread
/// caches). Built-in rules therefore build them on first use ([`Rule::compile_deferred`]): the regex when
/// the prefilter first lets the rule run, the streaming automaton when the first [`StreamMasker`]
/// is made. A process masking only cells never builds a tail automaton, and one that never sees
/// `-----BEGIN` never builds the PEM rule's regex.
///
/// [`StreamMasker`]: crate::StreamMasker
#[derive(Debug)]
pub(crate) struct Rule {
    pub name: Arc<str>,
    pattern: Box<str>,
    // INVARIANT: a deferred rule's pattern is a built-in constant; `builtin::tests` builds every one,
    // so the lazy builds below cannot fail.
    regex: OnceLock<Regex>,
    tail: OnceLock<TailDfa>,
    /// Upper bound on a match's length in bytes.
    pub max_len: usize,
    /// Upper bound on the length of a match of the regex itself (`max_len` without the value run the
    /// code walks, if any): how far around an anchor a search must look.
    pub search_len: usize,
    pub validator: Validator,
    pub target: Target,
    pub replacement: Replacement,
    pub hint: Hint,
    /// Value runs the regex leaves to code; the tail automaton is built from `runs.tail`.
    pub runs: Option<&'static Runs>,
}

pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'*' | b'?')
        })
}

fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).size_limit(64 << 20).build()
}

impl Rule {
    /// Compiles `spec`, building its automata now so that any error is reported with the config.
    pub(crate) fn compile(spec: &RuleSpec<'_>) -> Result<Rule, RuleError> {
        Self::compile_with(spec, true)
    }

    /// Checks `spec` like [`Rule::compile`] but builds its automata on first use (see the type's
    /// `# Performance`). Only for patterns known to build: the built-ins.
    pub(crate) fn compile_deferred(spec: &RuleSpec<'_>) -> Result<Rule, RuleError> {
        Self::compile_with(spec, false)
    }

    fn compile_with(spec: &RuleSpec<'_>, eager: bool) -> Result<Rule, RuleError> {
        if !valid_name(spec.name) {
            return Err(RuleError::BadName);
        }
        let needs_groups = matches!(spec.target, TargetSpec::Index(1..) | TargetSpec::Name(_));
        let regex = match eager || needs_groups {
            true => Some(build_regex(spec.pattern)?),
            false => None,
        };
        // The regex parsed, so the same syntax parses here too; the error arm is unreachable in practice.
        let hir = regex_syntax::ParserBuilder::new()
            .utf8(false)
            .build()
            .parse(spec.pattern)
            .map_err(|e| RuleError::Regex(regex::Error::Syntax(e.to_string())))?;
        let props = hir.properties();
        if props.minimum_len().unwrap_or(0) == 0 {
            return Err(RuleError::EmptyMatch);
        }
        let cut_len = props.maximum_len();
        let search_len = cut_len.unwrap_or(MAX_MATCH_LEN);
        let max_len = match spec
            .runs
            .map_or(cut_len, |r| cut_len.map(|n| n.max(r.max_len)))
        {
            Some(n) if n <= MAX_MATCH_LEN => n,
            _ => {
                return Err(RuleError::Unbounded {
                    limit: MAX_MATCH_LEN,
                });
            }
        };
        let groups = regex.as_ref();
        let target = match spec.target {
            TargetSpec::Whole => Target::Whole,
            TargetSpec::FirstGroup => Target::FirstGroup,
            TargetSpec::Index(0) => Target::Whole,
            TargetSpec::Index(i) if groups.is_some_and(|r| i < r.captures_len()) => {
                Target::Group(i)
            }
            TargetSpec::Index(i) => return Err(RuleError::NoSuchGroup(i.to_string())),
            TargetSpec::Name(n) => {
                match groups.and_then(|r| r.capture_names().position(|c| c == Some(n))) {
                    Some(i) => Target::Group(i),
                    None => return Err(RuleError::NoSuchGroup(n.to_owned())),
                }
            }
        };
        let tail = match eager {
            true => Some(TailDfa::build(spec.runs.map_or(spec.pattern, |r| r.tail))?),
            false => None,
        };
        Ok(Rule {
            name: Arc::from(spec.name),
            pattern: spec.pattern.into(),
            regex: regex.map(OnceLock::from).unwrap_or_default(),
            tail: tail.map(OnceLock::from).unwrap_or_default(),
            max_len,
            search_len: search_len.min(max_len),
            validator: spec.validator,
            target,
            replacement: spec.replacement,
            hint: spec.hint,
            runs: spec.runs,
        })
    }

    /// The rule's regex, built on first use if deferred.
    pub(crate) fn regex(&self) -> &Regex {
        self.regex.get_or_init(|| match build_regex(&self.pattern) {
            Ok(r) => r,
            // Unreachable by the INVARIANT on `regex`: only built-in patterns are deferred.
            Err(e) => panic!("built-in rule `{}` does not compile: {e}", self.name),
        })
    }

    /// The rule's streaming tail automaton, built on first use if deferred.
    pub(crate) fn tail(&self) -> &TailDfa {
        self.tail.get_or_init(|| {
            match TailDfa::build(self.runs.map_or(&self.pattern, |r| r.tail)) {
                Ok(t) => t,
                // Unreachable by the INVARIANT on `regex`: only built-in patterns are deferred.
                Err(e) => panic!("built-in rule `{}` has no tail automaton: {e}", self.name),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(pattern: &'a str, target: TargetSpec<'a>) -> RuleSpec<'a> {
        RuleSpec {
            name: "t",
            pattern,
            validator: Validator::None,
            target,
            replacement: Replacement::Full,
            hint: Hint::Always,
            runs: None,
        }
    }

    #[test]
    fn refuses_bad_patterns_with_reasons() {
        assert!(matches!(
            Rule::compile(&spec("a(", TargetSpec::Whole)),
            Err(RuleError::Regex(_))
        ));
        assert!(matches!(
            Rule::compile(&spec("a*", TargetSpec::Whole)),
            Err(RuleError::EmptyMatch)
        ));
        assert!(matches!(
            Rule::compile(&spec("a+", TargetSpec::Whole)),
            Err(RuleError::Unbounded { .. })
        ));
        assert!(matches!(
            Rule::compile(&spec("(a)", TargetSpec::Index(2))),
            Err(RuleError::NoSuchGroup(_))
        ));
        assert!(matches!(
            Rule::compile(&spec("(?P<v>a)", TargetSpec::Name("w"))),
            Err(RuleError::NoSuchGroup(_))
        ));
        let bad_name = RuleSpec {
            name: "a b",
            ..spec("a", TargetSpec::Whole)
        };
        assert!(matches!(Rule::compile(&bad_name), Err(RuleError::BadName)));
    }

    #[test]
    fn resolves_groups_and_bounds() {
        let r =
            Rule::compile(&spec("k=(?P<v>[a-z]{1,8})", TargetSpec::Name("v"))).expect("compiles");
        assert_eq!(r.target, Target::Group(1));
        assert_eq!(r.max_len, 10);
        let r = Rule::compile(&spec("k=([a-z]{1,8})", TargetSpec::Index(0))).expect("compiles");
        assert_eq!(r.target, Target::Whole);
    }
}
