//! Access requests (`ward request`): a person asks for access that a grant gives only with
//! approval; approvers approve or deny; an approved request opens the grant for its requester
//! for its window, on every Ward of the store. A step a guardrail holds for review is a request
//! too (kind `step`), reviewed the same way, whose approval lets that one step run. Each
//! request, hold and review is recorded as an event in its author's own session
//! (`access.request`, `review.held`, `access.approve`, `access.deny`); these tables carry the
//! state between processes and link the events.

use ward_core::{SessionId, Timestamp};

use crate::db::{Db, Row, params};
use crate::store::{Store, StoreError};

/// A pending request not decided within this long expires.
pub const PENDING_TTL_SECONDS: i64 = 24 * 3600;

const NANOS: i64 = 1_000_000_000;

/// What is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// Access to a resource for a window (a grant with `requires_approval`).
    Access,
    /// One statement, command or tool call a guardrail holds (`action = "review"`).
    Step,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Access => "access",
            RequestKind::Step => "step",
        }
    }
}

/// What a request is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    /// Waiting for approvals.
    Pending,
    /// Approved, and its window is open.
    Approved,
    Denied,
    /// Approved once and its window closed, or never decided in time (a day; a step, its
    /// rule's `review_timeout`).
    Expired,
}

impl RequestState {
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Denied, Self::Expired]
            .into_iter()
            .find(|state| state.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::Expired => "expired",
        }
    }
}

/// One access request, with its reviews.
#[derive(Debug, Clone)]
pub struct AccessRequest {
    pub id: String,
    pub kind: RequestKind,
    /// A step's guardrail.
    pub rule: Option<String>,
    pub requester: String,
    pub resource: String,
    /// Why, as the requester gave it; for a step, the step itself (masked).
    pub reason: String,
    /// The window asked for, from approval; for a step, how long it is held at most.
    pub seconds: i64,
    /// The groups whose members may approve it.
    pub approvers: Vec<String>,
    /// How many approvals it needs.
    pub approvals: i64,
    pub requested_at: Timestamp,
    /// The requester's session that recorded `access.request` (a step: `review.held`).
    pub session: SessionId,
    pub state: RequestState,
    pub decided_at: Option<Timestamp>,
    /// When an approved request's window ends.
    pub expires_at: Option<Timestamp>,
    pub reviews: Vec<Review>,
}

/// One approver's decision on a request.
#[derive(Debug, Clone)]
pub struct Review {
    pub reviewer: String,
    pub approved: bool,
    /// Masked.
    pub comment: String,
    pub at: Timestamp,
    /// The reviewer's session that recorded `access.approve` or `access.deny`.
    pub session: SessionId,
}

/// A new request, as [`Store::create_request`] takes it.
pub struct NewRequest<'a> {
    /// Given for a step (its session recorded it already); made up for access.
    pub id: Option<&'a str>,
    pub kind: RequestKind,
    pub rule: Option<&'a str>,
    pub requester: &'a str,
    pub resource: &'a str,
    pub reason: &'a str,
    pub seconds: i64,
    pub approvers: &'a [String],
    pub approvals: u32,
    pub session: SessionId,
    /// When it was asked for (a step: when its session began to wait).
    pub requested_at: Timestamp,
}

/// Which requests [`Store::access_requests`] lists.
#[derive(Debug, Default)]
pub struct RequestFilter<'a> {
    /// Only this requester's.
    pub requester: Option<&'a str>,
    /// Only those in this state now.
    pub state: Option<RequestState>,
    pub limit: Option<i64>,
}

const COLUMNS: &str = "id, requester, resource, reason, seconds, approvers, approvals, \
     requested_at, session_id, state, decided_at, expires_at, kind, rule";

impl AccessRequest {
    fn from_row(r: &Row, now: Timestamp) -> Result<Self, StoreError> {
        let approvers: Vec<String> = serde_json::from_str(&r.text(5)?)
            .map_err(|e| StoreError::Corrupt(format!("access request approvers: {e}")))?;
        let requested_at = Timestamp(r.int(7)?);
        let expires_at = r.opt_int(11)?.map(Timestamp);
        let seconds = r.int(4)?;
        let kind = match r.text(12)?.as_str() {
            "access" => RequestKind::Access,
            "step" => RequestKind::Step,
            other => return Err(StoreError::Corrupt(format!("access request kind {other}"))),
        };
        let pending_for = match kind {
            RequestKind::Access => PENDING_TTL_SECONDS,
            RequestKind::Step => seconds,
        };
        let state = match r.text(9)?.as_str() {
            "approved" if expires_at.is_some_and(|t| t.0 <= now.0) => RequestState::Expired,
            "approved" => RequestState::Approved,
            "denied" => RequestState::Denied,
            "pending" if requested_at.0 + pending_for * NANOS <= now.0 => RequestState::Expired,
            "pending" => RequestState::Pending,
            other => return Err(StoreError::Corrupt(format!("access request state {other}"))),
        };
        Ok(Self {
            id: r.text(0)?,
            kind,
            rule: r.opt_text(13)?,
            requester: r.text(1)?,
            resource: r.text(2)?,
            reason: r.text(3)?,
            seconds,
            approvers,
            approvals: r.int(6)?,
            requested_at,
            session: crate::query::session_id(&r.bytes(8)?)?,
            state,
            decided_at: r.opt_int(10)?.map(Timestamp),
            expires_at,
            reviews: Vec::new(),
        })
    }

    /// Those who approved it.
    pub fn approved_by(&self) -> Vec<String> {
        self.reviews
            .iter()
            .filter(|r| r.approved)
            .map(|r| r.reviewer.clone())
            .collect()
    }
}

/// Reads request `id` with its reviews.
fn read(db: &mut Db, id: &str, now: Timestamp) -> Result<AccessRequest, StoreError> {
    let row = db
        .query_opt(
            &format!("SELECT {COLUMNS} FROM access_requests WHERE id = ?1"),
            &params![id],
        )?
        .ok_or_else(|| StoreError::NoSuchRequest(id.to_owned()))?;
    with_reviews(db, AccessRequest::from_row(&row, now)?)
}

/// `request` with its reviews.
fn with_reviews(db: &mut Db, mut request: AccessRequest) -> Result<AccessRequest, StoreError> {
    request.reviews = db
        .query(
            "SELECT reviewer, approved, comment, at, session_id FROM access_reviews
             WHERE request_id = ?1 ORDER BY at, reviewer",
            &params![request.id.as_str()],
        )?
        .iter()
        .map(|r| {
            Ok(Review {
                reviewer: r.text(0)?,
                approved: r.int(1)? != 0,
                comment: r.text(2)?,
                at: Timestamp(r.int(3)?),
                session: crate::query::session_id(&r.bytes(4)?)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(request)
}

/// A new random id of `n` bytes, in hex (a request's: six, twelve hex digits).
pub(crate) fn new_id(n: usize) -> Result<String, StoreError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Unavailable(format!("no randomness: {e}")))?;
    Ok(hex::encode(bytes))
}

impl Store {
    /// Records a new pending request; returns it.
    pub fn create_request(&mut self, new: &NewRequest<'_>) -> Result<AccessRequest, StoreError> {
        let id = match new.id {
            Some(id) => id.to_owned(),
            None => new_id(6)?,
        };
        let approvers =
            serde_json::to_string(new.approvers).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.db.execute(
            &format!(
                "INSERT INTO access_requests ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', NULL, NULL, ?10, ?11)"
            ),
            &params![
                id.as_str(),
                new.requester,
                new.resource,
                new.reason,
                new.seconds,
                approvers.as_str(),
                i64::from(new.approvals),
                new.requested_at.0,
                new.session.0.as_bytes().as_slice(),
                new.kind.as_str(),
                new.rule
            ],
        )?;
        read(&mut self.db, &id, Timestamp::now())
    }

    /// Request `id`, with its reviews.
    pub fn access_request(&mut self, id: &str) -> Result<AccessRequest, StoreError> {
        read(&mut self.db, id, Timestamp::now())
    }

    /// Requests, newest first.
    pub fn access_requests(
        &mut self,
        filter: &RequestFilter<'_>,
    ) -> Result<Vec<AccessRequest>, StoreError> {
        let now = Timestamp::now();
        let rows = match filter.requester {
            Some(requester) => self.db.query(
                &format!(
                    "SELECT {COLUMNS} FROM access_requests WHERE requester = ?1 ORDER BY requested_at DESC"
                ),
                &params![requester],
            )?,
            None => self.db.query(
                &format!("SELECT {COLUMNS} FROM access_requests ORDER BY requested_at DESC"),
                &[],
            )?,
        };
        let limit = filter.limit.unwrap_or(i64::MAX).max(0) as usize;
        let mut out = Vec::new();
        for row in &rows {
            let request = AccessRequest::from_row(row, now)?;
            if filter.state.is_some_and(|s| s != request.state) {
                continue;
            }
            out.push(with_reviews(&mut self.db, request)?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// The requests approved whose window is open now, with their reviews.
    pub fn open_approvals(&mut self) -> Result<Vec<AccessRequest>, StoreError> {
        let now = Timestamp::now();
        let rows = self.db.query(
            &format!(
                "SELECT {COLUMNS} FROM access_requests WHERE kind = 'access' AND state = 'approved' AND expires_at > ?1"
            ),
            &params![now.0],
        )?;
        rows.iter()
            .map(|r| with_reviews(&mut self.db, AccessRequest::from_row(r, now)?))
            .collect()
    }

    /// Records `review` of request `id`: a denial ends the request, and the approval that
    /// completes the count needed opens its window from now (a step: lets it run). Refused (a conflict) when the
    /// request is not pending or the reviewer reviewed it already. Returns the request after it.
    pub fn review_request(
        &mut self,
        id: &str,
        review: &Review,
    ) -> Result<AccessRequest, StoreError> {
        self.db.transaction(|db| {
            let now = Timestamp::now();
            let request = read(db, id, now)?;
            if request.state != RequestState::Pending {
                return Err(StoreError::Conflict(format!(
                    "request {id} is {} already",
                    request.state.as_str()
                )));
            }
            if request.reviews.iter().any(|r| r.reviewer == review.reviewer) {
                return Err(StoreError::Conflict(format!(
                    "{} reviewed request {id} already",
                    review.reviewer
                )));
            }
            db.execute(
                "INSERT INTO access_reviews (request_id, reviewer, approved, comment, at, session_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &params![
                    id,
                    review.reviewer.as_str(),
                    i64::from(review.approved),
                    review.comment.as_str(),
                    now.0,
                    review.session.0.as_bytes().as_slice()
                ],
            )?;
            let approvals = request.approved_by().len() as i64 + i64::from(review.approved);
            if !review.approved {
                db.execute(
                    "UPDATE access_requests SET state = 'denied', decided_at = ?2 WHERE id = ?1",
                    &params![id, now.0],
                )?;
            } else if approvals >= request.approvals {
                let until = (request.kind == RequestKind::Access)
                    .then_some(now.0 + request.seconds * NANOS);
                db.execute(
                    "UPDATE access_requests SET state = 'approved', decided_at = ?2, expires_at = ?3 WHERE id = ?1",
                    &params![id, now.0, until],
                )?;
            }
            read(db, id, now)
        })
    }
}
