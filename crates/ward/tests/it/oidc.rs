//! Identity through a real OpenID Connect provider (npm `oidc-provider` on loopback): `ward
//! login` with the browser (PKCE) and device flows, Ward tokens and service-account keys as
//! passwords, revocation, and the attack matrix of bad tokens, each refused with a clear error
//! and recorded.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use ward_testkit::{
    CLIENT_SECRET, ClusterOptions, Idp, IdpUser, PASSWORD, Postgres, Ward, WardBuilder, browser,
    free_port, success,
};

pub(crate) const ALICE_PW: &str = "alice-idp-password";

pub(crate) struct Setup {
    pub(crate) ward: Ward,
    idp: Idp,
    _pg: Postgres,
    home: PathBuf,
    /// Sessions started through Ward so far.
    sessions: std::cell::Cell<usize>,
}

/// PostgreSQL, the provider with alice (analysts) and mallory (interns), and Ward trusting the
/// provider, granting `analysts` the resource `shop` and the client-credentials client `ward`
/// too.
fn setup(name: &str) -> Setup {
    setup_with(name, None, |b| b)
}

/// With `sshd`, Ward also serves SSH (on the returned port) with that host as resource `web1`,
/// which analysts may reach; `extra` adds to Ward's configuration.
pub(crate) fn setup_with(
    name: &str,
    sshd: Option<(&mut ward_testkit::Sshd, u16)>,
    extra: impl FnOnce(WardBuilder) -> WardBuilder,
) -> Setup {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let web_port = free_port().expect("port");
    let callback = format!("https://127.0.0.1:{web_port}/auth/callback");
    let idp = Idp::start(
        &callback,
        &[
            IdpUser {
                username: "alice",
                password: ALICE_PW,
                groups: &["analysts", "staff"],
            },
            IdpUser {
                username: "mallory",
                password: ALICE_PW,
                groups: &["interns"],
            },
        ],
    )
    .expect("OIDC provider");
    let mut builder = Ward::builder(crate::WARD);
    if let Some((sshd, port)) = &sshd {
        builder = builder
            .ssh(*port)
            .grant("analysts", "web1")
            .ssh_resource("web1", sshd);
    }
    let ward = extra(builder)
        .postgres_resource("shop", &pg)
        .grant("analysts", "shop")
        .config("[[grants]]\nuser = \"ward\"\nresources = [\"shop\"]\n")
        .user("carol", &["analysts"])
        .web(web_port)
        .file("oidc.secret", CLIENT_SECRET)
        .auth(&format!(
            "token_ttl = \"1h\"\n\n[[auth.oidc]]\nname = \"corp\"\nissuer = \"{}\"\nclient_id = \"ward\"\nclient_secret_file = \"oidc.secret\"\nscopes = [\"openid\", \"profile\", \"email\", \"groups\"]\nleeway = \"5s\"\nrecheck = \"1s\"",
            idp.issuer
        ))
        .start()
        .expect("ward");
    if let Some((sshd, _)) = sshd {
        sshd.start(&ward.dir.join("ssh_client_key.pub"))
            .expect("sshd");
    }
    let home = ward.dir.join(format!("home-{name}"));
    std::fs::create_dir_all(&home).expect("home");
    Setup {
        ward,
        idp,
        _pg: pg,
        home,
        sessions: std::cell::Cell::new(0),
    }
}

impl Setup {
    /// `ward ARGS` as the client would run it, with its own credentials directory.
    pub(crate) fn ward_client(&self, args: &[&str]) -> Command {
        let mut c = self.ward.command();
        c.args(args).env("WARD_HOME", &self.home);
        c
    }

    pub(crate) fn saved(&self) -> Value {
        let text =
            std::fs::read_to_string(self.home.join("credentials.json")).expect("credentials");
        serde_json::from_str(&text).expect("credentials JSON")
    }

    /// `ward login` with the browser flow, the scripted browser logging in as `user`.
    fn browser_login(&self, user: &str, password: &str, extra: &[&str]) -> (Output, Output) {
        self.browser_login_with(user, password, extra, &[])
    }

    /// [`Setup::browser_login`] with `flags` for `ward login`.
    pub(crate) fn browser_login_with(
        &self,
        user: &str,
        password: &str,
        extra: &[&str],
        flags: &[&str],
    ) -> (Output, Output) {
        let server = self.ward.web_url();
        let ca = self.ward.ca_cert();
        let mut login = self
            .ward_client(&["login", "--server", &server, "--no-browser", "--ca-cert"])
            .arg(&ca)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ward login");
        let stderr = login.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = String::new();
        let url = loop {
            let line = lines
                .next()
                .and_then(Result::ok)
                .unwrap_or_else(|| panic!("ward login printed no URL: {seen}"));
            seen.push_str(&line);
            seen.push('\n');
            if line.starts_with("https://") {
                break line;
            }
        };
        let mut args = vec!["--url", &url, "--username", user, "--password", password];
        args.extend_from_slice(extra);
        let browser = browser("code", &args, &ca);
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let mut out = login.wait_with_output().expect("ward login");
        out.stderr = format!("{seen}{}", rest.join("\n")).into_bytes();
        (browser, out)
    }

    /// psql through Ward as `user` with `password`; the upstream's `current_user` or the error.
    fn psql_as(&self, user: &str, password: &str) -> Output {
        self.sessions.set(self.sessions.get() + 1);
        let url = self.ward.url_with(user, "", "shop", "require");
        Command::new("psql")
            .args([&url, "-X", "-At", "-c", "select current_user"])
            .env("PGPASSWORD", password)
            .stdin(Stdio::null())
            .output()
            .expect("psql")
    }

    /// The connection was refused saying `expected`, and the session is recorded as denied
    /// with that reason.
    fn assert_denied(&self, out: &Output, expected: &str) {
        let said = text(out);
        assert!(!out.status.success(), "accepted: {said}");
        assert!(said.contains(expected), "{expected}: {said}");
        let (session, auth) = self.last_auth();
        assert_eq!(session["outcome"], "denied");
        assert!(
            auth["reason"]
                .as_str()
                .unwrap_or_default()
                .contains(expected),
            "{expected}: {auth}"
        );
    }

    /// The newest session and the payload of its `auth` event.
    fn last_auth(&self) -> (Value, Value) {
        let sessions = self.ward.wait_sessions(self.sessions.get());
        assert_eq!(sessions.len(), self.sessions.get(), "sessions recorded");
        let last = sessions.last().expect("a session").clone();
        let id = last["id"].as_str().expect("id");
        let events = self.ward.events(id);
        let start = events
            .iter()
            .find(|e| e["kind"] == "auth")
            .map(|e| e["payload"].clone())
            .unwrap_or_default();
        (last, start)
    }
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn browser_login_with_pkce_then_psql_with_the_ward_token() {
    let s = setup("pkce");
    let (browser, login) = s.browser_login("alice", ALICE_PW, &[]);
    assert!(
        browser.status.success(),
        "browser: {}\nward login: {}",
        text(&browser),
        text(&login)
    );
    assert!(login.status.success(), "ward login: {}", text(&login));
    let page: Value = serde_json::from_slice(&browser.stdout).expect("browser JSON");
    assert!(
        page["body"]
            .as_str()
            .unwrap_or_default()
            .contains("You are logged in to Ward"),
        "{page}"
    );
    let saved = s.saved();
    assert_eq!(saved["user"], "alice");
    assert_eq!(saved["groups"], json!(["analysts", "staff"]));
    assert_eq!(saved["issuer"], s.idp.issuer.as_str());
    let token = saved["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("ward_t_"), "{token}");
    assert_eq!(mode(&s.home.join("credentials.json")), 0o600);

    // `ward connect psql` runs psql with the token, TLS checked against Ward's certificate.
    let out = s
        .ward_client(&[
            "connect",
            "psql",
            "shop",
            "--",
            "-X",
            "-At",
            "-c",
            "select current_user",
        ])
        .output()
        .expect("ward connect");
    s.sessions.set(s.sessions.get() + 1);
    assert_eq!(success(&out).trim(), "app", "{}", text(&out));
    let (session, auth) = s.last_auth();
    assert_eq!(session["user"], "alice");
    assert_eq!(session["outcome"], "ok");
    assert_eq!(auth["method"], "ward-token");
    assert_eq!(auth["credential"], saved["id"]);

    // --print-env reuses the saved token.
    let env = s
        .ward_client(&["login", "--print-env"])
        .output()
        .expect("print-env");
    let env = success(&env);
    assert!(env.contains(&format!("PGPASSWORD={token}")), "{env}");
    assert!(env.contains("PGUSER=alice"), "{env}");
    assert!(env.contains("PGSSLMODE=verify-full"), "{env}");

    // The token is for alice only.
    let out = s.psql_as("carol", &token);
    assert!(!out.status.success());
    assert!(text(&out).contains("issued to `alice`"), "{}", text(&out));

    // An administrator revokes alice's tokens: refused at once, and recorded.
    let revoked = s.ward.cli(&["tokens", "revoke", "--user", "alice"]);
    assert!(success(&revoked).contains("revoked token"));
    s.assert_denied(&s.psql_as("alice", &token), "revoked");

    // Logging in again and revoking one's own token: the file goes, the token stops working.
    let (_, login) = s.browser_login("alice", ALICE_PW, &[]);
    assert!(login.status.success(), "{}", text(&login));
    let token = s.saved()["token"].as_str().expect("token").to_owned();
    assert_eq!(success(&s.psql_as("alice", &token)).trim(), "app");
    let out = s
        .ward_client(&["tokens", "revoke"])
        .output()
        .expect("revoke");
    success(&out);
    assert!(!s.home.join("credentials.json").exists());
    s.assert_denied(&s.psql_as("alice", &token), "revoked");
}

#[test]
fn browser_login_refusals_are_clear() {
    let s = setup("deny");
    // The person refuses consent at the provider.
    let (_, login) = s.browser_login("alice", ALICE_PW, &["--deny"]);
    assert!(!login.status.success());
    assert!(text(&login).contains("access_denied"), "{}", text(&login));
    // A login link nobody started.
    let out = Command::new("curl")
        .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!(
            "{}/auth/callback?state=forged&code=x",
            s.ward.web_url()
        ))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "400");
}

#[test]
fn device_flow_login() {
    let s = setup("device");
    let ca = s.ward.ca_cert();
    let mut login = s
        .ward_client(&[
            "login",
            "--device",
            "--server",
            &s.ward.web_url(),
            "--ca-cert",
        ])
        .arg(&ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ward login --device");
    let stderr = login.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let line = lines
        .next()
        .and_then(Result::ok)
        .expect("ward login prints the code");
    // "To log in, open URI and enter the code CODE"
    let uri = line
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .expect("verification URI")
        .to_owned();
    let code = line.rsplit(' ').next().expect("code").to_owned();
    let browser = browser(
        "device",
        &[
            "--url",
            &uri,
            "--user-code",
            &code,
            "--username",
            "alice",
            "--password",
            ALICE_PW,
        ],
        &ca,
    );
    assert!(browser.status.success(), "browser: {}", text(&browser));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = login.wait_with_output().expect("ward login");
    assert!(out.status.success(), "{line}\n{}", rest.join("\n"));
    let token = s.saved()["token"].as_str().expect("token").to_owned();
    assert_eq!(success(&s.psql_as("alice", &token)).trim(), "app");
}

#[test]
fn service_accounts_and_admin_tokens() {
    let s = setup("sa");
    let out = s.ward.cli(&[
        "service-accounts",
        "create",
        "ci-bot",
        "--groups",
        "analysts",
    ]);
    let printed = success(&out);
    let key = printed
        .lines()
        .find(|l| l.starts_with("ward_sa_"))
        .expect("the key is printed")
        .to_owned();
    assert_eq!(success(&s.psql_as("ci-bot", &key)).trim(), "app");
    let (_, auth) = s.last_auth();
    assert_eq!(auth["method"], "service-account");
    // The store keeps only a digest.
    let db = std::fs::read(s.ward.dir.join("ward.db")).expect("store");
    assert!(!db.windows(key.len()).any(|w| w == key.as_bytes()));
    // A second key while one is active is refused; listing shows the key.
    let again = s
        .ward
        .cli(&["service-accounts", "create", "ci-bot", "--groups", "x"]);
    assert!(!again.status.success());
    assert!(text(&again).contains("already has an active key"));
    assert!(success(&s.ward.cli(&["service-accounts", "list"])).contains("ci-bot"));
    // Revoked: refused at once.
    success(&s.ward.cli(&["service-accounts", "revoke", "ci-bot"]));
    s.assert_denied(&s.psql_as("ci-bot", &key), "revoked");

    // An administrator's token for a local user, and its expiry.
    let out = s.ward.cli(&["tokens", "issue", "carol", "--ttl", "2s"]);
    let token = success(&out)
        .lines()
        .find(|l| l.starts_with("ward_t_"))
        .expect("token printed")
        .to_owned();
    assert_eq!(success(&s.psql_as("carol", &token)).trim(), "app");
    std::thread::sleep(Duration::from_millis(2500));
    s.assert_denied(&s.psql_as("carol", &token), "expired at");
    // The local password still works.
    assert_eq!(success(&s.psql_as("carol", PASSWORD)).trim(), "app");
}

#[test]
fn oidc_tokens_as_passwords_and_the_attack_matrix() {
    let s = setup("attacks");
    let idp = &s.idp;
    let good = |alg: &str| idp.mint(alg, json!({}), idp.claims("alice", &["analysts"], "ward"));
    // Every allowed algorithm works, and the upstream role is the grant's.
    for alg in ["RS256", "ES256", "EdDSA"] {
        let out = s.psql_as("alice", &good(alg));
        assert_eq!(success(&out).trim(), "app", "{alg}");
    }
    let (_, auth) = s.last_auth();
    assert_eq!(auth["method"], "oidc");
    assert_eq!(auth["issuer"], idp.issuer.as_str());
    // A JWT access token from the client-credentials grant (automation) works too.
    let access = idp.client_credentials_token().expect("client credentials");
    assert_eq!(success(&s.psql_as("ward", &access)).trim(), "app");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let with = |patch: Value| {
        let mut claims = idp.claims("alice", &["analysts"], "ward");
        if let (Some(c), Some(p)) = (claims.as_object_mut(), patch.as_object()) {
            for (k, v) in p {
                c.insert(k.clone(), v.clone());
            }
        }
        claims
    };
    let tampered = {
        let t = good("RS256");
        let parts: Vec<&str> = t.split('.').collect();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let forged = b64.encode(with(json!({"groups": ["analysts", "dba"]})).to_string());
        format!("{}.{forged}.{}", parts[0], parts[2])
    };
    let other = Idp::start(
        "https://127.0.0.1:1/auth/callback",
        &[IdpUser {
            username: "alice",
            password: ALICE_PW,
            groups: &["analysts"],
        }],
    )
    .expect("second provider");
    let foreign_issuer = other.mint(
        "RS256",
        json!({}),
        other.claims("alice", &["analysts"], "ward"),
    );
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            idp.mint(
                "RS256",
                json!({}),
                with(json!({"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600})),
            ),
            "expired at",
        ),
        (
            "not yet valid",
            idp.mint(
                "RS256",
                json!({}),
                with(json!({"nbf": now + 3600, "exp": now + 7200})),
            ),
            "not valid before",
        ),
        (
            "issued in the future",
            idp.mint(
                "RS256",
                json!({}),
                with(json!({"iat": now + 3600, "exp": now + 7200})),
            ),
            "issued in the future",
        ),
        (
            "wrong issuer",
            idp.mint(
                "RS256",
                json!({}),
                with(json!({"iss": format!("{}/evil", idp.issuer)})),
            ),
            "is not configured",
        ),
        (
            "wrong audience",
            idp.mint("RS256", json!({}), with(json!({"aud": "some-other-api"}))),
            "wrong audience",
        ),
        (
            "alg none",
            idp.mint("none", json!({}), with(json!({}))),
            "algorithm `none` is not allowed",
        ),
        (
            "HS256 keyed with the RSA public key",
            idp.mint("hs256-with-public-key", json!({}), with(json!({}))),
            "algorithm `HS256` is not allowed",
        ),
        (
            "unknown kid",
            idp.mint("foreign", json!({}), with(json!({}))),
            "no key `foreign`",
        ),
        (
            "known kid, foreign key",
            idp.mint(
                "foreign",
                json!({"kid": kid_of(&good("RS256"))}),
                with(json!({})),
            ),
            "signature does not verify",
        ),
        ("tampered payload", tampered, "signature does not verify"),
        ("issuer not configured", foreign_issuer, "is not configured"),
        (
            "token for another user",
            idp.mint(
                "RS256",
                json!({}),
                with(json!({"preferred_username": "bob"})),
            ),
            "names user `bob`",
        ),
    ];
    for (name, token, expected) in &cases {
        eprintln!("attack: {name}");
        s.assert_denied(&s.psql_as("alice", token), expected);
    }
    // A valid token whose groups have no grant: 42501, recorded.
    let intern = idp.mint(
        "RS256",
        json!({}),
        idp.claims("mallory", &["interns"], "ward"),
    );
    let out = s.psql_as("mallory", &intern);
    assert!(!out.status.success());
    assert!(text(&out).contains("no grant"), "{}", text(&out));
    let (session, auth) = s.last_auth();
    assert_eq!(session["outcome"], "denied");
    assert_eq!(auth["result"], "ok");
}

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    v["kid"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn web_ui_sign_in_through_the_issuer() {
    let s = setup("web");
    let ca = s.ward.ca_cert();
    let start = format!("{}/auth/web/login?issuer=corp", s.ward.web_url());
    let browser = browser(
        "code",
        &[
            "--url",
            &start,
            "--username",
            "alice",
            "--password",
            ALICE_PW,
        ],
        &ca,
    );
    assert!(browser.status.success(), "browser: {}", text(&browser));
    let page: Value = serde_json::from_slice(&browser.stdout).expect("browser JSON");
    // Signed in and sent to the UI.
    assert_eq!(page["status"], 200, "{page}");
    assert_eq!(
        page["url"].as_str().map(|u| u.trim_end_matches('/')),
        Some(s.ward.web_url().as_str()),
        "{page}"
    );
    let sessions = s.ward.wait_for_session(|x| x["protocol"] == "web");
    let session = sessions
        .iter()
        .find(|x| x["protocol"] == "web")
        .unwrap_or_else(|| panic!("no web sign-in in {sessions:?}"));
    assert_eq!(session["user"], "alice");
    let events = s.ward.events(session["id"].as_str().expect("id"));
    let auth = &events.iter().find(|e| e["kind"] == "auth").expect("auth")["payload"];
    assert_eq!(auth["method"], "oidc");
    assert_eq!(auth["issuer"], s.idp.issuer.as_str());
}

/// Login CSRF: an attacker starts a web sign-in with their own account and hands the callback
/// (code and state) to a victim's browser. Ward finishes a web sign-in only in the browser that
/// started it (its `ward_login` cookie), so the victim is not signed in as the attacker and
/// nothing is recorded as a web session.
#[test]
fn a_web_sign_in_finishes_only_in_the_browser_that_started_it() {
    let s = setup("csrf");
    let ca = s.ward.ca_cert();
    let start = format!("{}/auth/web/login?issuer=corp", s.ward.web_url());
    let callback = format!("{}/auth/callback", s.ward.web_url());
    let attacker = browser(
        "code",
        &[
            "--url",
            &start,
            "--username",
            "alice",
            "--password",
            ALICE_PW,
            "--stop-at",
            &callback,
        ],
        &ca,
    );
    assert!(attacker.status.success(), "browser: {}", text(&attacker));
    let stopped: Value = serde_json::from_slice(&attacker.stdout).expect("browser JSON");
    let url = stopped["stopped"].as_str().expect("the callback URL");
    assert!(url.contains("code=") && url.contains("state="), "{url}");

    // The victim's browser has no ward_login cookie of that sign-in.
    let victim = ward_testkit::run(
        "curl",
        &[
            "-sk",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "--cacert",
            ca.to_str().expect("ca"),
            url,
        ],
    );
    let head = String::from_utf8_lossy(&victim.stdout);
    assert!(
        head.contains("login_error=") && head.contains("another+browser"),
        "{head}"
    );
    assert!(!head.contains("ward_session="), "{head}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        s.ward.sessions().iter().all(|x| x["protocol"] != "web"),
        "{:?}",
        s.ward.sessions()
    );
}

/// Waits until `n` PostgreSQL sessions have been ended from outside.
fn terminated(s: &Setup, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let ended = |x: &&Value| x["protocol"] == "postgres" && x["outcome"] == "terminated";
    while s.ward.sessions().iter().filter(ended).count() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            s.ward.sessions()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until psql as alice with `token` succeeds (`ok`) or fails saying `why`.
fn psql_turns(s: &Setup, token: &str, ok: bool, why: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let out = s.psql_as("alice", token);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() == ok && (ok || err.contains(why)) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "psql: {err}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn ward_checks_a_login_again_and_follows_the_providers_groups_and_disabling() {
    let mut sshd = ward_testkit::Sshd::prepare().expect("sshd");
    let ssh_port = free_port().expect("port");
    let s = setup_with("recheck", Some((&mut sshd, ssh_port)), |b| b);
    let (_, login) = s.browser_login("alice", ALICE_PW, &[]);
    assert!(login.status.success(), "ward login: {}", text(&login));
    let token = s.saved()["token"].as_str().expect("token").to_owned();
    let mut open = ward_testkit::Psql::open(&s.ward.url_with("alice", &token, "shop", "require"));
    assert_eq!(open.ask("SELECT 'through analysts';"), "through analysts");
    // And on the host, with a certificate for her Ward token (`ward connect ssh`).
    let host = {
        let mut connect = s.ward_client(&[
            "connect",
            "ssh",
            "web1",
            "--",
            "-o",
            "BatchMode=yes",
            "sleep 60",
        ]);
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let out = connect.output().expect("ward connect ssh");
            (out, started.elapsed())
        })
    };
    s.ward
        .wait_for_session(|x| x["protocol"] == "ssh" && x["ended_at"].is_null());

    // The provider takes alice out of analysts: at the next check of her login (her issuer's
    // `recheck` is a second here), her open session ends and the token no longer reaches shop.
    s.idp.set_groups("alice", Some(&["staff"]));
    terminated(&s, 1);
    let stderr = open.finish("SELECT 'after';");
    assert!(
        stderr.contains(
            "terminated by the identity provider (login check): alice's groups changed (now: staff)"
        ),
        "{stderr}"
    );
    let (out, took) = host.join().expect("ssh");
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        took < Duration::from_secs(30),
        "ssh ended long before its command: {took:?}"
    );
    let ended = |x: &Value| x["protocol"] == "ssh" && !x["outcome"].is_null();
    let ssh = s
        .ward
        .wait_for_session(ended)
        .into_iter()
        .find(ended)
        .expect("ssh session");
    assert_eq!(ssh["outcome"], "terminated", "{ssh}");
    psql_turns(&s, &token, false, "has no grant for resource \"shop\"");

    // Back in analysts, the same token reaches shop again.
    s.idp.set_groups("alice", Some(&["analysts", "staff"]));
    psql_turns(&s, &token, true, "");

    // Removed at the provider, her refresh is refused: her Ward token is revoked, and the
    // session it opened ends.
    let mut open = ward_testkit::Psql::open(&s.ward.url_with("alice", &token, "shop", "require"));
    assert_eq!(open.ask("SELECT 'back again';"), "back again");
    s.idp.set_groups("alice", None);
    terminated(&s, 2);
    let stderr = open.finish("SELECT 'after';");
    assert!(
        stderr.contains("terminated by the identity provider corp (invalid_grant"),
        "{stderr}"
    );
    psql_turns(&s, &token, false, "revoked");
    let listed = success(
        &s.ward
            .cli(&["tokens", "list", "--user", "alice", "--all", "--json"]),
    );
    let listed: Value = serde_json::from_str(&listed).expect("json");
    assert!(!listed[0]["revoked_at"].is_null(), "{listed}");
}
