//! Errors, notices and NOTIFY payloads: masked in the record always, and on their way to the
//! client when the grant says `mask_client`, with its profile; real psql shows what a user sees.

use ward_testkit::{ClusterOptions, Postgres, Ward, psql, success};

use crate::WARD;

const CARD: &str = "4111 1111 1111 1111";
const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const GITHUB: &str = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
const EMAIL: &str = "ada@example.com";

/// A notice with a secret in its message, detail and hint.
const NOTICE: &str = "DO $$ BEGIN RAISE NOTICE 'card %', '4111 1111 1111 1111' \
     USING DETAIL = 'key AKIAIOSFODNN7EXAMPLE', HINT = 'ask ada@example.com'; END $$";
/// An error inside PL/pgSQL: the value is in the message, the internal query and the context.
const PERFORM: &str = "DO $$ BEGIN PERFORM '4111 1111 1111 1111'::int; END $$";

/// `support` sees everything masked, `sales` only cards (its client profile), `dev` the data.
fn gateway(pg: &Postgres) -> Ward {
    Ward::builder(WARD)
        .postgres_resource("shop", pg)
        .user("sam", &["support"])
        .user("sal", &["sales"])
        .user("dev", &["dev"])
        .config(
            "[[grants]]\ngroup = \"support\"\nresources = [\"shop\"]\nmask_client = true\n\n\
             [[grants]]\ngroup = \"sales\"\nresources = [\"shop\"]\nmask_client = true\n\
             client_profile = \"cards\"\n\n\
             [[grants]]\ngroup = \"dev\"\nresources = [\"shop\"]\n\n\
             [masking.profiles.cards]\nrules = [\"card\"]\n",
        )
        .start()
        .expect("ward")
}

/// psql's standard output and standard error, together.
fn output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What one user's psql printed for each statement.
struct Shown {
    notice: String,
    error: String,
    direct: String,
    notified: String,
    copy: String,
}

fn run_all(ward: &Ward, user: &str) -> Shown {
    let url = ward.url(user, "shop");
    let notice = psql(&url, &["-c", NOTICE]);
    success(&notice);
    Shown {
        notice: output(&notice),
        error: output(&psql(&url, &["-c", PERFORM])),
        // Terse: psql would otherwise echo the statement the user typed, which is theirs.
        direct: output(&psql(
            &url,
            &[
                "-v",
                "VERBOSITY=terse",
                "-c",
                &format!("SELECT '{CARD}'::int"),
            ],
        )),
        notified: success(&psql(
            &url,
            &[
                "-c",
                "LISTEN tokens",
                "-c",
                &format!("NOTIFY tokens, 'token {GITHUB} for card {CARD}'"),
            ],
        )),
        // Rows go out, then an error: the COPY stream is flushed and the error masked too.
        copy: output(&psql(&url, &["-v", "VERBOSITY=terse", "-c", COPY_FAILS])),
    }
}

/// Two rows of COPY data, then an error whose message holds the card.
const COPY_FAILS: &str = "\\copy (SELECT CASE WHEN i < 3 THEN 'row ' || i ELSE \
     ('4111 1111 1111 1111' || repeat('', i))::int::text END FROM generate_series(1, 5) i) TO STDOUT";

#[test]
fn notices_errors_and_notifications_reach_mask_client_clients_masked() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = gateway(&pg);

    // support: the default profile masks every text field and the payload.
    let sam = run_all(&ward, "sam");
    assert!(
        sam.notice.contains(
            "NOTICE:  card [REDACTED:card]\nDETAIL:  key [REDACTED:aws_access_key]\nHINT:  ask [REDACTED:email]\n"
        ),
        "{}",
        sam.notice
    );
    assert!(
        sam.error
            .contains("ERROR:  invalid input syntax for type integer: \"[REDACTED:card]\"\n")
            && sam
                .error
                .contains("QUERY:  SELECT '[REDACTED:card]'::int\n")
            && sam
                .error
                .contains("CONTEXT:  PL/pgSQL function inline_code_block line 1 at PERFORM"),
        "{}",
        sam.error
    );
    assert!(
        sam.direct.contains(
            "ERROR:  invalid input syntax for type integer: \"[REDACTED:card]\" at character 8"
        ),
        "{}",
        sam.direct
    );
    assert!(
        sam.notified.contains(
            "Asynchronous notification \"tokens\" with payload \"token [REDACTED:github_token] for card [REDACTED:card]\" received"
        ),
        "{}",
        sam.notified
    );
    assert!(
        sam.copy.starts_with("row 1\nrow 2\n")
            && sam
                .copy
                .contains("ERROR:  invalid input syntax for type integer: \"[REDACTED:card]\""),
        "{}",
        sam.copy
    );
    let all = [
        &sam.notice,
        &sam.error,
        &sam.direct,
        &sam.notified,
        &sam.copy,
    ];
    for secret in [CARD, AWS_KEY, GITHUB, EMAIL] {
        assert!(
            all.iter().all(|o| !o.contains(secret)),
            "{secret} reached a mask_client client: {all:?}"
        );
    }

    // sales: its `cards` client profile masks cards only.
    let sal = run_all(&ward, "sal");
    assert!(
        sal.notice.contains(&format!(
            "NOTICE:  card [REDACTED:card]\nDETAIL:  key {AWS_KEY}\nHINT:  ask {EMAIL}\n"
        )),
        "{}",
        sal.notice
    );
    assert!(
        sal.notified.contains(&format!(
            "with payload \"token {GITHUB} for card [REDACTED:card]\" received"
        )),
        "{}",
        sal.notified
    );
    assert!(!sal.error.contains(CARD), "{}", sal.error);

    // dev: no mask_client, the messages as the server sent them.
    let dev = run_all(&ward, "dev");
    assert!(
        dev.notice.contains(&format!(
            "NOTICE:  card {CARD}\nDETAIL:  key {AWS_KEY}\nHINT:  ask {EMAIL}\n"
        )),
        "{}",
        dev.notice
    );
    assert!(
        dev.error
            .contains(&format!("QUERY:  SELECT '{CARD}'::int\n")),
        "{}",
        dev.error
    );
    assert!(
        dev.direct.contains(&format!(
            "ERROR:  invalid input syntax for type integer: \"{CARD}\" at character 8"
        )),
        "{}",
        dev.direct
    );
    assert!(
        dev.notified.contains(&format!(
            "with payload \"token {GITHUB} for card {CARD}\" received"
        )),
        "{}",
        dev.notified
    );
    assert!(
        dev.copy.starts_with("row 1\nrow 2\n") && dev.copy.contains(CARD),
        "{}",
        dev.copy
    );

    // The record is masked for everyone, whatever their client saw.
    let sessions = ward.wait_sessions(15);
    assert_eq!(sessions.len(), 15);
    let events: Vec<serde_json::Value> = sessions
        .iter()
        .flat_map(|s| ward.events(s["id"].as_str().expect("id")))
        .collect();
    let dump = serde_json::to_string(&events).expect("json");
    for secret in [CARD, AWS_KEY, GITHUB, EMAIL] {
        assert!(!dump.contains(secret), "{secret} is in the record");
    }
    let payloads = |kind: &str| -> Vec<serde_json::Value> {
        events
            .iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| e["payload"].clone())
            .collect()
    };
    let notices = payloads("db.notice");
    assert_eq!(notices.len(), 3);
    assert!(
        notices
            .iter()
            .all(|n| n["message"] == "card [REDACTED:card]"
                && n["detail"] == "key [REDACTED:aws_access_key]"
                && n["hint"] == "ask [REDACTED:email]")
    );
    let notifications = payloads("db.notification");
    assert_eq!(notifications.len(), 3);
    assert!(notifications.iter().all(|n| n["channel"] == "tokens"
        && n["payload"] == "token [REDACTED:github_token] for card [REDACTED:card]"));
    let errors = payloads("db.error");
    assert_eq!(errors.len(), 9);
    assert!(
        errors
            .iter()
            .all(|e| e["message"] == "invalid input syntax for type integer: \"[REDACTED:card]\"")
    );
    assert!(ward.cli(&["verify"]).status.success());
}
