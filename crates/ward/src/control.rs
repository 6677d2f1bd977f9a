//! What controls sessions after admission, read from the store by every Ward of it: users
//! disabled, sessions someone asked to end, credentials revoked, approved access requests and
//! their windows, steps held for review and their decisions, and the groups an identity
//! provider gives users (pushed through SCIM, or found when Ward checks a login again).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use ward_admit::{Approval, Control, Live, Open, Runtime, Termination, Verdict};
use ward_config::{Config, GrantDecision};
use ward_core::Timestamp;
use ward_store::requests::{NewRequest, RequestKind, RequestState};
use ward_store::{Location, Store};

/// How often each Ward reads what controls sessions from the store: a user disabled by `ward
/// users disable` is refused, and their open sessions ended; a session `ward sessions
/// terminate` names, or one whose Ward credential was revoked, is ended; an approved access
/// request opens its grant, and its sessions end with its window; held steps are stored and
/// their decisions read. Every Ward of the store does each within this.
const CONTROL_POLL: Duration = Duration::from_millis(500);

/// Terminations asked for up to this long before this process started are read too (clocks of
/// replicas differ); older ones name sessions of earlier processes, long ended.
const CLOCK_SKEW: i64 = 60_000_000_000;

/// Where this Ward reads what ends sessions from outside them.
pub struct ControlStore {
    location: Location,
    /// Opened on first use, and again after a failure.
    store: Option<Store>,
    since: Timestamp,
}

impl ControlStore {
    pub fn new(location: Location) -> Self {
        Self {
            location,
            store: None,
            since: Timestamp(Timestamp::now().0 - CLOCK_SKEW),
        }
    }

    /// Reads the disabled users, the approvals in force and the groups SCIM manages into
    /// `control`; ends the open sessions of disabled users, of revoked credentials, past their
    /// approval's window, whose groups of now (SCIM's, or an issuer's at the last check of the
    /// login) no longer grant them their resource under `config`,
    /// and those someone asked to end; stores held steps and reads their decisions.
    pub fn read(&mut self, control: &Control, config: Option<&Config>) -> anyhow::Result<()> {
        let db = match &mut self.store {
            Some(db) => db,
            None => self.store.insert(Store::open(&self.location)?),
        };
        let read = db.disabled_users().and_then(|d| {
            let asked = db.terminations_since(self.since)?;
            let revoked = db.revocations_since(self.since)?;
            let managed = (db.scim_memberships()?, db.login_groups()?);
            Ok((d, asked, revoked, managed, db.open_approvals()?))
        });
        let (disabled, asked, revoked, (managed, checked), approvals) = match read {
            Ok(read) => read,
            Err(e) => {
                self.store = None;
                return Err(e.into());
            }
        };
        control.set_disabled(disabled.iter().map(|d| d.name.clone()).collect());
        control.set_managed_groups(managed);
        control.set_login_groups(checked);
        control.set_approvals(
            approvals
                .into_iter()
                .filter_map(|r| {
                    let approval = Approval {
                        approved_by: r.approved_by(),
                        until: r.expires_at?,
                        request: r.id,
                    };
                    Some(((r.requester, r.resource), approval))
                })
                .collect(),
        );
        if let Err(e) = review_steps(db, control) {
            self.store = None;
            return Err(e.into());
        }
        let now = Timestamp::now();
        let ended = control.terminate(|open| {
            if let Some(approval) = open.approval.as_ref().filter(|a| a.until.0 <= now.0) {
                return Some(Termination {
                    by: "Ward".into(),
                    reason: format!(
                        "the window of access request {} ended at {}",
                        approval.request,
                        approval.until.to_rfc3339()
                    ),
                });
            }
            if let Some(t) = asked.iter().find(|t| t.session == open.session) {
                return Some(Termination {
                    by: t.by.clone(),
                    reason: t.reason.clone(),
                });
            }
            let used = open.identity.credential.as_deref();
            if let Some((id, by)) = revoked.iter().find(|(id, _)| Some(id.as_str()) == used) {
                return Some(Termination {
                    by: by.clone(),
                    reason: format!("credential {id} revoked"),
                });
            }
            if let Some(d) = disabled.iter().find(|d| d.name == open.identity.subject) {
                return Some(Termination {
                    by: d.by.clone(),
                    reason: d.reason.clone(),
                });
            }
            let (groups, how) = control.managed_groups(&open.identity)?;
            if groups == open.identity.groups || still_granted(config?, open, &groups) {
                return None;
            }
            Some(Termination {
                by: format!("the identity provider ({how})"),
                reason: format!(
                    "{}'s groups changed (now: {}), and no grant lets them reach resource \"{}\" any more",
                    open.identity.subject,
                    if groups.is_empty() { "none".to_owned() } else { groups.join(", ") },
                    open.resource
                ),
            })
        });
        if ended > 0 {
            tracing::info!(sessions = ended, "ended sessions from outside them");
        }
        Ok(())
    }

    /// Reads every [`CONTROL_POLL`] until Ward stops.
    pub async fn watch(
        mut self,
        control: Arc<Control>,
        runtime: Arc<Live<Runtime>>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(CONTROL_POLL) => {}
                _ = stop.changed() => return,
            }
            let config = runtime.current().config.clone();
            if let Err(e) = tokio::task::block_in_place(|| self.read(&control, Some(&config))) {
                tracing::warn!(error = %e, "could not read what controls sessions (disabled users, terminations, revocations, approvals, reviews); trying again");
            }
        }
    }
}

/// Writes the steps held for review in this process to the store, where approvers find them,
/// and ends the wait of those decided.
fn review_steps(db: &mut Store, control: &Control) -> Result<(), ward_store::StoreError> {
    for step in control.unstored_steps() {
        let new = NewRequest {
            id: Some(&step.id),
            kind: RequestKind::Step,
            rule: Some(&step.rule),
            requester: &step.requester,
            resource: &step.resource,
            reason: &step.text,
            seconds: step.timeout.as_secs().max(1) as i64,
            approvers: &step.approvers,
            approvals: 1,
            session: step.session,
            requested_at: step.held_at,
        };
        db.create_request(&new)?;
    }
    for id in control.held_steps() {
        let request = match db.access_request(&id) {
            Ok(request) => request,
            // Held just now: the next read finds it.
            Err(ward_store::StoreError::NoSuchRequest(_)) => continue,
            Err(e) => return Err(e),
        };
        let review = request.reviews.last();
        let by = review.map_or_else(String::new, |r| r.reviewer.clone());
        let comment = review.map_or_else(String::new, |r| r.comment.clone());
        match request.state {
            RequestState::Approved => control.decide_step(&id, Verdict::Allowed { by, comment }),
            RequestState::Denied => control.decide_step(&id, Verdict::Rejected { by, comment }),
            RequestState::Expired => control.decide_step(&id, Verdict::TimedOut),
            RequestState::Pending => {}
        }
    }
    Ok(())
}

/// Whether `config` still lets `open`'s identity, with `groups`, reach its resource now.
pub fn still_granted(config: &Config, open: &Open, groups: &[String]) -> bool {
    let now = time::OffsetDateTime::now_utc();
    let (subject, approved) = (&open.identity.subject, open.approval.is_some());
    let decision = config.decide_grant(subject, groups, &open.resource, now, approved);
    matches!(decision, GrantDecision::Allowed { .. })
}
