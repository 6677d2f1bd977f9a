//! Cell masking: column rules mask whole cells, other columns get the value detectors.

use std::borrow::Cow;
use ward_mask::{ColumnRef, MaskReport, MaskingConfig, TokenKey};

#[test]
fn column_rules_and_detectors() {
    let cfg: MaskingConfig = toml::from_str(
        r#"
        [[columns]]
        column = "*password*"
        [[columns]]
        column = "customers.email"
        replacement = "token"
        [[columns]]
        column = "*.ssn"
        replacement = "same_length"
        "#,
    )
    .expect("parses");
    let masking = cfg.compile(Some(&TokenKey::new(b"k"))).expect("compiles");
    let cols = [
        ColumnRef::new(Some("public.customers"), "email"),
        ColumnRef::new(Some("users"), "password_hash"),
        ColumnRef::new(Some("people"), "ssn"),
        ColumnRef::new(Some("orders"), "note"),
        ColumnRef::new(None, "email"),
    ];
    let plan = masking.default_profile().plan_columns(&cols);
    assert_eq!(plan.len(), 5);
    assert_eq!(plan.column_rule(0), Some("customers.email"));
    assert_eq!(plan.column_rule(1), Some("*password*"));
    assert_eq!(plan.column_rule(3), None);
    assert_eq!(
        plan.column_rule(4),
        None,
        "no table, so `customers.email` cannot apply"
    );

    let mut report = MaskReport::new();
    let a = plan.mask_cell(0, b"alice@example.com", &mut report);
    let b = plan.mask_cell(0, b"alice@example.com", &mut report);
    assert_eq!(a, b, "equal values, equal tokens");
    assert!(a.starts_with(b"[customers.email:tok_"));
    assert_eq!(
        &*plan.mask_cell(1, b"$argon2id$v=19$...", &mut report),
        b"[REDACTED:*password*]"
    );
    assert_eq!(
        &*plan.mask_cell(2, b"078-05-1120", &mut report),
        b"***-**-****"
    );
    // Detectors on ordinary columns; clean cells are borrowed, not copied.
    assert_eq!(
        &*plan.mask_cell(3, b"call 123-45-6789", &mut report),
        b"call [REDACTED:ssn]"
    );
    assert!(matches!(
        plan.mask_cell(3, b"no secrets here", &mut report),
        Cow::Borrowed(_)
    ));
    assert_eq!(
        &*plan.mask_cell(4, b"bob@example.com", &mut report),
        b"[REDACTED:email]"
    );
    // A column beyond the plan still gets the detectors.
    assert_eq!(
        &*plan.mask_cell(99, b"bob@example.com", &mut report),
        b"[REDACTED:email]"
    );

    let counts: Vec<(&str, u64)> = report.iter().collect();
    assert_eq!(
        counts,
        [
            ("customers.email", 2),
            ("*password*", 1),
            ("*.ssn", 1),
            ("ssn", 1),
            ("email", 2)
        ]
    );
}

#[test]
fn profile_limits_column_rules() {
    let cfg: MaskingConfig = toml::from_str(
        r#"
        [[columns]]
        column = "*password*"
        [[columns]]
        column = "*email*"
        [profiles.analytics]
        rules = ["card"]
        columns = ["*password*"]
        "#,
    )
    .expect("parses");
    let masking = cfg.compile(None).expect("compiles");
    let p = masking.profile("analytics").expect("profile");
    let plan = p.plan_columns(&[
        ColumnRef::new(None, "email"),
        ColumnRef::new(None, "password"),
    ]);
    assert_eq!(plan.column_rule(0), None);
    assert_eq!(plan.column_rule(1), Some("*password*"));
    // Only `card` runs on values in this profile.
    let mut r = MaskReport::new();
    assert_eq!(
        &*plan.mask_cell(0, b"bob@example.com 4111111111111111", &mut r),
        b"bob@example.com [REDACTED:card]"
    );
}

/// A column renamed in the query keeps the rules of the table column it is: by its name there
/// and by `table.column`.
#[test]
fn an_alias_hides_no_column_from_its_rules() {
    let cfg: MaskingConfig = toml::from_str(
        r#"
        [[columns]]
        column = "*password*"
        [[columns]]
        column = "users.api_key"
        "#,
    )
    .expect("parses");
    let masking = cfg.compile(None).expect("compiles");
    let cols = [
        ColumnRef::of_table("p", "public.users", "password"),
        ColumnRef::of_table("k", "public.users", "api_key"),
        ColumnRef::of_table("api_key", "public.orders", "note"),
        ColumnRef::new(None, "p"),
    ];
    let plan = masking.default_profile().plan_columns(&cols);
    assert_eq!(plan.column_rule(0), Some("*password*"));
    assert_eq!(plan.column_rule(1), Some("users.api_key"));
    assert_eq!(
        plan.column_rule(2),
        None,
        "orders.note is not users.api_key, whatever its label"
    );
    assert_eq!(
        plan.column_rule(3),
        None,
        "an unknown source: the label alone"
    );
}
