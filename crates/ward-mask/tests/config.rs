//! Config parsing (TOML, as embedded under `[masking]`) and compile errors that name what is wrong.

use ward_mask::{ConfigError, MaskReport, MaskingConfig, RuleError, TokenKey};

fn parse(toml_text: &str) -> MaskingConfig {
    toml::from_str(toml_text).expect("config parses")
}

fn compile_err(toml_text: &str) -> ConfigError {
    match parse(toml_text).compile(None) {
        Ok(_) => panic!("expected an error for:\n{toml_text}"),
        Err(e) => e,
    }
}

#[test]
fn full_config_round_trip() {
    let cfg = parse(
        r#"
        disable = ["email"]
        enable = ["ipv4"]
        replacements = { card = "partial", employee_id = "token" }

        [[rules]]
        name = "employee_id"
        pattern = 'EMP-(?P<num>[0-9]{6})'
        group = "num"

        [[rules]]
        name = "account"
        pattern = 'ACCT ([0-9]{8,12})'
        group = 1
        validator = "luhn"
        replacement = "same_length"

        [[columns]]
        column = "*password*"

        [[columns]]
        column = "customers.email"
        name = "customer_email"
        replacement = "token"

        [profiles.support]
        rules = ["card", "aws_*"]
        columns = ["*password*"]
        "#,
    );
    let masking = cfg.compile(Some(&TokenKey::new(b"k"))).expect("compiles");
    let default = masking.default_profile();
    assert!(default.rule_names().any(|n| n == "ipv4"));
    assert!(!default.rule_names().any(|n| n == "email"));

    let mut report = MaskReport::new();
    let out = default.mask_str(
        "EMP-123456 ACCT 79927398713 at 10.1.2.3 bob@example.com",
        &mut report,
    );
    assert!(out.starts_with("EMP-[employee_id:tok_"), "{out}");
    assert!(
        out.ends_with("] ACCT *********** at [REDACTED:ipv4] bob@example.com"),
        "{out}"
    );
    assert_eq!(report.count("employee_id"), 1);
    assert_eq!(report.count("account"), 1);

    let support = masking.profile("support").expect("profile exists");
    let names: Vec<&str> = support.rule_names().collect();
    assert_eq!(names, ["aws_access_key", "aws_secret_key", "card"]);
    assert_eq!(masking.profile_names().collect::<Vec<_>>(), ["support"]);
    assert!(masking.profile("nope").is_none());
}

#[test]
fn unknown_fields_are_rejected() {
    assert!(toml::from_str::<MaskingConfig>("disabled = [\"email\"]").is_err());
    assert!(
        toml::from_str::<MaskingConfig>(
            "[[rules]]\nname = \"a\"\npattern = \"a\"\nreplace = \"full\""
        )
        .is_err()
    );
    assert!(
        toml::from_str::<MaskingConfig>(
            "[[rules]]\nname = \"a\"\npattern = \"a\"\nvalidator = \"crc\""
        )
        .is_err()
    );
    assert!(toml::from_str::<MaskingConfig>("replacements = { card = \"hash\" }").is_err());
}

#[test]
fn invalid_regex_names_the_rule() {
    let e = compile_err("[[rules]]\nname = \"broken\"\npattern = 'a(b'");
    assert!(
        matches!(&e, ConfigError::Rule { rule, source: RuleError::Regex(_) } if rule == "broken"),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with("masking rule `broken`: invalid regex:"),
        "{msg}"
    );
}

#[test]
fn unbounded_and_empty_patterns_explain_the_fix() {
    let e = compile_err("[[rules]]\nname = \"greedy\"\npattern = 'token=\\S+'");
    assert!(e.to_string().contains("`{1,256}` instead of `+`"), "{e}");
    let e = compile_err("[[rules]]\nname = \"empty\"\npattern = 'x?'");
    assert!(e.to_string().contains("can match empty text"), "{e}");
}

#[test]
fn names_that_match_nothing_are_errors() {
    let e = compile_err("disable = [\"emial\"]");
    assert_eq!(
        e.to_string(),
        "`masking.disable` names `emial`, which matches no masking rule"
    );
    let e = compile_err("replacements = { nothing = \"full\" }");
    assert!(matches!(e, ConfigError::UnknownRule { .. }), "{e}");
    let e = compile_err("[profiles.ops]\nrules = [\"card\", \"ssh_key\"]");
    assert_eq!(
        e.to_string(),
        "profile `ops` rules names `ssh_key`, which matches no masking rule"
    );
    let e = compile_err("[[rules]]\nname = \"g\"\npattern = '(a)'\ngroup = 3");
    assert!(
        e.to_string().contains("capture group `3` does not exist"),
        "{e}"
    );
}

#[test]
fn duplicates_bad_names_and_missing_key() {
    let e = compile_err("[[rules]]\nname = \"card\"\npattern = 'x'");
    assert!(
        matches!(e, ConfigError::DuplicateRule(ref n) if n == "card"),
        "{e}"
    );
    let e = compile_err("[[rules]]\nname = \"has space\"\npattern = 'x'");
    assert!(e.to_string().contains("rule name must be"), "{e}");
    let e = compile_err("replacements = { card = \"token\" }");
    assert!(
        matches!(e, ConfigError::MissingTokenKey(ref n) if n == "card"),
        "{e}"
    );
    let e = compile_err("[[columns]]\ncolumn = \"*ssn*\"\nreplacement = \"token\"");
    assert!(matches!(e, ConfigError::MissingTokenKey(_)), "{e}");
    let e = compile_err("[[columns]]\ncolumn = \"\"");
    assert!(
        e.to_string()
            .contains("column rule ``: the column pattern is empty"),
        "{e}"
    );
}

#[test]
fn a_profile_named_default_replaces_the_implicit_one() {
    let masking = parse("[profiles.default]\nrules = [\"card\"]")
        .compile(None)
        .expect("compiles");
    assert_eq!(
        masking.default_profile().rule_names().collect::<Vec<_>>(),
        ["card"]
    );
}

#[test]
fn default_names_the_default_profile_even_when_implicit() {
    let masking = parse("[profiles.cards]\nrules = [\"card\"]")
        .compile(None)
        .expect("compiles");
    let default = masking.profile("default").expect("always there");
    assert_eq!(
        default.rule_names().collect::<Vec<_>>(),
        masking.default_profile().rule_names().collect::<Vec<_>>()
    );
    assert!(masking.profile("nope").is_none());
}

#[test]
fn missing_from_lists_what_a_profile_would_leave_in_clear() {
    let masking = parse(
        r#"
        [[columns]]
        column = "*password*"
        [[columns]]
        column = "*salary*"
        [profiles.default]
        rules = ["card", "aws_*"]
        columns = ["*password*"]
        [profiles.wide]
        [profiles.cards]
        rules = ["card"]
        columns = ["*salary*"]
        "#,
    )
    .compile(None)
    .expect("compiles");
    let default = masking.default_profile();
    let wide = masking.profile("wide").expect("wide");
    let cards = masking.profile("cards").expect("cards");
    assert!(default.missing_from(wide).is_empty());
    assert!(default.missing_from(default).is_empty());
    let missing = default.missing_from(cards);
    assert_eq!(missing.rules, ["aws_access_key", "aws_secret_key"]);
    assert_eq!(missing.columns, ["*password*"]);
    // The other way round: everything `wide` has beyond the default.
    let extra = wide.missing_from(default);
    assert!(extra.rules.contains(&"email") && !extra.rules.contains(&"card"));
    assert_eq!(extra.columns, ["*salary*"]);
}
