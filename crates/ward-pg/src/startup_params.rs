//! Which startup parameters a client may pass to the upstream server.
//!
//! A startup parameter is a setting the server applies before the first statement, outside
//! anything a guardrail sees: `options=-c role=admin` switches the role Ward logged in as,
//! `-c search_path=…` changes what every unqualified name means, and
//! `-c standard_conforming_strings=off` changes how string literals lex. So only the settings
//! clients routinely send pass ([`ALLOWED`]), plus those the grant lists; anything else is
//! refused with a FATAL that names it. Every parameter is recorded in `session.start`.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

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
) -> Result<Vec<(&'a str, &'a str)>, Refused> {
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
                for setting in options(value)? {
                    if !allowed(&setting) {
                        return Err(Refused::Setting(setting));
                    }
                }
            }
            n if !allowed(n) => return Err(Refused::Parameter(n.to_owned())),
            _ => {}
        }
        pass.push((name.as_str(), value.as_str()));
    }
    Ok(pass)
}

/// The setting names in an `options` value, as the server parses it: words split on
/// whitespace (a backslash escapes the next character), each `-c name=value`, `-cname=value`
/// or `--name=value`. Any other switch is refused.
fn options(value: &str) -> Result<Vec<String>, Refused> {
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
    let mut names = Vec::new();
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        let setting = if word == "-c" {
            words.next().ok_or_else(|| Refused::Switch(word.clone()))?
        } else if let Some(rest) = word.strip_prefix("--").or_else(|| word.strip_prefix("-c")) {
            rest.to_owned()
        } else {
            return Err(Refused::Switch(word));
        };
        let name = setting.split_once('=').map_or(setting.as_str(), |(n, _)| n);
        // PostgreSQL reads `-c a-b=…` as `a_b`.
        names.push(name.replace('-', "_"));
    }
    Ok(names)
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
