//! Grants: who (a group or one user) may reach which resources, as which upstream role, until
//! when and in which daily window; and how the grant for a connection is chosen.

use std::path::PathBuf;

use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, Weekday};

use super::{ConfigDuration, Resource, Secret};

/// Gives a group's members, or one user, access to `resources`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// The members of this group are granted (exactly one of `group` and `user`).
    pub group: Option<String>,
    /// This user (the identity's subject) is granted.
    pub user: Option<String>,
    pub resources: Vec<String>,
    /// The role Ward logs in as upstream for this grant; the resource's `user` when absent.
    pub upstream_user: Option<String>,
    /// Name of an environment variable holding `upstream_user`'s password.
    pub password_env: Option<String>,
    /// File holding `upstream_user`'s password (trailing newline ignored).
    pub password_file: Option<PathBuf>,
    /// The grant stops working at this instant (RFC 3339, for example `2026-12-31T18:00:00Z`).
    pub expires_at: Option<String>,
    /// Daily window in UTC, `HH:MM-HH:MM` (start inclusive, end exclusive); an end before the
    /// start crosses midnight.
    pub hours: Option<String>,
    /// Days of the week (UTC) the grant works on: `mon` … `sun`.
    pub days: Option<Vec<String>>,
    /// Mask what these clients receive too (rows, COPY data, errors, notices, notifications),
    /// not only the record.
    #[serde(default)]
    pub mask_client: bool,
    /// The masking profile for these clients when `mask_client` is on; the resource's
    /// `masking_profile` when absent.
    pub client_profile: Option<String>,
    /// AI model resources (`api`): mask what the client sends in its prompts before the
    /// provider sees it, with the resource's profile (as the record is masked).
    #[serde(default)]
    pub mask_upstream: bool,
    /// SSH: let these clients forward local ports (`ssh -L`, `-W`) through the host; every
    /// forwarded connection is recorded. Refused when false.
    #[serde(default)]
    pub ssh_forwarding: bool,
    /// SSH: environment variables these clients may pass (`SendEnv`); a name ending in `*` is
    /// a prefix. Others are refused.
    #[serde(default)]
    pub ssh_env: Vec<String>,
    /// PostgreSQL: startup parameters (and `-c` settings in `options`) these clients may send
    /// beyond the ones every client may (application_name, client_encoding, DateStyle,
    /// TimeZone, IntervalStyle, extra_float_digits, lc_monetary, lc_numeric, lc_time), for
    /// example `["search_path", "statement_timeout"]`. Others are refused.
    #[serde(default)]
    pub startup_parameters: Vec<String>,
    /// PostgreSQL: allow fast-path function calls (libpq's large-object API: psql's
    /// `\lo_export`, `\lo_import`). Each is recorded; guardrails can deny the kind
    /// `function_call`. Always refused under `mask_client`, since what a call returns cannot be
    /// masked for the client reliably.
    #[serde(default = "yes")]
    pub fast_path: bool,
    /// MySQL: allow `LOAD DATA LOCAL INFILE`, which sends a file from the client's machine to
    /// the server; its contents are recorded (masked, capped) as `db.copy`. Refused when false
    /// (the default).
    #[serde(default)]
    pub local_infile: bool,
    /// Each access needs a reason (a ticket reference, free text) from the client: PostgreSQL
    /// `-c ward.reason=…` in its options, SSH `user:resource:reason`, MCP a `reason` argument.
    /// It is recorded (masked) in `session.start` and `policy.decision`, and searchable.
    #[serde(default)]
    pub require_reason: bool,
    /// Each access needs an access request (`ward request`) approved by members of
    /// `approvers`: the grant works for its requester only within an approved request's window,
    /// and the sessions it let in end when the window does.
    #[serde(default)]
    pub requires_approval: bool,
    /// The groups whose members approve or deny requests for this grant; nobody approves their
    /// own.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// How many approvers must approve a request (default 1); one denial ends it.
    #[serde(default = "one")]
    pub approvals: u32,
    /// The longest window a request may ask for (default `1h`).
    pub max_duration: Option<ConfigDuration>,
    /// Resolved at load time from the fields above.
    #[serde(skip)]
    pub(super) valid: Validity,
    /// `upstream_user`'s password, resolved at load time.
    #[serde(skip)]
    pub password: Option<Secret>,
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

/// How long an approved request lasts when a grant does not say (`max_duration`).
pub const DEFAULT_MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(3600);

/// When a grant works, parsed from `expires_at`, `hours` and `days`.
#[derive(Debug, Clone, Default)]
pub(super) struct Validity {
    pub(super) expires: Option<OffsetDateTime>,
    /// Minutes since midnight UTC: start (inclusive), end (exclusive).
    pub(super) hours: Option<(u16, u16)>,
    pub(super) days: Option<Vec<Weekday>>,
}

/// Who a grant is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grantee<'a> {
    User(&'a str),
    Group(&'a str),
}

impl Grantee<'_> {
    /// `user alice` or `group dev`, for messages.
    pub fn describe(&self) -> String {
        match self {
            Grantee::User(u) => format!("user {u}"),
            Grantee::Group(g) => format!("group {g}"),
        }
    }
}

/// The outcome of looking for the grant of a connection.
#[derive(Debug)]
pub enum GrantDecision<'a> {
    /// `grant` (index `index` in `[[grants]]`) lets the connection in.
    Allowed { index: usize, grant: &'a Grant },
    /// Grants exist but none works now; `index` and `grant` are the first in the order of
    /// choice, `reason` says why it does not work.
    Refused {
        index: usize,
        grant: &'a Grant,
        reason: Refusal,
    },
    /// No grant names this identity and resource.
    NoGrant,
}

/// Why a grant does not work now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Expired {
        at: String,
    },
    OutsideWindow {
        window: String,
        now: String,
    },
    /// The grant has `requires_approval` and the identity holds no approved request now.
    ApprovalRequired {
        approvers: Vec<String>,
    },
}

impl Refusal {
    /// A short machine-readable reason for the record.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Expired { .. } => "grant expired",
            Refusal::OutsideWindow { .. } => "outside grant window",
            Refusal::ApprovalRequired { .. } => "approval required",
        }
    }

    /// What a user reads.
    pub fn explain(&self) -> String {
        match self {
            Refusal::Expired { at } => format!("expired at {at}"),
            Refusal::OutsideWindow { window, now } => {
                format!("is valid only {window}, and it is now {now}")
            }
            Refusal::ApprovalRequired { approvers } => format!(
                "needs an approved access request (approvers: group {})",
                approvers.join(", group ")
            ),
        }
    }

    /// What the user can do about it, for `resource`.
    pub fn advice(&self, resource: &str) -> String {
        match self {
            Refusal::ApprovalRequired { .. } => {
                format!("ask for access with `ward request {resource} --reason ... --for 1h`")
            }
            _ => "ask an administrator for access".to_owned(),
        }
    }
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

fn day_name(d: Weekday) -> &'static str {
    DAYS.iter()
        .find(|(_, w)| *w == d)
        .map_or("?", |(name, _)| name)
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl Grant {
    pub fn grantee(&self) -> Grantee<'_> {
        match (&self.user, &self.group) {
            (Some(u), _) => Grantee::User(u),
            (None, Some(g)) => Grantee::Group(g),
            // Validation guarantees exactly one; an empty group matches nobody.
            (None, None) => Grantee::Group(""),
        }
    }

    /// Whether this grant names `subject` or one of `groups`.
    pub fn names(&self, subject: &str, groups: &[String]) -> bool {
        match self.grantee() {
            Grantee::User(u) => u == subject,
            Grantee::Group(g) => !g.is_empty() && groups.iter().any(|x| x == g),
        }
    }

    /// The role Ward logs in as upstream: `upstream_user`, else the resource's `user`.
    pub fn upstream_user<'a>(&'a self, resource: &'a Resource) -> &'a str {
        self.upstream_user.as_deref().unwrap_or(&resource.user)
    }

    /// The password for [`Grant::upstream_user`].
    pub fn upstream_password<'a>(&'a self, resource: &'a Resource) -> Option<&'a Secret> {
        if self.upstream_user.is_some() {
            self.password.as_ref()
        } else {
            resource.password.as_ref()
        }
    }

    /// Whether these clients may set environment variable `name` on an SSH host.
    pub fn allows_env(&self, name: &str) -> bool {
        self.ssh_env.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => p == name,
        })
    }

    /// The name of the masking profile for what this grant's clients receive from `resource`
    /// when `mask_client` is on: `client_profile`, else the resource's profile.
    pub fn client_profile_for<'a>(&'a self, resource: &'a Resource) -> &'a str {
        self.client_profile
            .as_deref()
            .unwrap_or_else(|| resource.record_profile())
    }

    /// The longest window a request for this grant may ask for.
    pub fn max_duration(&self) -> std::time::Duration {
        self.max_duration.map_or(DEFAULT_MAX_DURATION, |d| d.0)
    }

    /// Why the grant does not work at `now` for an identity that holds an approved request
    /// for the resource (`approved`) or not, if it does not.
    pub fn refusal(&self, now: OffsetDateTime, approved: bool) -> Option<Refusal> {
        let refusal = self.refusal_at(now);
        if refusal.is_none() && self.requires_approval && !approved {
            return Some(Refusal::ApprovalRequired {
                approvers: self.approvers.clone(),
            });
        }
        refusal
    }

    fn refusal_at(&self, now: OffsetDateTime) -> Option<Refusal> {
        let v = &self.valid;
        if let Some(expires) = v.expires
            && now >= expires
        {
            return Some(Refusal::Expired {
                at: self.expires_at.clone().unwrap_or_default(),
            });
        }
        let now = now.to_offset(time::UtcOffset::UTC);
        let minute = u16::from(now.hour()) * 60 + u16::from(now.minute());
        let in_hours = v.hours.is_none_or(|(start, end)| {
            if start < end {
                (start..end).contains(&minute)
            } else {
                minute >= start || minute < end
            }
        });
        let on_day = v
            .days
            .as_ref()
            .is_none_or(|days| days.contains(&now.weekday()));
        if in_hours && on_day {
            return None;
        }
        let mut window = Vec::new();
        if let Some((start, end)) = v.hours {
            window.push(format!("{}-{} UTC", hhmm(start), hhmm(end)));
        }
        if let Some(days) = &v.days {
            let names: Vec<&str> = days.iter().map(|d| day_name(*d)).collect();
            window.push(format!("on {}", names.join(", ")));
        }
        Some(Refusal::OutsideWindow {
            window: window.join(" "),
            now: format!("{} UTC on {}", hhmm(minute), day_name(now.weekday())),
        })
    }

    /// Parses `expires_at`, `hours` and `days`; the error names the key and the problem.
    pub(super) fn parse_validity(&mut self) -> Result<(), (&'static str, String)> {
        if let Some(text) = &self.expires_at {
            let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
                (
                    "expires_at",
                    format!("`{text}` is not an RFC 3339 time (like 2026-12-31T18:00:00Z): {e}"),
                )
            })?;
            self.valid.expires = Some(at);
        }
        if let Some(text) = &self.hours {
            let bad = || {
                (
                    "hours",
                    format!("`{text}` is not a window like \"08:00-18:00\" (UTC)"),
                )
            };
            let (a, b) = text.split_once('-').ok_or_else(bad)?;
            let (start, end) = (
                parse_hhmm(a).ok_or_else(bad)?,
                parse_hhmm(b).ok_or_else(bad)?,
            );
            if start == end {
                return Err(("hours", format!("`{text}` is an empty window")));
            }
            self.valid.hours = Some((start, end));
        }
        if let Some(days) = &self.days {
            if days.is_empty() {
                return Err(("days", "must name at least one day".to_owned()));
            }
            let mut parsed = Vec::new();
            for d in days {
                let day = DAYS
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(d))
                    .map(|(_, w)| *w)
                    .ok_or_else(|| {
                        (
                            "days",
                            format!("`{d}` is not a day: use mon, tue, wed, thu, fri, sat, sun"),
                        )
                    })?;
                parsed.push(day);
            }
            self.valid.days = Some(parsed);
        }
        Ok(())
    }
}

impl super::Config {
    /// Checks a grant's approval settings: approvers when it needs approval, none of them
    /// when it does not.
    pub(super) fn validate_approval(
        &self,
        g: &Grant,
        key: &dyn Fn(&str) -> String,
    ) -> Result<(), super::ConfigError> {
        if g.requires_approval {
            if g.approvers.is_empty() || g.approvers.iter().any(String::is_empty) {
                return Err(self.invalid(
                    key("approvers"),
                    "`requires_approval` needs the groups that approve, like `approvers = [\"dba\"]`",
                ));
            }
            if g.approvals == 0 {
                return Err(self.invalid(key("approvals"), "must be at least 1"));
            }
            if g.max_duration.is_some_and(|d| d.0.is_zero()) {
                return Err(self.invalid(key("max_duration"), "must be longer than zero"));
            }
            return Ok(());
        }
        let stray = [
            ("approvers", !g.approvers.is_empty()),
            ("approvals", g.approvals != 1),
            ("max_duration", g.max_duration.is_some()),
        ];
        match stray.iter().find(|(_, set)| *set) {
            Some((field, _)) => Err(self.invalid(
                key(field),
                "has no effect without `requires_approval = true`",
            )),
            None => Ok(()),
        }
    }
}

/// The grants naming `subject` (member of `groups`) and `resource`, in the order of choice:
/// grants to the user before grants to a group, each in config order.
pub fn candidates<'a: 'b, 'b>(
    grants: &'a [Grant],
    subject: &'b str,
    groups: &'b [String],
    resource: &'b str,
) -> impl Iterator<Item = (usize, &'a Grant)> + 'b {
    let matching = move |user_grants: bool| {
        grants.iter().enumerate().filter(move |(_, g)| {
            matches!(g.grantee(), Grantee::User(_)) == user_grants
                && g.names(subject, groups)
                && g.resources.iter().any(|r| r == resource)
        })
    };
    matching(true).chain(matching(false))
}

/// Chooses the grant for `subject` (member of `groups`) on `resource` at `now`, when the
/// identity holds an approved access request for it (`approved`) or not: among the grants
/// naming the identity and the resource, grants to the user come before grants to a group, each
/// in config order; the first that works now is chosen. When none works, the first in that order
/// says why.
pub fn decide<'a>(
    grants: &'a [Grant],
    subject: &str,
    groups: &[String],
    resource: &str,
    now: OffsetDateTime,
    approved: bool,
) -> GrantDecision<'a> {
    let mut first_refused = None;
    for (index, grant) in candidates(grants, subject, groups, resource) {
        match grant.refusal(now, approved) {
            None => return GrantDecision::Allowed { index, grant },
            Some(reason) => {
                first_refused.get_or_insert((index, grant, reason));
            }
        }
    }
    match first_refused {
        Some((index, grant, reason)) => GrantDecision::Refused {
            index,
            grant,
            reason,
        },
        None => GrantDecision::NoGrant,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use time::macros::datetime;

    use super::*;
    use crate::{Config, ConfigError};

    fn load(grants: &str) -> Result<Config, ConfigError> {
        let text = format!(
            "[[resources]]\nname = \"shop\"\nkind = \"postgres\"\naddress = \"127.0.0.1:5432\"\n\
             database = \"shop\"\nuser = \"app\"\n{grants}"
        );
        Config::from_toml(&text, Path::new("/etc/ward/ward.toml"))
    }

    fn problem(grants: &str) -> String {
        load(grants).expect_err("invalid").to_string()
    }

    // A Wednesday.
    const NOON: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

    #[test]
    fn user_grants_come_before_group_grants_then_config_order() {
        let c = load(
            "[[grants]]\ngroup = \"dev\"\nresources = [\"shop\"]\n\
             [[grants]]\ngroup = \"ops\"\nresources = [\"shop\"]\nupstream_user = \"ops\"\n\
             [[grants]]\nuser = \"alice\"\nresources = [\"shop\"]\nupstream_user = \"alice_ro\"\n",
        )
        .expect("valid");
        let groups = ["ops".to_owned(), "dev".to_owned()];
        let GrantDecision::Allowed { index, grant } =
            c.decide_grant("alice", &groups, "shop", NOON, false)
        else {
            panic!("alice is allowed");
        };
        assert_eq!((index, grant.grantee()), (2, Grantee::User("alice")));
        let shop = c.resource("shop").expect("shop");
        assert_eq!(grant.upstream_user(shop), "alice_ro");
        let GrantDecision::Allowed { index, grant } =
            c.decide_grant("bob", &groups, "shop", NOON, false)
        else {
            panic!("bob is allowed");
        };
        assert_eq!((index, grant.upstream_user(shop)), (0, "app"));
        assert!(matches!(
            c.decide_grant("carol", &[], "shop", NOON, false),
            GrantDecision::NoGrant
        ));
    }

    #[test]
    fn expired_and_out_of_window_grants_are_refused_and_the_next_one_works() {
        let c = load(
            "[[grants]]\nuser = \"alice\"\nresources = [\"shop\"]\nexpires_at = \"2026-11-01T00:00:00Z\"\n\
             [[grants]]\ngroup = \"dev\"\nresources = [\"shop\"]\nhours = \"08:00-11:30\"\n\
             [[grants]]\ngroup = \"night\"\nresources = [\"shop\"]\nhours = \"22:00-06:00\"\ndays = [\"wed\"]\n",
        )
        .expect("valid");
        let dev = ["dev".to_owned()];
        let GrantDecision::Refused { index, reason, .. } =
            c.decide_grant("alice", &dev, "shop", NOON, false)
        else {
            panic!("refused");
        };
        assert_eq!(index, 0);
        assert_eq!(reason.explain(), "expired at 2026-11-01T00:00:00Z");
        let at_nine = datetime!(2026-11-25 09:00 UTC);
        assert!(matches!(
            c.decide_grant("alice", &dev, "shop", at_nine, false),
            GrantDecision::Allowed { index: 1, .. }
        ));
        let GrantDecision::Refused { reason, .. } =
            c.decide_grant("bob", &dev, "shop", NOON, false)
        else {
            panic!("refused");
        };
        assert_eq!(
            reason.explain(),
            "is valid only 08:00-11:30 UTC, and it is now 12:00 UTC on wed"
        );
        let night = ["night".to_owned()];
        for (at, ok) in [
            (datetime!(2026-11-25 23:00 UTC), true),
            (datetime!(2026-11-25 05:59 UTC), true),
            (datetime!(2026-11-25 06:00 UTC), false),
            (datetime!(2026-11-26 23:00 UTC), false),
        ] {
            let allowed = matches!(
                c.decide_grant("bob", &night, "shop", at, false),
                GrantDecision::Allowed { .. }
            );
            assert_eq!(allowed, ok, "{at}");
        }
    }

    #[test]
    fn a_grant_needing_approval_works_only_with_one_and_else_the_next_grant_does() {
        let c = load(
            "[[grants]]\ngroup = \"dev\"\nresources = [\"shop\"]\nupstream_user = \"admin\"\n\
             requires_approval = true\napprovers = [\"dba\", \"lead\"]\napprovals = 2\nmax_duration = \"4h\"\n",
        )
        .expect("valid");
        let dev = ["dev".to_owned()];
        let GrantDecision::Refused { reason, .. } =
            c.decide_grant("bob", &dev, "shop", NOON, false)
        else {
            panic!("refused without an approval");
        };
        assert_eq!(reason.code(), "approval required");
        assert_eq!(
            reason.explain(),
            "needs an approved access request (approvers: group dba, group lead)"
        );
        assert!(reason.advice("shop").contains("ward request shop"));
        let GrantDecision::Allowed { grant, .. } = c.decide_grant("bob", &dev, "shop", NOON, true)
        else {
            panic!("allowed with one");
        };
        assert_eq!(
            grant.max_duration(),
            std::time::Duration::from_secs(4 * 3600)
        );
        // A standing grant after it serves those without an approval.
        let c = load(
            "[[grants]]\ngroup = \"dev\"\nresources = [\"shop\"]\nrequires_approval = true\napprovers = [\"dba\"]\n\
             [[grants]]\ngroup = \"dev\"\nresources = [\"shop\"]\nupstream_user = \"reader\"\n",
        )
        .expect("valid");
        assert!(matches!(
            c.decide_grant("bob", &dev, "shop", NOON, false),
            GrantDecision::Allowed { index: 1, .. }
        ));
        assert_eq!(
            c.grants[0].max_duration(),
            DEFAULT_MAX_DURATION,
            "an hour unless the grant says"
        );
    }

    #[test]
    fn invalid_grants_name_the_key_and_the_problem() {
        let file = "/etc/ward/ward.toml";
        assert_eq!(
            problem("[[grants]]\nresources = [\"shop\"]\n"),
            format!("{file}: grants[0].group: a grant needs `group = \"...\"` or `user = \"...\"`")
        );
        assert_eq!(
            problem("[[grants]]\ngroup = \"dev\"\nuser = \"alice\"\nresources = [\"shop\"]\n"),
            format!("{file}: grants[0].user: give `group` or `user`, not both")
        );
        assert!(
            problem(
                "[[grants]]\nuser = \"a\"\nresources = [\"shop\"]\nexpires_at = \"tomorrow\"\n"
            )
            .starts_with(&format!(
                "{file}: grants[0].expires_at: `tomorrow` is not an RFC 3339 time"
            )),
        );
        assert_eq!(
            problem("[[grants]]\nuser = \"a\"\nresources = [\"shop\"]\nhours = \"8-18\"\n"),
            format!("{file}: grants[0].hours: `8-18` is not a window like \"08:00-18:00\" (UTC)")
        );
        assert_eq!(
            problem("[[grants]]\nuser = \"a\"\nresources = [\"shop\"]\ndays = [\"monday\"]\n"),
            format!(
                "{file}: grants[0].days: `monday` is not a day: use mon, tue, wed, thu, fri, sat, sun"
            )
        );
        assert_eq!(
            problem("[[grants]]\nuser = \"a\"\nresources = [\"shop\"]\nrequires_approval = true\n"),
            format!(
                "{file}: grants[0].approvers: `requires_approval` needs the groups that approve, like `approvers = [\"dba\"]`"
            )
        );
        assert_eq!(
            problem("[[grants]]\nuser = \"a\"\nresources = [\"shop\"]\napprovers = [\"dba\"]\n"),
            format!(
                "{file}: grants[0].approvers: has no effect without `requires_approval = true`"
            )
        );
        assert_eq!(
            problem(
                "[[grants]]\nuser = \"a\"\nresources = [\"shop\"]\nrequires_approval = true\napprovers = [\"dba\"]\napprovals = 0\n"
            ),
            format!("{file}: grants[0].approvals: must be at least 1")
        );
        assert_eq!(
            problem("[[grants]]\nuser = \"a\"\nresources = [\"shop\"]\npassword_env = \"X\"\n"),
            format!(
                "{file}: grants[0].password_env: has no effect without `upstream_user` (the resource's password is used)"
            )
        );
        assert_eq!(
            problem(
                "[[grants]]\nuser = \"a\"\nresources = [\"shop\"]\nupstream_user = \"ro\"\npassword_env = \"WARD_TEST_SURELY_UNSET\"\n"
            ),
            format!(
                "{file}: grants[0].password_env: environment variable `WARD_TEST_SURELY_UNSET` is not set"
            )
        );
    }
}
