//! SAML 2.0 login against a real identity provider (PyPI `pysaml2` on loopback): `ward login
//! --saml` end to end, then the attack matrix of responses crafted with the provider's own key
//! (and others), each refused with its reason.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;
use ward_testkit::{ClusterOptions, IdpUser, Postgres, SamlIdp, Ward, browser, free_port, success};

const PW: &str = "alice-saml-password";

struct Setup {
    ward: Ward,
    idp: SamlIdp,
    _pg: Postgres,
}

fn setup() -> Setup {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let idp = SamlIdp::start(&[IdpUser {
        username: "alice",
        password: PW,
        groups: &["analysts", "staff"],
    }])
    .expect("SAML provider");
    let ward = Ward::builder(crate::WARD)
        .postgres_resource("shop", &pg)
        .grant("analysts", "shop")
        .web(free_port().expect("port"))
        .config(&format!(
            "[[auth.saml]]\nname = \"corp\"\nidp_metadata_file = \"{}\"\n",
            idp.metadata.display()
        ))
        .start()
        .expect("ward");
    let s = Setup { ward, idp, _pg: pg };
    let metadata = s.curl(&["/auth/saml/metadata"]);
    let xml = success(&metadata);
    assert!(xml.contains("AssertionConsumerService"), "{xml}");
    s.idp.set_sp_metadata(&xml).expect("SP metadata");
    s
}

impl Setup {
    /// `curl -sk` against Ward's web listener; the first argument is the path.
    fn curl(&self, args: &[&str]) -> Output {
        let url = format!("{}{}", self.ward.web_url(), args[0]);
        Command::new("curl")
            .args(["-sk", &url])
            .args(&args[1..])
            .output()
            .expect("curl")
    }

    fn entity_id(&self) -> String {
        format!("{}/auth/saml/metadata?idp=corp", self.ward.web_url())
    }

    fn acs(&self) -> String {
        format!("{}/auth/saml/acs", self.ward.web_url())
    }

    /// Starts a login as `ward login --saml` would (with PKCE `verifier`): the AuthnRequest's
    /// id and the RelayState.
    fn start_login(&self, verifier: &str) -> (String, String) {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        let out = self.curl(&[
            &format!("/auth/saml/login?port=9&state=client-state&challenge={challenge}"),
            "-o",
            "/dev/null",
            "-D",
            "-",
        ]);
        let to = location(&success(&out));
        let url = reqwest::Url::parse(&to).expect("redirect URL");
        let query: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        let deflated = base64::engine::general_purpose::STANDARD
            .decode(&query["SAMLRequest"])
            .expect("base64");
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&deflated[..])
            .read_to_string(&mut xml)
            .expect("deflate");
        let id = xml
            .split(" ID=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("AuthnRequest ID")
            .to_owned();
        (id, query["RelayState"].clone())
    }

    /// Posts a SAMLResponse to the ACS: the one-time login code, or Ward's reason for refusing.
    fn post(&self, response: &str, relay_state: &str) -> Result<String, String> {
        let out = self.curl(&[
            "/auth/saml/acs",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "--data-urlencode",
            &format!("SAMLResponse={response}"),
            "--data-urlencode",
            &format!("RelayState={relay_state}"),
        ]);
        let headers = success(&out);
        if !headers.to_ascii_lowercase().contains("\nlocation:") {
            return Err(headers);
        }
        let url = reqwest::Url::parse(&location(&headers)).expect("redirect URL");
        let query: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        assert_eq!(query["state"], "client-state");
        match (query.get("code"), query.get("error_description")) {
            (Some(code), _) => Ok(code.clone()),
            (None, Some(why)) => Err(why.clone()),
            _ => Err(url.to_string()),
        }
    }

    fn craft(&self, attack: &str, request_id: &str, extra: &[&str]) -> String {
        self.idp
            .craft(attack, &self.entity_id(), &self.acs(), request_id, extra)
    }
}

fn location(headers: &str) -> String {
    headers
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("location")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no Location header: {headers}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn saml_login_then_psql_with_the_ward_token() {
    let s = setup();
    let home = s.ward.dir.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let ca = s.ward.ca_cert();
    let mut login = s
        .ward
        .command()
        .args([
            "login",
            "--saml",
            "--server",
            &s.ward.web_url(),
            "--no-browser",
            "--ca-cert",
        ])
        .arg(&ca)
        .env("WARD_HOME", &home)
        .stderr(Stdio::piped())
        .spawn()
        .expect("ward login");
    let mut lines = BufReader::new(login.stderr.take().expect("stderr")).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("https://"))
        .expect("login URL");
    let browser = browser(
        "code",
        &["--url", &url, "--username", "alice", "--password", PW],
        &ca,
    );
    assert!(browser.status.success(), "browser: {}", text(&browser));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = login.wait().expect("ward login");
    assert!(status.success(), "ward login: {}", rest.join("\n"));
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(home.join("credentials.json")).expect("credentials"),
    )
    .expect("JSON");
    assert_eq!(saved["user"], "alice");
    assert_eq!(saved["groups"], serde_json::json!(["analysts", "staff"]));
    assert_eq!(saved["issuer"], s.idp.entity_id().as_str());
    let token = saved["token"].as_str().expect("token");
    let out = Command::new("psql")
        .args([
            &s.ward.url_with("alice", "", "shop", "require"),
            "-X",
            "-At",
            "-c",
            "select current_user",
        ])
        .env("PGPASSWORD", token)
        .output()
        .expect("psql");
    assert_eq!(success(&out).trim(), "app");
}

#[test]
fn saml_attack_matrix() {
    let s = setup();
    // The control: a correct response logs alice in; the code and verifier give a Ward token.
    let verifier = "v".repeat(43);
    let (id, relay) = s.start_login(&verifier);
    let good = s.craft("none", &id, &["--assertion-id", "_replayed-assertion"]);
    let code = s
        .post(&good, &relay)
        .expect("a correct response is accepted");
    let token = s.curl(&[
        "/api/v1/auth/token",
        "-H",
        "content-type: application/json",
        "-d",
        &format!(r#"{{"grant_type":"login_code","code":"{code}","verifier":"{verifier}"}}"#),
    ]);
    let issued: Value = serde_json::from_slice(&token.stdout).expect("token JSON");
    assert_eq!(issued["user"], "alice", "{issued}");
    // The same response again: its login is used up.
    let again = s.post(&good, &relay).expect_err("replay of a used login");
    assert!(again.contains("400"), "{again}");

    let cases: [(&str, &[&str], &str); 12] = [
        ("unsigned", &[], "must be signed"),
        ("wrong-audience", &[], "AudienceRequirement"),
        ("wrong-recipient", &[], "Recipient does not match"),
        ("expired", &[], "expired at"),
        ("wrong-in-response-to", &[], "InResponseTo"),
        ("tampered", &[], "must be signed"),
        ("other-key", &[], "must be signed"),
        ("xsw-sibling", &[], "2 assertions"),
        ("xsw-wrapped", &[], "2 assertions"),
        ("xsw-extensions", &[], "2 assertions"),
        // A valid, freshly signed response reusing an assertion id already accepted.
        (
            "none",
            &["--assertion-id", "_replayed-assertion"],
            "already used (replay)",
        ),
        // Signed by the provider, but for a login nobody started here.
        ("none", &[], "InResponseTo"),
    ];
    for (i, (attack, extra, expected)) in cases.iter().enumerate() {
        let (id, relay) = s.start_login(&verifier);
        let in_response_to = if i == cases.len() - 1 {
            "_someone-elses-request"
        } else {
            &id
        };
        let response = s.craft(attack, in_response_to, extra);
        match s.post(&response, &relay) {
            Ok(_) => panic!("{attack} {extra:?}: accepted"),
            Err(why) => assert!(why.contains(expected), "{attack} {extra:?}: {why}"),
        }
    }
    // An unknown RelayState is refused before anything is parsed.
    let unknown = s.post(&good, "forged").expect_err("unknown login");
    assert!(unknown.contains("400"), "{unknown}");
}

#[test]
fn web_ui_sign_in_through_saml() {
    let s = setup();
    let ca = s.ward.ca_cert();
    let start = format!("{}/auth/web/saml?issuer=corp", s.ward.web_url());
    let browser = browser(
        "code",
        &["--url", &start, "--username", "alice", "--password", PW],
        &ca,
    );
    assert!(browser.status.success(), "browser: {}", text(&browser));
    let sessions = s.ward.wait_for_session(|x| x["protocol"] == "web");
    let web = sessions
        .iter()
        .find(|x| x["protocol"] == "web")
        .unwrap_or_else(|| panic!("no web sign-in in {sessions:?}"));
    assert_eq!(web["user"], "alice");
    assert_eq!(web["groups"], serde_json::json!(["analysts", "staff"]));
}
