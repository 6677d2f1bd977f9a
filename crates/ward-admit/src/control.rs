//! Control of sessions after admission: the sessions open in this process, which can be ended
//! from outside them (a user disabled, a grant withdrawn by a reload), and the users disabled,
//! whom admission refuses. One [`Control`] outlives every runtime a reload builds.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;
use ward_core::payload::{Payload, SessionTerminated};
use ward_core::{Identity, SessionId, Timestamp};
use ward_store::JsonBody;

/// Why a session was ended from outside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    /// Who ended it (`an administrator (ward users disable)`, `a configuration reload`).
    pub by: String,
    pub reason: String,
}

impl Termination {
    /// The `session.terminated` event that records it in the session ended.
    pub fn event(&self) -> JsonBody {
        JsonBody::from(Payload::SessionTerminated(SessionTerminated {
            by: self.by.clone(),
            reason: self.reason.clone(),
        }))
    }
}

impl std::fmt::Display for Termination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "terminated by {}: {}", self.by, self.reason)
    }
}

/// An open session, as control sees it.
pub struct Open {
    pub session: SessionId,
    pub identity: Identity,
    pub resource: String,
    /// The approved access request that let it in, whose window it ends with.
    pub approval: Option<Approval>,
    end: watch::Sender<Option<Arc<Termination>>>,
}

/// An approved access request whose window is open: it opens its requester's grant that
/// `requires_approval` on its resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub request: String,
    pub approved_by: Vec<String>,
    /// When the window ends.
    pub until: Timestamp,
}

/// The sessions open in this process, the users disabled and the approvals in force.
#[derive(Default)]
pub struct Control {
    /// By admission (an agent's session is admitted once per resource it reaches).
    open: Mutex<HashMap<u64, Open>>,
    next: AtomicU64,
    disabled: RwLock<HashSet<String>>,
    /// By requester and resource.
    approvals: RwLock<HashMap<(String, String), Approval>>,
    /// Steps held for review.
    pub(crate) held: crate::review::Held,
    /// The groups of the users an identity provider manages through SCIM, by user: these, not
    /// the groups their credentials carry, are their groups.
    managed_groups: RwLock<HashMap<String, Vec<String>>>,
    /// The groups an OIDC issuer gave when Ward last checked a login, by the Ward token issued
    /// at it: these, not the groups of the login, are the token's groups.
    login_groups: RwLock<HashMap<String, Vec<String>>>,
}

/// An admitted session's link to [`Control`]: it learns when the session is terminated, and
/// takes the session out of the open ones when dropped.
pub struct Terminable {
    key: u64,
    control: Arc<Control>,
    ended: watch::Receiver<Option<Arc<Termination>>>,
}

impl Terminable {
    /// Resolves when the session is terminated (never, if it is not).
    pub async fn terminated(&mut self) -> Arc<Termination> {
        loop {
            if let Some(t) = self.ended.borrow_and_update().clone() {
                return t;
            }
            if self.ended.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Drop for Terminable {
    fn drop(&mut self) {
        self.control.lock_open().remove(&self.key);
    }
}

impl Control {
    fn lock_open(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Open>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an admitted session to the open ones.
    pub(crate) fn register(
        self: &Arc<Self>,
        session: SessionId,
        identity: &Identity,
        resource: &str,
        approval: Option<Approval>,
    ) -> Terminable {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let (end, ended) = watch::channel(None);
        let open = Open {
            session,
            identity: identity.clone(),
            resource: resource.to_owned(),
            approval,
            end,
        };
        self.lock_open().insert(key, open);
        Terminable {
            key,
            control: self.clone(),
            ended,
        }
    }

    /// Whether `subject` is disabled.
    pub fn is_disabled(&self, subject: &str) -> bool {
        self.disabled
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(subject)
    }

    /// The users disabled now (from the store, which every Ward of it reads).
    pub fn set_disabled(&self, subjects: HashSet<String>) {
        *self.disabled.write().unwrap_or_else(|p| p.into_inner()) = subjects;
    }

    /// Gives `identity` its groups of now when an identity provider says what they are: SCIM's
    /// for its user, else the issuer's at the last check of its login.
    pub fn current_groups(&self, identity: &mut Identity) {
        if let Some((groups, _)) = self.managed_groups(identity) {
            identity.groups = groups;
        }
    }

    /// The groups of `identity` now, when an identity provider says what they are, and how it
    /// said so: `SCIM`, or `login check`.
    pub fn managed_groups(&self, identity: &Identity) -> Option<(Vec<String>, &'static str)> {
        let scim = self
            .managed_groups
            .read()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(groups) = scim.get(&identity.subject) {
            return Some((groups.clone(), "SCIM"));
        }
        let checked = self.login_groups.read().unwrap_or_else(|p| p.into_inner());
        let groups = checked.get(identity.credential.as_ref()?)?;
        Some((groups.clone(), "login check"))
    }

    /// The groups of the users an identity provider manages (from the store), by user.
    pub fn set_managed_groups(&self, groups: HashMap<String, Vec<String>>) {
        *self
            .managed_groups
            .write()
            .unwrap_or_else(|p| p.into_inner()) = groups;
    }

    /// The groups issuers gave at the last check of logins (from the store), by Ward token.
    pub fn set_login_groups(&self, groups: HashMap<String, Vec<String>>) {
        *self.login_groups.write().unwrap_or_else(|p| p.into_inner()) = groups;
    }

    /// The approval in force now that lets `subject` reach `resource`, if any.
    pub fn approval(&self, subject: &str, resource: &str) -> Option<Approval> {
        let approvals = self.approvals.read().unwrap_or_else(|p| p.into_inner());
        // Most Wards have none: no key is built for them on each connection.
        if approvals.is_empty() {
            return None;
        }
        approvals
            .get(&(subject.to_owned(), resource.to_owned()))
            .filter(|a| a.until.0 > Timestamp::now().0)
            .cloned()
    }

    /// The approvals in force now (from the store, which every Ward of it reads), by requester
    /// and resource.
    pub fn set_approvals(&self, approvals: HashMap<(String, String), Approval>) {
        *self.approvals.write().unwrap_or_else(|p| p.into_inner()) = approvals;
    }

    /// Ends every open session, not ended already, for which `why` says why. Returns how many
    /// it ended.
    pub fn terminate(&self, why: impl Fn(&Open) -> Option<Termination>) -> usize {
        let open = self.lock_open();
        let mut ended = 0;
        for session in open.values() {
            if session.end.borrow().is_some() {
                continue;
            }
            if let Some(termination) = why(session) {
                session.end.send_replace(Some(Arc::new(termination)));
                ended += 1;
            }
        }
        ended
    }

    /// How many sessions are open.
    pub fn open_sessions(&self) -> usize {
        self.lock_open().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_terminated_session_learns_why_and_leaves_when_dropped() {
        let control = Arc::new(Control::default());
        let alice_id = SessionId::new();
        let mut alice =
            control.register(alice_id, &Identity::unauthenticated("alice"), "shop", None);
        let bob = control.register(
            SessionId::new(),
            &Identity::unauthenticated("bob"),
            "shop",
            None,
        );
        assert_eq!(control.open_sessions(), 2);
        let why = Termination {
            by: "an administrator".into(),
            reason: "user disabled".into(),
        };
        let alices = |o: &Open| (o.session == alice_id).then(|| why.clone());
        assert_eq!(control.terminate(alices), 1);
        assert_eq!(*alice.terminated().await, why);
        // Once ended, a session is not ended again.
        assert_eq!(control.terminate(alices), 0);
        drop(alice);
        drop(bob);
        assert_eq!(control.open_sessions(), 0);
    }
}
