//! Admission: the one path by which every protocol lets an identity reach a resource.
//!
//! [`Runtime`] is what `ward serve` compiles once from its configuration (resources, grants,
//! guardrails, masking profiles) together with the recorder; every gateway shares it.
//! [`Runtime::admit`] decides whether an authenticated identity may reach a resource now,
//! records the decision (a `policy.decision` event of one shape for every protocol), and on
//! success hands the protocol everything it needs: the upstream role, the session's guardrails,
//! the maskers for the record and for the client, and the session's recorder. A protocol turns a
//! [`Refused`] into its own error and never builds a decision itself (docs/architecture.md).
//!
//! Gateways read the runtime through a [`Live`]: a reload replaces it whole, and each session
//! keeps the runtime it was admitted with.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

mod control;
mod review;
pub use control::{Approval, Control, Open, Terminable, Termination};
pub use review::{HeldStep, Reviewer, Verdict};

use ward_config::{Config, Grant, GrantDecision, Grantee, Resource, ResourceKind, Secret};
use ward_core::payload::{ApprovalRef, Auth, GrantRef, PolicyDecision};
use ward_core::{EventKind, Identity, Outcome, Protocol, SessionId};
use ward_mask::{MaskReport, Masker, Masking};
use ward_policy::{Guardrails, SessionGuardrails};
use ward_store::{JsonBody, PremaskedJson, Recorder, SessionRecorder, SessionStart};

/// The compiled configuration every gateway works from.
pub struct Runtime {
    pub config: Arc<Config>,
    /// The masking profiles: each resource's for its record, each grant's for its clients.
    pub masking: Masking,
    /// Statements and commands denied before they reach a resource.
    pub guardrails: Guardrails,
    pub recorder: Recorder,
    /// The open sessions and the disabled users: the same for every runtime of a process.
    pub control: Arc<Control>,
}

/// What a protocol asks to be admitted to.
pub struct Request<'a> {
    pub identity: Identity,
    pub resource: &'a str,
    /// The kind of resource the protocol reaches; a resource of another kind is no such resource.
    pub kind: ResourceKind,
    pub record: Record<'a>,
    /// The protocol's own check of the chosen grant (PostgreSQL: the startup parameters it allows).
    pub check: Option<&'a GrantCheck<'a>>,
    /// Why the person connects, as the client gave it (a grant may require one).
    pub reason: Option<&'a str>,
    /// How a client of this protocol gives a reason, for the refusal when one is required.
    pub reason_how: &'a str,
}

/// Where the decision, and what follows it, is recorded.
pub enum Record<'a> {
    /// A session record of its own for this connection.
    Start(Box<Start>),
    /// An agent's session already open, which reaches several resources (MCP).
    Within(&'a SessionRecorder),
}

/// The beginning of a connection's own session record.
pub struct Start {
    pub protocol: Protocol,
    pub client_addr: String,
    /// What the client asked for before it was admitted (`session.start`'s `parameters`).
    pub parameters: BTreeMap<String, String>,
    /// Why the person connects, as the client gave it (`session.start`'s `reason`).
    pub reason: Option<String>,
    /// The `auth` event: how the identity was proven, or why it was not.
    pub auth: Auth,
}

/// A protocol's own check of a grant.
pub type GrantCheck<'a> = dyn Fn(&Grant) -> Result<(), Denied> + Sync + 'a;

/// A protocol's own check refused the grant.
#[derive(Debug, Clone)]
pub struct Denied {
    /// Short and fixed, for the record (`startup parameter`).
    pub reason: &'static str,
    /// What the user reads.
    pub detail: String,
}

/// An identity let in: everything the protocol needs to serve it.
pub struct Admitted {
    pub resource: Resource,
    pub grant: Grant,
    /// The role (PostgreSQL) or account (SSH) Ward logs in as upstream.
    pub upstream_user: String,
    pub upstream_password: Option<Secret>,
    /// The guardrails of this identity on this resource, if any apply.
    pub guardrails: Option<SessionGuardrails>,
    /// Masks what is recorded: the resource's profile.
    pub record_masker: Masker,
    /// Masks what the client receives, when the grant says `mask_client`.
    pub client_masker: Option<Masker>,
    pub recorder: SessionRecorder,
    /// Says when the session is terminated from outside; the protocol ends it then.
    pub terminable: Terminable,
    /// Holds the steps a review rule matches until an approver decides.
    pub reviewer: Reviewer,
}

/// Why an identity was not let in; already recorded.
#[derive(Debug, Clone)]
pub struct Refused {
    pub reason: Reason,
    /// What the user reads.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No resource of this name and kind.
    NoSuchResource,
    /// No grant names this identity and resource, or none works now, or the protocol's own
    /// check refused it.
    NotGranted,
    /// The audit store cannot be written: nothing unrecorded may pass.
    StoreUnavailable,
    /// The user is disabled (`ward users disable`).
    Disabled,
}

/// A refusal before it is recorded.
struct Refusal {
    reason: Reason,
    /// The decision's `reason`.
    code: &'static str,
    detail: Option<String>,
    grant: Option<GrantRef>,
    message: String,
}

/// The `grant` of a `policy.decision`: its index in `[[grants]]` and whom it names.
fn grant_ref(index: usize, grant: &Grant) -> GrantRef {
    let (user, group) = match grant.grantee() {
        Grantee::User(u) => (Some(u.to_owned()), None),
        Grantee::Group(g) => (None, Some(g.to_owned())),
    };
    GrantRef { index, user, group }
}

/// The event of a decision, whose client text (`reason_given`) is masked already (`found`).
fn recorded(decision: &PolicyDecision, found: MaskReport) -> PremaskedJson {
    let value = serde_json::to_value(decision).unwrap_or(serde_json::Value::Null);
    PremaskedJson(EventKind::PolicyDecision, value, found)
}

/// A refusal's decision.
fn refused(
    resource: &str,
    reason: &str,
    detail: Option<String>,
    grant: Option<GrantRef>,
) -> PolicyDecision {
    PolicyDecision {
        allowed: false,
        resource: resource.to_owned(),
        reason: Some(reason.to_owned()),
        detail,
        grant,
        ..PolicyDecision::default()
    }
}

/// `alice, bob`, or `none`.
fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// What gateways read at the start of each session, replaced whole when `ward serve` reloads
/// its configuration: a session started before the reload keeps what it read.
pub struct Live<T>(RwLock<Arc<T>>);

impl<T> Live<T> {
    pub fn new(value: Arc<T>) -> Self {
        Self(RwLock::new(value))
    }

    /// The value in force now.
    pub fn current(&self) -> Arc<T> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `value` in force for every later [`Live::current`].
    pub fn replace(&self, value: Arc<T>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = value;
    }
}

impl Runtime {
    /// Compiles the guardrails of `config`.
    pub fn new(
        config: Arc<Config>,
        masking: Masking,
        recorder: Recorder,
        control: Arc<Control>,
    ) -> Result<Self, String> {
        let guardrails = Guardrails::compile(&config.guardrails).map_err(|e| e.to_string())?;
        // A prompt rule names masking rules: each must exist, or it would never refuse.
        let known: Vec<&str> = masking.default_profile().rule_names().collect();
        for (index, rule) in config.guardrails.iter().enumerate() {
            if let Some(unknown) = rule.secrets.iter().find(|s| !known.contains(&s.as_str())) {
                return Err(format!(
                    "guardrails[{index}].secrets: no masking rule `{unknown}` (rules: {})",
                    known.join(", ")
                ));
            }
        }
        Ok(Self {
            config,
            masking,
            guardrails,
            recorder,
            control,
        })
    }

    /// The masker of profile `name` ([`Masking::profile_or_default`]).
    pub fn masker(&self, name: &str) -> Masker {
        self.masking.profile_or_default(name).clone()
    }

    /// The resources of `kind` that some grant lets `identity` reach (now or at another time).
    pub fn reachable<'a>(
        &'a self,
        identity: &'a Identity,
        kind: ResourceKind,
    ) -> impl Iterator<Item = &'a Resource> + 'a {
        self.config.resources.iter().filter(move |r| {
            r.kind == kind
                && self
                    .config
                    .grant_for(&identity.subject, &identity.groups, &r.name)
                    .is_some()
        })
    }

    /// Starts the record of a session that reaches no resource through a grant (a viewer of
    /// the web UI, an agent's MCP session, which is admitted to each resource as it goes), with
    /// its `auth` event. Masked with the profile of `resource` if there is one, else the
    /// default profile.
    pub async fn open(&self, identity: Identity, resource: &str, start: Start) -> SessionRecorder {
        let masker = self.masker(
            self.config
                .resource(resource)
                .map_or("default", |r| r.record_profile()),
        );
        self.start(identity, resource, start, &masker).await
    }

    /// Lets a session opened with [`Runtime::open`] that reaches resources as it goes (an
    /// agent's) be ended from outside, like an admitted one.
    pub fn terminable(
        &self,
        session: SessionId,
        identity: &Identity,
        resource: &str,
    ) -> Terminable {
        self.control.register(session, identity, resource, None)
    }

    /// Records a connection whose identity was not proven: its own session, with the failed
    /// `auth` event, ended as `denied`.
    pub async fn login_failed(&self, identity: Identity, resource: &str, start: Start) {
        let rec = self.open(identity, resource, start).await;
        rec.end(Outcome::Denied, 0, 0).await;
    }

    /// Starts a session record, masked with `masker`, and records its `auth` event.
    async fn start(
        &self,
        identity: Identity,
        resource: &str,
        start: Start,
        masker: &Masker,
    ) -> SessionRecorder {
        let Start {
            protocol,
            client_addr,
            parameters,
            reason,
            auth,
        } = start;
        let start = SessionStart {
            id: SessionId::new(),
            identity,
            resource: resource.to_owned(),
            protocol,
            client_addr,
            parameters,
            reason,
        };
        let rec = self
            .recorder
            .start_masked(start, Some(masker.clone()))
            .await;
        let auth = serde_json::to_value(&auth).unwrap_or(serde_json::Value::Null);
        rec.record(JsonBody(EventKind::Auth, auth)).await;
        rec
    }

    /// Decides whether `request.identity` may reach `request.resource` now, records the
    /// decision, and returns what the protocol needs to serve the session; or the refusal, which
    /// is recorded too (a session record of its own is then ended as `denied`).
    pub async fn admit(&self, request: Request<'_>) -> Result<Admitted, Refused> {
        let Request {
            mut identity,
            resource: name,
            kind,
            record,
            check,
            reason,
            reason_how,
        } = request;
        // An identity provider that manages the user's groups (SCIM) says what they are now.
        self.control.current_groups(&mut identity);
        let resource = self.config.resource(name).filter(|r| r.kind == kind);
        let record_masker = self.masker(resource.map_or("default", |r| r.record_profile()));
        let (recorder, own) = match record {
            Record::Start(start) => {
                let start = *start;
                let rec = self
                    .start(identity.clone(), name, start, &record_masker)
                    .await;
                (rec, true)
            }
            Record::Within(rec) => (rec.clone(), false),
        };
        let approval = self.control.approval(&identity.subject, name);
        let decided = match resource {
            _ if self.control.is_disabled(&identity.subject) => Err(Box::new(Refusal {
                reason: Reason::Disabled,
                code: "user disabled",
                detail: None,
                grant: None,
                message: format!(
                    "user \"{}\" is disabled; ask an administrator",
                    identity.subject
                ),
            })),
            None => {
                let names: Vec<&str> = self
                    .reachable(&identity, kind)
                    .map(|r| r.name.as_str())
                    .collect();
                Err(Box::new(Refusal {
                    reason: Reason::NoSuchResource,
                    code: "no such resource",
                    detail: None,
                    grant: None,
                    message: format!(
                        "Ward has no resource \"{name}\" (resources you may reach: {})",
                        list_or_none(&names)
                    ),
                }))
            }
            Some(resource) => self
                .decide(&identity, resource, check, approval.is_some())
                .and_then(|(index, grant)| {
                    let given = reason.is_some_and(|r| !r.trim().is_empty());
                    if grant.require_reason && !given {
                        return Err(Box::new(Refusal {
                            reason: Reason::NotGranted,
                            code: "reason required",
                            detail: None,
                            grant: Some(grant_ref(index, grant)),
                            message: format!(
                                "the grant for resource \"{name}\" (grants[{index}]) requires a reason for each access: {reason_how}"
                            ),
                        }));
                    }
                    Ok((resource, index, grant))
                }),
        }
        .and_then(|allowed| {
            if self.recorder.is_healthy() {
                return Ok(allowed);
            }
            Err(Box::new(Refusal {
                reason: Reason::StoreUnavailable,
                code: "audit store unavailable",
                detail: None,
                grant: None,
                message: "Ward cannot write its audit record right now and refuses new sessions; try again later".into(),
            }))
        });
        let (resource, index, grant) = match decided {
            Ok(allowed) => allowed,
            Err(r) => {
                let r = *r;
                let decision = refused(name, r.code, r.detail, r.grant);
                recorder
                    .record(recorded(&decision, MaskReport::new()))
                    .await;
                if own {
                    recorder.end(Outcome::Denied, 0, 0).await;
                }
                return Err(Refused {
                    reason: r.reason,
                    message: r.message,
                });
            }
        };
        let resource = resource.clone();
        let grant = grant.clone();
        let approval = approval.filter(|_| grant.requires_approval);
        let upstream_user = grant.upstream_user(&resource).to_owned();
        let client_profile = grant
            .mask_client
            .then(|| grant.client_profile_for(&resource));
        let mut found = MaskReport::new();
        let reason_given = reason
            .filter(|r| !r.trim().is_empty())
            .map(|r| record_masker.mask_str(r, &mut found).into_owned());
        let decision = PolicyDecision {
            allowed: true,
            reason_given,
            resource: name.to_owned(),
            grant: Some(grant_ref(index, &grant)),
            upstream_user: Some(upstream_user.clone()),
            mask_client: Some(grant.mask_client),
            masking_profile: Some(resource.record_profile().to_owned()),
            client_profile: client_profile.map(str::to_owned),
            login: (kind == ResourceKind::Ssh)
                .then(|| format!("{:?}", resource.login).to_lowercase()),
            approval: approval.as_ref().map(|a| ApprovalRef {
                request: a.request.clone(),
                approved_by: a.approved_by.clone(),
                until: a.until.to_rfc3339(),
            }),
            ..PolicyDecision::default()
        };
        recorder.record(recorded(&decision, found)).await;
        let client_masker = client_profile.map(|p| self.masker(p));
        let terminable = self
            .control
            .register(recorder.id(), &identity, name, approval);
        let reviewer = Reviewer {
            control: self.control.clone(),
            session: recorder.id(),
            requester: identity.subject.clone(),
            resource: name.to_owned(),
            masker: record_masker.clone(),
        };
        Ok(Admitted {
            terminable,
            reviewer,
            upstream_password: grant.upstream_password(&resource).cloned(),
            guardrails: self
                .guardrails
                .for_session(name, &identity.subject, &identity.groups),
            record_masker,
            client_masker,
            recorder,
            upstream_user,
            resource,
            grant,
        })
    }

    /// The grant that lets `identity` reach `resource` now, or the refusal to record.
    fn decide<'a>(
        &'a self,
        identity: &Identity,
        resource: &Resource,
        check: Option<&GrantCheck<'_>>,
        approved: bool,
    ) -> Result<(usize, &'a Grant), Box<Refusal>> {
        let name = &resource.name;
        let now = time::OffsetDateTime::now_utc();
        match self
            .config
            .decide_grant(&identity.subject, &identity.groups, name, now, approved)
        {
            GrantDecision::Allowed { index, grant } => match check.map(|c| c(grant)) {
                Some(Err(denied)) => Err(Box::new(Refusal {
                    reason: Reason::NotGranted,
                    code: denied.reason,
                    detail: Some(denied.detail.clone()),
                    grant: Some(grant_ref(index, grant)),
                    message: denied.detail,
                })),
                _ => Ok((index, grant)),
            },
            GrantDecision::Refused {
                index,
                grant,
                reason,
            } => {
                let detail = reason.explain();
                let message = format!(
                    "the grant for resource \"{name}\" (grants[{index}], {}) {detail}; {}",
                    grant.grantee().describe(),
                    reason.advice(name),
                );
                Err(Box::new(Refusal {
                    reason: Reason::NotGranted,
                    code: reason.code(),
                    detail: Some(detail),
                    grant: Some(grant_ref(index, grant)),
                    message,
                }))
            }
            GrantDecision::NoGrant => {
                let groups: Vec<&str> = identity.groups.iter().map(String::as_str).collect();
                let message = format!(
                    "user \"{}\" (groups: {}) has no grant for resource \"{name}\"; ask an administrator for access",
                    identity.subject,
                    list_or_none(&groups),
                );
                Err(Box::new(Refusal {
                    reason: Reason::NotGranted,
                    code: "no grant",
                    detail: None,
                    grant: None,
                    message,
                }))
            }
        }
    }
}
