//! Guardrail rules on statement texts.

use super::*;

fn configs(toml_rules: &str) -> Vec<GuardrailConfig> {
    #[derive(serde::Deserialize)]
    struct File {
        guardrails: Vec<GuardrailConfig>,
    }
    let file: File = toml::from_str(toml_rules).expect("toml");
    file.guardrails
}

fn rules(toml_rules: &str) -> Guardrails {
    Guardrails::compile(&configs(toml_rules)).expect("compiles")
}

fn session(g: &Guardrails) -> SessionGuardrails {
    g.for_session("shop", "alice", &["dev".to_owned()])
        .expect("rules apply")
}

const ALL_KINDS: &str = r#"
[[guardrails]]
name = "safety"
deny = ["drop", "truncate", "alter_role", "delete_without_where", "update_without_where", "copy_program"]
"#;

fn denied(s: &SessionGuardrails, sql: &str) -> Option<&'static str> {
    s.check(sql.as_bytes()).map(|d| d.code())
}

#[test]
fn each_kind_is_denied_and_its_safe_form_passes() {
    let g = rules(ALL_KINDS);
    let s = session(&g);
    for (sql, kind) in [
        ("DROP TABLE t", "drop"),
        ("drop schema s cascade", "drop"),
        ("DROP FUNCTION f()", "drop"),
        ("TRUNCATE t", "truncate"),
        ("ALTER ROLE bob SUPERUSER", "alter_role"),
        ("ALTER USER bob WITH PASSWORD 'x'", "alter_role"),
        ("DELETE FROM t", "delete_without_where"),
        ("UPDATE t SET a = 1", "update_without_where"),
        ("COPY t TO PROGRAM 'cat > /tmp/x'", "copy_program"),
        ("COPY t FROM PROGRAM 'curl evil'", "copy_program"),
        ("EXPLAIN ANALYZE DELETE FROM t", "delete_without_where"),
        (
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            "delete_without_where",
        ),
        ("SELECT 1; DROP TABLE t", "drop"),
    ] {
        assert_eq!(denied(&s, sql), Some(kind), "{sql}");
    }
    for sql in [
        "SELECT 1",
        "DELETE FROM t WHERE id = 1",
        "UPDATE t SET a = 1 WHERE id = 2",
        "COPY t TO STDOUT",
        "EXPLAIN DELETE FROM t",
        "CREATE TABLE drop_me (a int)",
        "SELECT 'DROP TABLE t'",
        "",
        ";",
    ] {
        assert_eq!(denied(&s, sql), None, "{sql}");
    }
}

#[test]
fn messages_name_the_rule_and_the_statement() {
    let g = rules(ALL_KINDS);
    let s = session(&g);
    let d = s.check(b"SELECT 1; TRUNCATE t").expect("denied");
    assert_eq!(
        d.message(),
        "statement denied by Ward guardrail \"safety\": statement 2 of the query is a TRUNCATE; it was not run"
    );
    assert_eq!(
        s.check(b"DELETE FROM t").expect("denied").message(),
        "statement denied by Ward guardrail \"safety\": the statement is a DELETE without WHERE; it was not run"
    );
}

#[test]
fn unparsed_text_is_denied_unless_allowed() {
    let g = rules(ALL_KINDS);
    let d = session(&g).check(b"SELEKT 1").expect("denied");
    assert_eq!(d.code(), "unparsed");
    assert!(d.message().contains("cannot parse"), "{}", d.message());
    assert_eq!(
        session(&g).check(&[0xff, 0xfe]).map(|d| d.code()),
        Some("unparsed")
    );
    let g = rules(&format!("{ALL_KINDS}unparsed = \"allow\"\n"));
    assert_eq!(session(&g).check(b"SELEKT 1"), None);
    assert!(session(&g).check(b"DROP TABLE t").is_some());
}

#[test]
fn patterns_match_the_text_and_rules_go_in_config_order() {
    let g = rules(
        r#"
[[guardrails]]
name = "no-pg-catalog-writes"
pattern = "(?i)pg_catalog\\.pg_authid"

[[guardrails]]
name = "safety"
deny = ["drop"]
"#,
    );
    let s = session(&g);
    let d = s
        .check(b"select * from PG_CATALOG.pg_authid")
        .expect("denied");
    assert_eq!(
        (d.rule.as_str(), d.code()),
        ("no-pg-catalog-writes", "pattern")
    );
    // A pattern-only rule does not parse, so unparsable text is not its business.
    let g = rules("[[guardrails]]\nname = \"p\"\npattern = \"secret\"\n");
    assert_eq!(session(&g).check(b"SELEKT 1"), None);
}

#[test]
fn rules_apply_by_resource_group_and_user() {
    let g = rules(
        r#"
[[guardrails]]
name = "shop-devs"
resources = ["shop"]
group = "dev"
deny = ["drop"]

[[guardrails]]
name = "bob"
user = "bob"
deny = ["truncate"]
"#,
    );
    let dev = ["dev".to_owned()];
    assert!(g.for_session("shop", "alice", &dev).is_some());
    assert!(g.for_session("hr", "alice", &dev).is_none());
    assert!(g.for_session("shop", "alice", &[]).is_none());
    let bob = g.for_session("hr", "bob", &[]).expect("bob's rule");
    assert_eq!(denied(&bob, "TRUNCATE t"), Some("truncate"));
    assert_eq!(denied(&bob, "DROP TABLE t"), None);
}

#[test]
fn bad_rules_are_refused_with_their_index_and_key() {
    #[derive(serde::Deserialize)]
    struct File {
        guardrails: Vec<GuardrailConfig>,
    }
    let err = |text: &str| {
        Guardrails::compile(&configs(text))
            .expect_err("invalid")
            .to_string()
    };
    assert_eq!(
        err("[[guardrails]]\nname = \"x\"\n"),
        "guardrails[0].deny: the rule denies nothing: give statement kinds in `deny`, a `pattern`, or both (or, for HTTP, `methods` and `paths`)"
    );
    assert!(
        err("[[guardrails]]\nname = \"x\"\npattern = \"(\"\n")
            .starts_with("guardrails[0].pattern: not a valid regex"),
    );
    assert_eq!(
        err(
            "[[guardrails]]\nname = \"x\"\ndeny = [\"drop\"]\n[[guardrails]]\nname = \"x\"\ndeny = [\"drop\"]\n"
        ),
        "guardrails[1].name: guardrail `x` is defined twice"
    );
    assert_eq!(
        err("[[guardrails]]\nname = \"r\"\ndeny = [\"drop\"]\naction = \"review\"\n"),
        "guardrails[0].approvers: `action = \"review\"` needs the groups that review, like `approvers = [\"dba\"]`"
    );
    assert_eq!(
        err("[[guardrails]]\nname = \"r\"\ndeny = [\"drop\"]\napprovers = [\"dba\"]\n"),
        "guardrails[0].approvers: has no effect without `action = \"review\"`"
    );

    let unknown = toml::from_str::<File>("[[guardrails]]\nname = \"x\"\ndeny = [\"dropp\"]\n")
        .map(|f| f.guardrails.len())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(unknown.contains("unknown variant `dropp`"), "{unknown}");
}

#[test]
fn deeply_nested_text_is_refused_not_a_stack_overflow() {
    let g = rules(ALL_KINDS);
    let s = session(&g);
    // Run where a session runs: a thread with tokio's default worker stack (2 MiB).
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let mut out = Vec::new();
            for depth in [40, 1_000, 100_000] {
                let sql = format!("SELECT {}1{}", "(".repeat(depth), ")".repeat(depth));
                out.push(s.check(sql.as_bytes()).map(|d| d.code()));
                let sql = format!("SELECT {}1", "- ".repeat(depth));
                out.push(s.check(sql.as_bytes()).map(|d| d.code()));
            }
            out
        })
        .expect("thread");
    let codes = worker.join().expect("no stack overflow");
    assert_eq!(codes[0], None, "shallow nesting parses");
    assert!(
        codes[2..].iter().all(|c| *c == Some("unparsed")),
        "{codes:?}"
    );
}

/// What PostgreSQL will run, however it is spelled: each statement with the kinds it must be
/// classified as (the real-server side of this corpus is in the PostgreSQL guardrail tests).
#[test]
fn spellings_that_run_more_than_they_show_are_classified() {
    let g = rules(
        r#"
[[guardrails]]
name = "safety"
deny = ["drop", "delete_without_where", "copy_file", "merge_delete", "code"]
"#,
    );
    let s = session(&g);
    for (sql, kind) in [
        ("EXPLAIN (ANALYZE) DELETE FROM t", "delete_without_where"),
        (
            "explain (analyze true, buffers) delete from t",
            "delete_without_where",
        ),
        ("EXPLAIN (ANALYZE on) DELETE FROM t", "delete_without_where"),
        ("EXPLAIN (ANALYZE 1) DELETE FROM t", "delete_without_where"),
        (
            "EXPLAIN (ANALYZE false, ANALYZE) DELETE FROM t",
            "delete_without_where",
        ),
        ("ALTER TABLE t DROP COLUMN secret", "drop"),
        ("ALTER TABLE t ADD COLUMN a int, DROP COLUMN b", "drop"),
        ("COPY t TO '/tmp/out.csv'", "copy_file"),
        ("COPY t FROM '/etc/passwd'", "copy_file"),
        (
            "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
            "merge_delete",
        ),
        (
            "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM t'",
            "code",
        ),
        (
            "CREATE OR REPLACE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN DELETE FROM t; END $$",
            "code",
        ),
        ("DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$", "code"),
        ("SELECT 1; do language plpgsql 'begin null; end'", "code"),
    ] {
        assert_eq!(denied(&s, sql), Some(kind), "{sql}");
    }
    for sql in [
        "EXPLAIN (ANALYZE false) DELETE FROM t",
        "EXPLAIN (ANALYZE off, VERBOSE) DELETE FROM t",
        "EXPLAIN (COSTS) DELETE FROM t",
        "ALTER TABLE t ADD COLUMN a int",
        "COPY t TO STDOUT",
        "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a",
        "SELECT 'do not'",
    ] {
        assert_eq!(denied(&s, sql), None, "{sql}");
    }
}

/// A setting that changes how string literals lex makes Ward unsure of everything after it:
/// `unparsed = "deny"` (the default) refuses it, in any spelling.
#[test]
fn changing_how_strings_lex_is_unparsed() {
    let strict =
        rules("[[guardrails]]\nname = \"strict\"\ndeny = [\"drop\"]\nunparsed = \"deny\"\n");
    let s = session(&strict);
    for sql in [
        "SET standard_conforming_strings = off",
        "set session STANDARD_CONFORMING_STRINGS to off",
        "SELECT set_config('standard_conforming_strings', 'off', false)",
        "SET backslash_quote = on",
    ] {
        assert_eq!(denied(&s, sql), Some("unparsed"), "{sql}");
    }
    let lenient =
        rules("[[guardrails]]\nname = \"lenient\"\ndeny = [\"drop\"]\nunparsed = \"allow\"\n");
    assert_eq!(
        denied(&session(&lenient), "SET standard_conforming_strings = off"),
        None
    );
}

#[test]
fn a_rule_that_denies_wins_over_one_that_reviews_and_review_needs_approvers() {
    let g = rules(
        r#"
[[guardrails]]
name = "review-deletes"
deny = ["delete_without_where", "drop"]
action = "review"
approvers = ["dba"]
review_timeout = "90s"

[[guardrails]]
name = "no-drops"
deny = ["drop"]
"#,
    );
    let s = session(&g);
    let held = s.check(b"DELETE FROM t").expect("matched");
    assert_eq!(held.rule, "review-deletes");
    assert_eq!(
        held.review,
        Some(Review {
            approvers: vec!["dba".into()],
            timeout: Duration::from_secs(90),
        })
    );
    let denied = s.check(b"DROP TABLE t").expect("matched");
    assert_eq!((denied.rule.as_str(), denied.review), ("no-drops", None));
    assert_eq!(
        s.check_command(b"DROP TABLE t").map(|d| d.rule),
        None,
        "no pattern, no command rule"
    );
}

#[test]
fn http_rules_match_methods_and_paths_and_never_statements() {
    let g = rules(
        r#"
[[guardrails]]
name = "no-deletes"
methods = ["delete"]
paths = ["/orders/*"]
[[guardrails]]
name = "no-admin"
paths = ["/admin", "/admin/*"]
[[guardrails]]
name = "no-export"
methods = ["GET"]
pattern = "format=csv"
[[guardrails]]
name = "no-drop"
pattern = "(?i)drop"
"#,
    );
    let s = session(&g);
    let rule = |method, path, query| s.check_http(method, path, query).map(|d| d.rule);
    assert_eq!(
        rule("DELETE", "/orders/7", None).as_deref(),
        Some("no-deletes")
    );
    assert_eq!(rule("GET", "/orders/7", None), None);
    assert_eq!(
        rule("delete", "/ORDERS/7/items", None).as_deref(),
        Some("no-deletes")
    );
    assert_eq!(rule("DELETE", "/customers/7", None), None);
    assert_eq!(rule("GET", "/admin", None).as_deref(), Some("no-admin"));
    assert_eq!(
        rule("POST", "/admin/users/1", None).as_deref(),
        Some("no-admin")
    );
    assert_eq!(rule("GET", "/administrator", None), None);
    assert_eq!(
        rule("GET", "/orders", Some("format=csv")).as_deref(),
        Some("no-export")
    );
    assert_eq!(rule("POST", "/orders", Some("format=csv")), None);
    // A pattern-only rule is matched against the request line too.
    assert_eq!(
        rule("POST", "/tables/drop", None).as_deref(),
        Some("no-drop")
    );
    let d = s.check_http("DELETE", "/orders/7", None).expect("denied");
    assert_eq!(d.code(), "request");
    assert_eq!(
        d.request_message(),
        "request denied by Ward guardrail \"no-deletes\": its method and path match the rule; it was not sent"
    );
    // HTTP rules never match statements or commands.
    assert_eq!(denied(&s, "DELETE FROM orders"), None);
    assert_eq!(
        s.check_command(b"curl -X DELETE /orders/7").map(|d| d.rule),
        None
    );
    assert_eq!(denied(&s, "DROP TABLE t"), Some("pattern"));

    for (toml, problem) in [
        (
            "methods = [\"DELETE\"]\ndeny = [\"drop\"]",
            "statement kinds do not apply to HTTP",
        ),
        ("methods = [\"DEL ETE\"]", "`DEL ETE` is not an HTTP method"),
        ("paths = [\"admin\"]", "`admin` is not a path"),
    ] {
        let err = Guardrails::compile(&configs(&format!("[[guardrails]]\nname = \"x\"\n{toml}\n")))
            .expect_err(toml)
            .to_string();
        assert!(err.contains(problem), "{toml}: {err}");
    }
}
