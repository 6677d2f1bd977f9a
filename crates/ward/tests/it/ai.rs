//! AI model APIs behind Ward: the official OpenAI and Anthropic Python SDKs reach a stand-in
//! provider (tools/model-peer) through an HTTP resource with `api`, with a Ward token as their
//! API key. The record holds each conversation (`ai.prompt`) and each answer reassembled from
//! its stream (`ai.completion`), masked; a grant can mask prompts before the provider sees
//! them, and a guardrail refuses prompts that carry secrets.

use std::process::Command;

use serde_json::Value;
use ward_testkit::{HttpPeer, Ward, of_kind, python_client, success};

/// The provider's key: only Ward knows it.
const PROVIDER_KEY: &str = "sk-provider-only-0a1b2c";
/// The password the contractor pastes into the chat (tools/http-client/client.py).
const PASTED_PASSWORD: &str = "Sup3rSecret";

fn ward_for(model: &HttpPeer, extra: &str) -> Ward {
    let users = |b: ward_testkit::WardBuilder| b.user("alice", &["dev"]).user("sam", &["support"]);
    users(Ward::builder(crate::WARD))
        .http()
        .file("provider.key", PROVIDER_KEY)
        .http_resource(
            "assistant",
            &model.url(),
            "api = \"openai\"\ncredential = \"bearer\"\npassword_file = \"provider.key\"",
        )
        .http_resource(
            "claude",
            &model.url(),
            "api = \"anthropic\"\ncredential = \"header\"\ncredential_header = \"x-api-key\"\npassword_file = \"provider.key\"",
        )
        .grant("dev", "assistant")
        .grant("dev", "claude")
        .config(extra)
        .start()
        .expect("ward")
}

/// What the provider received: each request's body.
fn provider_saw(model: &HttpPeer) -> String {
    let out = Command::new("curl")
        .args(["-sS", &format!("{}/_peer/requests", model.url())])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The events of `user`'s ended sessions on `resource`, in order.
fn recorded(ward: &Ward, user: &str, resource: &str) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let sessions: Vec<Value> = ward
            .sessions()
            .into_iter()
            .filter(|s| s["user"] == user && s["resource"] == resource)
            .collect();
        let ended = !sessions.is_empty() && sessions.iter().all(|s| !s["outcome"].is_null());
        if ended || std::time::Instant::now() > deadline {
            return sessions
                .iter()
                .flat_map(|s| ward.events(s["id"].as_str().expect("id")))
                .collect();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn the_openai_sdk_through_ward_records_prompts_and_whole_answers_with_the_pasted_password_masked() {
    let model = HttpPeer::model(PROVIDER_KEY).expect("model peer");
    let ward = ward_for(&model, "");
    let token = ward.token("alice");
    let got = python_client(&ward, "openai", "assistant", &token);
    // The SDK got what the provider answered, through Ward.
    assert_eq!(got["tool_call"]["name"], "run_sql");
    let args: Value =
        serde_json::from_str(got["tool_call"]["arguments"].as_str().expect("args")).expect("json");
    assert_eq!(args["sql"], "ALTER TABLE orders ADD COLUMN note text;");
    assert!(got["usage"].as_u64().is_some_and(|n| n > 0));
    assert!(
        got["streamed"]
            .as_str()
            .is_some_and(|t| t.contains("SELECT count(*) FROM orders WHERE status = 'open';")),
        "{got}"
    );
    assert_eq!(got["responses"], "You said: hello from responses");
    // Without mask_upstream the provider got the prompt as the client sent it, with Ward's
    // key, not the Ward token.
    let seen = provider_saw(&model);
    assert!(seen.contains(PASTED_PASSWORD), "{seen}");
    assert!(
        seen.contains(PROVIDER_KEY) && !seen.contains(&token),
        "{seen}"
    );

    let events = recorded(&ward, "alice", "assistant");
    let all = serde_json::to_string(&events).expect("json");
    for secret in [PASTED_PASSWORD, PROVIDER_KEY, &token] {
        assert!(!all.contains(secret), "{secret} is in the record");
    }
    let prompts = of_kind(&events, "ai.prompt");
    assert_eq!(prompts.len(), 3, "{all}");
    let first = &prompts[0]["payload"];
    assert_eq!(
        (first["api"].as_str(), first["model"].as_str()),
        (Some("openai-chat"), Some("gpt-test"))
    );
    assert_eq!(first["tools"], serde_json::json!(["run_sql"]));
    assert_eq!(first["messages"][0]["role"], "system");
    let pasted = first["messages"][1]["text"].as_str().expect("text");
    assert!(
        pasted.starts_with("Our database is postgres://app:")
            && pasted.ends_with("plan the migration"),
        "{pasted}"
    );
    assert_eq!(prompts[1]["payload"]["stream"], true);
    assert_eq!(prompts[2]["payload"]["api"], "openai-responses");
    let completions = of_kind(&events, "ai.completion");
    assert_eq!(completions.len(), 3, "{all}");
    let proposed = &completions[0]["payload"];
    assert_eq!(proposed["tool_calls"][0]["name"], "run_sql");
    assert_eq!(proposed["finish_reason"], "tool_calls");
    assert!(proposed["input_tokens"].as_u64().is_some_and(|n| n > 0));
    // The streamed answer is recorded whole, as the client assembled it.
    assert_eq!(completions[1]["payload"]["text"], got["streamed"]);
    assert_eq!(completions[2]["payload"]["text"], got["responses"]);
    assert!(!of_kind(&events, "mask.applied").is_empty());
    success(&ward.cli(&["verify"]));
}

#[test]
fn the_anthropic_sdk_through_ward_with_prompts_masked_for_the_provider_and_secrets_refused() {
    let model = HttpPeer::model(PROVIDER_KEY).expect("model peer");
    let rules = "[[grants]]\ngroup = \"support\"\nresources = [\"claude\"]\nmask_upstream = true\n\n[[guardrails]]\nname = \"no-cloud-keys\"\nresources = [\"claude\"]\nsecrets = [\"aws_access_key\"]\n";
    let ward = ward_for(&model, rules);
    let token = ward.token("sam");
    let got = python_client(&ward, "anthropic", "claude", &token);
    assert_eq!(got["tool_use"][0]["name"], "run_sql", "{got}");
    assert_eq!(
        got["tool_use"][0]["input"]["sql"],
        "ALTER TABLE orders ADD COLUMN note text;"
    );
    // The guardrail refused the prompt with the key, as an error the SDK raised.
    assert_eq!(got["refused"]["status"], 403, "{got}");
    let message = got["refused"]["message"].as_str().expect("message");
    assert!(
        message.contains("no-cloud-keys") && message.contains("aws_access_key"),
        "{message}"
    );
    // mask_upstream: the provider never saw the pasted password, nor the refused key.
    let seen = provider_saw(&model);
    assert!(!seen.contains(PASTED_PASSWORD), "{seen}");
    assert!(!seen.contains("AKIAIOSFODNN7EXAMPLE"), "{seen}");
    assert!(seen.contains("Our database is postgres://app:"), "{seen}");
    // ... so the model's answer, which repeats the prompt, carries it masked too.
    assert!(
        !got["text"]
            .as_str()
            .unwrap_or_default()
            .contains(PASTED_PASSWORD),
        "{got}"
    );

    let events = recorded(&ward, "sam", "claude");
    let all = serde_json::to_string(&events).expect("json");
    assert!(
        !all.contains(PASTED_PASSWORD) && !all.contains("AKIAIOSFODNN7EXAMPLE"),
        "{all}"
    );
    let prompts = of_kind(&events, "ai.prompt");
    assert_eq!(prompts.len(), 2, "{all}");
    assert_eq!(prompts[0]["payload"]["masked_upstream"], true);
    assert_eq!(prompts[0]["payload"]["api"], "anthropic-messages");
    let denied = of_kind(&events, "policy.denied");
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["payload"]["rule"], "no-cloud-keys");
    assert_eq!(denied[0]["payload"]["reason"], "secret");
    let completions = of_kind(&events, "ai.completion");
    assert_eq!(
        completions.len(),
        1,
        "the refused prompt got no answer: {all}"
    );
    assert_eq!(completions[0]["payload"]["finish_reason"], "tool_use");
    assert_eq!(
        completions[0]["payload"]["tool_calls"][0]["name"],
        "run_sql"
    );
}

/// A person who asks the assistant and then runs in psql what it proposed: the servers, and
/// the Ward (built with `more`) that recorded it all, its sessions ended.
pub(crate) struct Scene {
    pub _pg: ward_testkit::Postgres,
    pub _model: HttpPeer,
    pub ward: Ward,
}

/// alice asks the assistant (the official OpenAI SDK) about a migration; it proposes an ALTER
/// (a tool call) and a SELECT (a code block), which she then runs in psql, typed her own way,
/// with one statement of her own.
pub(crate) fn proposed_then_ran(
    more: impl FnOnce(ward_testkit::WardBuilder) -> ward_testkit::WardBuilder,
) -> Scene {
    use ward_testkit::{ClusterOptions, Postgres, psql};
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql("CREATE TABLE orders (id int, status text); ALTER TABLE orders OWNER TO app")
        .expect("table");
    let model = HttpPeer::model(PROVIDER_KEY).expect("model peer");
    let builder = Ward::builder(crate::WARD)
        .http()
        .postgres_resource("shop", &pg)
        .file("provider.key", PROVIDER_KEY)
        .http_resource(
            "assistant",
            &model.url(),
            "api = \"openai\"\ncredential = \"bearer\"\npassword_file = \"provider.key\"",
        )
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .grant("dev", "assistant");
    let ward = more(builder).start().expect("ward");
    let token = ward.token("alice");
    let got = python_client(&ward, "openai", "assistant", &token);
    assert_eq!(got["tool_call"]["name"], "run_sql");
    let out = psql(
        &ward.url("alice", "shop"),
        &[
            "-c",
            "select COUNT(*) from orders\n  where status = 'open'",
            "-c",
            "ALTER TABLE orders ADD COLUMN note text",
            "-c",
            "SELECT 42",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = recorded(&ward, "alice", "assistant");
    let _ = recorded(&ward, "alice", "shop");
    Scene {
        _pg: pg,
        _model: model,
        ward,
    }
}

#[test]
fn a_statement_run_in_psql_is_linked_to_the_assistants_proposal_on_the_persons_timeline() {
    let Scene { mut ward, .. } = proposed_then_ran(|b| b);
    let json = success(&ward.cli(&["activity", "alice", "--since", "1h", "--json"]));
    let items: Vec<Value> = serde_json::from_str(&json).expect("json");
    let kinds: Vec<&str> = items.iter().filter_map(|i| i["kind"].as_str()).collect();
    let first_query = kinds
        .iter()
        .position(|k| *k == "db.query")
        .expect("a query");
    let last_answer = kinds
        .iter()
        .rposition(|k| *k == "ai.completion")
        .expect("an answer");
    assert!(last_answer < first_query, "in time order: {kinds:?}");
    let queries: Vec<&Value> = items.iter().filter(|i| i["kind"] == "db.query").collect();
    let linked: Vec<(&str, Option<&str>)> = queries
        .iter()
        .map(|q| {
            (
                q["summary"].as_str().unwrap_or(""),
                q["proposed_by"]["text"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        linked,
        [
            (
                "select COUNT(*) from orders where status = 'open'",
                Some("SELECT count(*) FROM orders WHERE status = 'open';")
            ),
            (
                "ALTER TABLE orders ADD COLUMN note text",
                Some("ALTER TABLE orders ADD COLUMN note text;")
            ),
            ("SELECT 42", None),
        ]
    );
    let by = &queries[1]["proposed_by"];
    assert_eq!(by["resource"], "assistant");
    let answer = items
        .iter()
        .find(|i| i["session"] == by["session"] && i["seq"] == by["seq"])
        .expect("the proposing answer is on the timeline");
    assert_eq!(answer["kind"], "ai.completion");
    // The text form says where each statement was proposed.
    let text = success(&ward.cli(&["activity", "alice"]));
    assert!(text.contains("↳ proposed at "), "{text}");
    assert!(
        text.contains("asked gpt-test: Our database is postgres://app:"),
        "{text}"
    );
    assert!(!text.contains(PASTED_PASSWORD), "{text}");

    // The whole timeline leaves as one bundle per session, each verifiable offline.
    ward.stop();
    let dir = ward.dir.join("alice-timeline");
    let dir_arg = dir.to_str().expect("path");
    success(&ward.cli(&[
        "export", "--user", "alice", "--since", "1h", "--out", dir_arg,
    ]));
    let exported: Value =
        serde_json::from_slice(&std::fs::read(dir.join("timeline.json")).expect("timeline"))
            .expect("json");
    assert_eq!(exported["format"], "ward.timeline.v1");
    assert_eq!(
        exported["items"].as_array().map(Vec::len),
        Some(items.len())
    );
    let keys: Value =
        serde_json::from_str(&success(&ward.cli(&["keys", "show", "--json"]))).expect("keys");
    let key = keys["public_key"].as_str().expect("key");
    let mut resources = Vec::new();
    for id in exported["sessions"].as_array().expect("sessions") {
        let bundle = dir.join(format!("{}.json", id.as_str().expect("id")));
        let parsed: Value =
            serde_json::from_slice(&std::fs::read(&bundle).expect("bundle")).expect("json");
        resources.push(
            parsed["session"]["resource"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
        success(&ward.cli(&[
            "verify",
            "--bundle",
            bundle.to_str().expect("path"),
            "--key",
            key,
        ]));
    }
    resources.sort_unstable();
    resources.dedup();
    assert_eq!(resources, ["assistant", "shop"]);
}
