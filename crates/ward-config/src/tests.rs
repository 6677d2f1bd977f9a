use super::*;

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, Path::new("/etc/ward/ward.toml"))
}

const GOOD: &str = r#"
    [listen]
    postgres = "127.0.0.1:6432"
    [[resources]]
    name = "shop"
    kind = "postgres"
    address = "127.0.0.1:5432"
    database = "shop"
    user = "app"
    [[grants]]
    group = "dev"
    resources = ["shop"]
"#;

#[test]
fn loads_and_resolves_relative_paths() {
    let c = load(GOOD).expect("valid");
    assert_eq!(c.store.path, Path::new("/etc/ward/ward.db"));
    assert_eq!(c.tls.cert, Path::new("/etc/ward/tls/cert.pem"));
    assert_eq!(c.recording.max_result_bytes.0, 16 << 20);
    assert!(c.grant_for("alice", &["dev".into()], "shop").is_some());
    assert!(c.grant_for("alice", &["ops".into()], "shop").is_none());
}

#[test]
fn mask_client_is_refused_for_an_ssh_resource() {
    let ssh = "[[resources]]\nname = \"web1\"\nkind = \"ssh\"\naddress = \"127.0.0.1:22\"\nuser = \"deploy\"\ntrust_on_first_use = true\n";
    let grant =
        "[[grants]]\ngroup = \"support\"\nresources = [\"shop\", \"web1\"]\nmask_client = true\n";
    let err = load(&format!("{GOOD}\n{ssh}\n{grant}")).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "/etc/ward/ward.toml: grants[1].mask_client: masks what PostgreSQL and HTTP clients receive; SSH resource `web1` would show its clients unmasked output: give it a grant of its own without `mask_client`"
    );
    let without = grant.replace(", \"web1\"", "");
    load(&format!("{GOOD}\n{ssh}\n{without}")).expect("a PostgreSQL resource may");
}

#[test]
fn webhooks_need_a_safe_url_and_known_events() {
    let hook = |lines: &str| load(&format!("{GOOD}\n[[webhooks]]\n{lines}\n"));
    let err = hook("url = \"http://hooks.example.com/x\"").expect_err("plain http");
    assert!(err.to_string().contains("webhooks[0].url"), "{err}");
    let err = hook("url = \"https://h/x\"\nevents = [\"session.ended\"]").expect_err("event");
    assert!(
        err.to_string().contains(
            "no event `session.ended` (events: access.denied, guardrail.denied, session.terminated, request.created, request.approved, request.denied, review.waiting)"
        ),
        "{err}"
    );
    let c =
        hook("url = \"http://127.0.0.1:9/x\"\nevents = [\"access.denied\"]\nformat = \"slack\"")
            .expect("loopback http");
    assert!(c.webhooks[0].wants("access.denied") && !c.webhooks[0].wants("guardrail.denied"));
    assert_eq!(c.webhooks[0].format, WebhookFormat::Slack);
}

#[test]
fn unknown_key_names_file_and_key() {
    let err =
        load(&format!("{GOOD}\n[recording]\nmax_rezult_bytes = 1\n")).expect_err("unknown key");
    let msg = err.to_string();
    assert!(msg.starts_with("/etc/ward/ward.toml"), "{msg}");
    assert!(msg.contains("max_rezult_bytes"), "{msg}");
}

#[test]
fn bad_value_is_reported() {
    let err = load("[listen]\npostgres = \"nowhere\"\n").expect_err("bad address");
    assert!(err.to_string().contains("postgres"), "{err}");
    let err = load(&format!(
        "{GOOD}\n[recording]\nmax_result_bytes = \"lots\"\n"
    ))
    .expect_err("bad size");
    assert!(err.to_string().contains("lots"), "{err}");
}

#[test]
fn store_tls_needs_a_postgres_store_and_resolves_its_ca_file() {
    let err = load(&format!("[store]\ntls = \"verify-full\"\n{GOOD}")).expect_err("no url");
    assert_eq!(
        err.to_string(),
        "/etc/ward/ward.toml: store.tls: TLS settings apply to a PostgreSQL store: set `url` or `url_env` too"
    );
    let c = load(&format!(
        "[store]\nurl = \"postgres://ward@db/audit\"\ntls = \"verify-full\"\nca_file = \"store-ca.pem\"\n{GOOD}"
    ))
    .expect("valid");
    assert_eq!(c.store.tls, UpstreamTls::VerifyFull);
    assert_eq!(
        c.store.ca_file.as_deref(),
        Some(Path::new("/etc/ward/store-ca.pem"))
    );
}

#[test]
fn grant_to_unknown_resource_is_refused() {
    let text = GOOD.replace("resources = [\"shop\"]", "resources = [\"shoop\"]");
    let err = load(&text).expect_err("unknown resource");
    assert_eq!(
        err.to_string(),
        "/etc/ward/ward.toml: grants[0].resources: no resource named `shoop`"
    );
}

#[test]
fn bad_guardrails_name_the_file_key_and_problem() {
    let err = load(&format!(
        "{GOOD}\n[[guardrails]]\nname = \"g\"\nresources = [\"shoop\"]\ndeny = [\"drop\"]\n"
    ))
    .expect_err("unknown resource");
    assert_eq!(
        err.to_string(),
        "/etc/ward/ward.toml: guardrails[0].resources: no resource named `shoop`"
    );
    let err = load(&format!(
        "{GOOD}\n[[guardrails]]\nname = \"g\"\npattern = \"[unclosed\"\n"
    ))
    .expect_err("bad regex");
    assert!(
        err.to_string()
            .starts_with("/etc/ward/ward.toml: guardrails[0].pattern: not a valid regex"),
        "{err}"
    );
    let err = load(&format!(
        "{GOOD}\n[[guardrails]]\nname = \"g\"\ndeny = [\"delete\"]\n"
    ))
    .expect_err("unknown kind");
    assert!(
        err.to_string().contains("unknown variant `delete`"),
        "{err}"
    );
}

#[test]
fn missing_password_env_is_refused() {
    let text = GOOD.replace(
        "user = \"app\"",
        "user = \"app\"\npassword_env = \"WARD_TEST_SURELY_UNSET\"",
    );
    let err = load(&text).expect_err("unset env");
    assert!(
        err.to_string().contains("resources[0].password_env"),
        "{err}"
    );
}

#[test]
fn an_http_resource_takes_its_address_path_and_tls_from_its_url() {
    let http = |keys: &str| {
        load(&format!(
            "{GOOD}\n[[resources]]\nname = \"api\"\nkind = \"http\"\n{keys}\n"
        ))
    };
    let c = http("url = \"https://billing.internal/v1/\"").expect("valid");
    let r = c.resource("api").expect("api");
    assert_eq!(
        (r.address.as_str(), r.base_path.as_str()),
        ("billing.internal:443", "/v1")
    );
    assert_eq!(r.tls, UpstreamTls::VerifyFull);
    let c = http("url = \"http://[::1]:8080\"").expect("valid");
    let r = c.resource("api").expect("api");
    assert_eq!(
        (r.address.as_str(), r.base_path.as_str()),
        ("[::1]:8080", "")
    );
    assert_eq!(r.tls, UpstreamTls::Disable);
    let c = http("url = \"https://10.0.0.5:8443\"\ntls = \"require\"").expect("valid");
    assert_eq!(c.resource("api").expect("api").tls, UpstreamTls::Require);

    for (keys, problem) in [
        (
            "",
            "resources[1].url: an HTTP resource needs the service's base URL",
        ),
        ("url = \"ftp://x/\"", "is not an http:// or https:// URL"),
        ("url = \"https://u:p@x/\"", "no user or password"),
        ("url = \"https://x/?a=1\"", "has a query or fragment"),
        ("url = \"https://x:99999/\"", "has a bad port"),
        (
            "url = \"http://x/\"\ntls = \"require\"",
            "resources[1].tls: an http:// URL is plain HTTP",
        ),
        (
            "url = \"http://x/\"\naddress = \"x:80\"",
            "resources[1].address: an HTTP resource takes it from `url`",
        ),
        (
            "url = \"http://x/\"\ncredential = \"bearer\"",
            "give the secret Ward presents",
        ),
        (
            "url = \"http://x/\"\npassword_env = \"HOME\"",
            "say how Ward presents the secret",
        ),
        (
            "url = \"http://x/\"\npassword_env = \"HOME\"\ncredential = \"basic\"",
            "resources[1].user: `credential = \"basic\"` needs the user name",
        ),
        (
            "url = \"http://x/\"\npassword_env = \"HOME\"\ncredential = \"header\"",
            "needs the header's name",
        ),
        (
            "url = \"http://x/\"\npassword_env = \"HOME\"\ncredential = \"header\"\ncredential_header = \"X Key\"",
            "`X Key` is not a header name",
        ),
        (
            "url = \"http://x/\"\ncredential_header = \"X-Key\"",
            "has no effect without `credential = \"header\"`",
        ),
    ] {
        let err = http(keys).expect_err(keys).to_string();
        assert!(err.contains(problem), "{keys}: {err}");
    }
    let err = load(&GOOD.replace("user = \"app\"", "url = \"http://x/\"\nuser = \"app\""))
        .expect_err("url on postgres")
        .to_string();
    assert!(
        err.contains("resources[0].url: only an HTTP resource has it"),
        "{err}"
    );
    let err = load(&GOOD.replace("user = \"app\"", ""))
        .expect_err("no user")
        .to_string();
    assert!(
        err.contains("resources[0].user: the role or account"),
        "{err}"
    );
}
