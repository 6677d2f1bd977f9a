//! Which startup parameters a client may pass to the upstream server.
//!
//! A startup parameter is a setting the server applies before the first statement, outside
//! anything a guardrail sees: `options=-c role=admin` switches the role Ward logged in as,
//! `-c search_path=…` changes what every unqualified name means, and
//! `-c standard_conforming_strings=off` changes how string literals lex. So only the settings
//! clients routinely send pass ([`ALLOWED`]), plus those the grant lists; anything else is
//! refused with a FATAL that names it. Every parameter is recorded in `session.start`.
//!
//! The reason a person gives for an access travels the same way, as a setting of Ward's own
//! that never reaches the server: `PGOPTIONS='-c ward.reason=TICKET-123'` ([`reason`]).

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

use std::borrow::Cow;

/// The setting in `options` that carries the reason for an access.
pub const REASON: &str = "ward.reason";

/// Settings any client may send (names compare case-insensitively, as PostgreSQL's do): what
/// libpq, JDBC, asyncpg, psycopg and tokio-postgres send on their own.
pub const ALLOWED: &[&str] = &[
    "application_name",
    "client_encoding",
    "datestyle",
    "timezone",
    "intervalstyle",
    "extra_float_digits",
    "lc_monetary",
    "lc_numeric",
    "lc_time",
];

/// Why a startup packet is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(
        "startup parameter \"{0}\" is not allowed through Ward (allowed: {allowed}; a grant's startup_parameters can allow more)",
        allowed = ALLOWED.join(", ")
    )]
    Parameter(String),
    #[error(
        "setting \"{0}\" in the startup options is not allowed through Ward (allowed: {allowed}; a grant's startup_parameters can allow more)",
        allowed = ALLOWED.join(", ")
    )]
    Setting(String),
    #[error(
        "startup option \"{0}\" is not supported through Ward: only -c name=value and --name=value"
    )]
    Switch(String),
    #[error("replication connections are not supported through Ward")]
    Replication,
}

/// Checks a client's startup parameters against [`ALLOWED`] and `extra` (a grant's list).
/// Returns those to send upstream: every one but `user` and `database` (Ward picks those) and
/// protocol extensions (`_pq_.*`, negotiated with the client), or the first one refused.
pub fn check<'a>(
    params: &'a [(String, String)],
    extra: &[String],
) -> Result<Vec<(&'a str, Cow<'a, str>)>, Refused> {
    let allowed = |name: &str| {
        ALLOWED.iter().any(|a| a.eq_ignore_ascii_case(name))
            || extra.iter().any(|a| a.eq_ignore_ascii_case(name))
    };
    let mut pass = Vec::new();
    for (name, value) in params {
        match name.as_str() {
            "user" | "database" => continue,
            n if n.starts_with("_pq_.") => continue,
            "replication" => return Err(Refused::Replication),
            "options" => {
                let settings = options(value)?;
                let mut kept = Vec::new();
                for setting in &settings {
                    if setting.name == REASON {
                        continue;
                    }
                    if !allowed(&setting.name) {
                        return Err(Refused::Setting(setting.name.clone()));
                    }
                    kept.extend(setting.words.iter().map(|w| escape(w)));
                }
                // Without Ward's own setting, the rest goes as the client wrote it.
                if kept.len() < settings.iter().map(|s| s.words.len()).sum() {
                    if !kept.is_empty() {
                        pass.push((name.as_str(), Cow::Owned(kept.join(" "))));
                    }
                    continue;
                }
            }
            n if !allowed(n) => return Err(Refused::Parameter(n.to_owned())),
            _ => {}
        }
        pass.push((name.as_str(), Cow::Borrowed(value.as_str())));
    }
    Ok(pass)
}

/// The `options` words that give `reason` (`-c ward.reason=…`, escaped as the server reads it).
pub fn reason_option(reason: &str) -> String {
    format!("-c {}", escape(&format!("{REASON}={reason}")))
}

/// The reason the client gave for this access (`-c ward.reason=…` in `options`), if any.
pub fn reason(params: &[(String, String)]) -> Option<String> {
    let (_, value) = params.iter().find(|(name, _)| name == "options")?;
    let settings = options(value).ok()?;
    let reason = settings.into_iter().find(|s| s.name == REASON)?;
    Some(reason.value)
}

/// A word of `options` as the server reads it back: backslashes and whitespace escaped.
fn escape(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if c == '\\' || c.is_ascii_whitespace() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One setting of an `options` value.
struct Setting {
    /// As PostgreSQL names it (`-c a-b=…` is `a_b`).
    name: String,
    value: String,
    /// The words it was given as (`-c`, `name=value`).
    words: Vec<String>,
}

/// The settings in an `options` value, as the server parses it: words split on whitespace (a
/// backslash escapes the next character), each `-c name=value`, `-cname=value` or
/// `--name=value`. Any other switch is refused.
fn options(value: &str) -> Result<Vec<Setting>, Refused> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => word.extend(chars.next()),
            c if c.is_ascii_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut settings = Vec::new();
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        let (setting, words) = if word == "-c" {
            let setting = words.next().ok_or_else(|| Refused::Switch(word.clone()))?;
            (setting.clone(), vec![word, setting])
        } else if let Some(rest) = word.strip_prefix("--").or_else(|| word.strip_prefix("-c")) {
            (rest.to_owned(), vec![word])
        } else {
            return Err(Refused::Switch(word));
        };
        let (name, value) = setting.split_once('=').unwrap_or((setting.as_str(), ""));
        settings.push(Setting {
            // PostgreSQL reads `-c a-b=…` as `a_b`.
            name: name.replace('-', "_"),
            value: value.to_owned(),
            words,
        });
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn what_clients_send_passes_and_ward_picks_user_and_database() {
        let p = params(&[
            ("user", "alice"),
            ("database", "shop"),
            ("application_name", "psql"),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO, MDY"),
            ("TimeZone", "UTC"),
            ("extra_float_digits", "3"),
            ("_pq_.compression", "on"),
            ("options", "-c intervalstyle=iso_8601 --timezone=UTC"),
        ]);
        let passed = check(&p, &[]).expect("allowed");
        assert_eq!(
            passed.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            [
                "application_name",
                "client_encoding",
                "DateStyle",
                "TimeZone",
                "extra_float_digits",
                "options"
            ]
        );
    }

    #[test]
    fn role_search_path_and_string_lexing_are_refused_by_name() {
        for (options, setting) in [
            ("-c role=postgres", "role"),
            ("-csearch_path=evil", "search_path"),
            (
                "--standard-conforming-strings=off",
                "standard_conforming_strings",
            ),
            (
                "-c application_name=x -c session_authorization=postgres",
                "session_authorization",
            ),
            ("-c\\ role=x", " role"),
        ] {
            let p = params(&[("options", options)]);
            assert_eq!(
                check(&p, &[]),
                Err(Refused::Setting(setting.to_owned())),
                "{options}"
            );
        }
        let p = params(&[("search_path", "evil")]);
        assert_eq!(
            check(&p, &[]),
            Err(Refused::Parameter("search_path".into()))
        );
        assert_eq!(
            check(&params(&[("options", "-d 5")]), &[]),
            Err(Refused::Switch("-d".into()))
        );
        assert_eq!(
            check(&params(&[("options", "-c")]), &[]),
            Err(Refused::Switch("-c".into()))
        );
        assert_eq!(
            check(&params(&[("replication", "database")]), &[]),
            Err(Refused::Replication)
        );
    }

    #[test]
    fn the_reason_is_wards_own_and_never_reaches_the_server() {
        let p = params(&[(
            "options",
            "-c intervalstyle=iso_8601 -c ward.reason=INC-42:\\ fix\\ \\\\data",
        )]);
        assert_eq!(reason(&p).as_deref(), Some("INC-42: fix \\data"));
        let passed = check(&p, &[]).expect("allowed");
        assert_eq!(
            passed,
            [("options", Cow::from("-c intervalstyle=iso_8601"))]
        );
        let p = params(&[
            ("options", "--ward.reason=INC-42"),
            ("application_name", "psql"),
        ]);
        assert_eq!(reason(&p).as_deref(), Some("INC-42"));
        assert_eq!(
            check(&p, &[]).expect("allowed"),
            [("application_name", Cow::from("psql"))]
        );
        // A kept setting with a space in it is escaped again.
        let p = params(&[("options", "-c application_name=a\\ b -cward.reason=x")]);
        assert_eq!(
            check(&p, &[]).expect("allowed"),
            [("options", Cow::from("-c application_name=a\\ b"))]
        );
        assert_eq!(reason(&params(&[("options", "-c timezone=UTC")])), None);
        let given = reason_option("INC-7: fix\\it now");
        assert_eq!(
            reason(&params(&[("options", &given)])).as_deref(),
            Some("INC-7: fix\\it now")
        );
    }

    #[test]
    fn a_grant_can_allow_more() {
        let extra = vec!["search_path".to_owned(), "statement_timeout".to_owned()];
        let p = params(&[
            ("search_path", "app"),
            ("options", "-c statement_timeout=5s"),
        ]);
        assert_eq!(check(&p, &extra).map(|v| v.len()), Ok(2));
        let p = params(&[("options", "-c role=postgres")]);
        assert!(check(&p, &extra).is_err());
    }
}
