//! Access requests under `/api/v1/requests`: a person asks for access that a grant gives only
//! with approval (`requires_approval`), and members of the grant's approver groups approve or
//! deny it, never their own. Steps a guardrail holds for review (`action = "review"`) are listed
//! and reviewed here too (kind `step`); the Ward serving their session creates them. Each request and each review is recorded in its author's web
//! session (`access.request`, `access.approve`, `access.deny`), masked like the resource's
//! record; the Ward serving a session reads approved requests from the store within half a
//! second, on every replica.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use ward_config::ConfigDuration;
use ward_core::payload::{AccessRequested, AccessReviewed, Payload};
use ward_mask::MaskReport;
use ward_store::PremaskedJson;
use ward_store::requests::{self as store, RequestFilter, RequestKind, RequestState};

use super::api::Viewer;
use super::model::ErrorBody;
use super::{ApiError, Web};

pub fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/api/v1/requests", get(list_requests).post(create_request))
        .route("/api/v1/requests/{id}", get(request_detail))
        .route("/api/v1/requests/{id}/approve", post(approve_request))
        .route("/api/v1/requests/{id}/deny", post(deny_request))
}

/// An access request and its reviews.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessRequest {
    /// Twelve hex digits.
    pub id: String,
    /// `access` (to a resource, for a window) or `step` (one statement, command or tool call a
    /// guardrail holds while its session waits).
    pub kind: String,
    /// A step's guardrail.
    pub rule: Option<String>,
    pub requester: String,
    pub resource: String,
    /// Why (masked); for a step, the step itself.
    pub reason: String,
    /// The window asked for, in seconds from approval; for a step, how long it is held at most.
    pub seconds: i64,
    /// The groups whose members may approve it.
    pub approvers: Vec<String>,
    /// How many approvals it needs.
    pub approvals: i64,
    /// RFC 3339.
    pub requested_at: String,
    /// The requester's session that recorded the request (a step: where it waits).
    pub session: String,
    /// `pending`, `approved` (its window is open), `denied`, `expired`.
    pub state: String,
    pub decided_at: Option<String>,
    /// When an approved request's window ends; sessions it let in end then.
    pub expires_at: Option<String>,
    pub reviews: Vec<Review>,
    /// Whether the viewer may approve or deny it now.
    pub may_review: bool,
}

/// One approver's decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct Review {
    pub reviewer: String,
    pub approved: bool,
    /// Masked.
    pub comment: String,
    /// RFC 3339.
    pub at: String,
    /// The reviewer's session that recorded the review.
    pub session: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestList {
    pub requests: Vec<AccessRequest>,
}

/// What a person asks for.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRequest {
    pub resource: String,
    /// Why: a ticket reference or free text (recorded, masked).
    pub reason: String,
    /// How long, from approval: `30m`, `1h`, … up to the grant's `max_duration`.
    pub duration: String,
}

/// An approver's comment: optional to approve, required to deny.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ReviewBody {
    pub comment: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ListQuery {
    state: Option<String>,
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(status, code, message)
}

impl Viewer {
    /// Whether the viewer is in one of `request`'s approver groups.
    fn approves(&self, request: &store::AccessRequest) -> bool {
        self.identity
            .groups
            .iter()
            .any(|g| request.approvers.contains(g))
    }

    fn may_see_request(&self, request: &store::AccessRequest) -> bool {
        self.auditor || request.requester == self.identity.subject || self.approves(request)
    }

    fn may_review(&self, request: &store::AccessRequest) -> bool {
        request.state == RequestState::Pending
            && request.requester != self.identity.subject
            && self.approves(request)
            && !request
                .reviews
                .iter()
                .any(|r| r.reviewer == self.identity.subject)
    }

    fn show(&self, r: store::AccessRequest) -> AccessRequest {
        let may_review = self.may_review(&r);
        AccessRequest {
            may_review,
            id: r.id,
            kind: r.kind.as_str().to_owned(),
            rule: r.rule,
            requester: r.requester,
            resource: r.resource,
            reason: r.reason,
            seconds: r.seconds,
            approvers: r.approvers,
            approvals: r.approvals,
            requested_at: r.requested_at.to_rfc3339(),
            session: r.session.to_string(),
            state: r.state.as_str().to_owned(),
            decided_at: r.decided_at.map(|t| t.to_rfc3339()),
            expires_at: r.expires_at.map(|t| t.to_rfc3339()),
            reviews: r
                .reviews
                .into_iter()
                .map(|v| Review {
                    reviewer: v.reviewer,
                    approved: v.approved,
                    comment: v.comment,
                    at: v.at.to_rfc3339(),
                    session: v.session.to_string(),
                })
                .collect(),
        }
    }
}

impl Web {
    /// Request `id`, if the viewer may see it.
    fn visible_request(&self, viewer: &Viewer, id: &str) -> Result<store::AccessRequest, ApiError> {
        let request = self.with_store(|s| s.access_request(id))?;
        if !viewer.may_see_request(&request) {
            return Err(error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "only its requester, its approvers and auditors see this request",
            ));
        }
        Ok(request)
    }

    /// `text` masked with the profile of `resource`'s record, and what was found.
    fn masked(&self, resource: &str, text: &str) -> (String, MaskReport) {
        let runtime = self.runtime();
        let profile = runtime
            .config
            .resource(resource)
            .map_or("default", |r| r.record_profile());
        let mut found = MaskReport::new();
        let masked = runtime
            .masker(profile)
            .mask_str(text, &mut found)
            .into_owned();
        (masked, found)
    }
}

/// Asks for access to a resource whose grant `requires_approval`; the grant's approvers are
/// told through the webhooks.
#[utoipa::path(post, path = "/api/v1/requests", tag = "requests",
    params(("X-CSRF-Token" = String, Header, description = "the `csrf` of the sign-in")),
    request_body = NewRequest,
    responses((status = 201, body = AccessRequest), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "a request for it is pending already")))]
pub(super) async fn create_request(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Json(body): Json<NewRequest>,
) -> Result<(StatusCode, Json<AccessRequest>), ApiError> {
    let viewer = web.viewer_changing(&headers)?;
    let runtime = web.runtime();
    let config = &runtime.config;
    let name = body.resource.as_str();
    if config.resource(name).is_none() {
        return Err(error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("Ward has no resource \"{name}\""),
        ));
    }
    let (subject, groups) = (&viewer.identity.subject, &viewer.identity.groups);
    let Some((index, grant)) = config.approval_grant(subject, groups, name) else {
        let message = match config.grant_for(subject, groups, name) {
            Some(_) => format!("no grant for resource \"{name}\" needs approval: connect to it"),
            None => format!(
                "user \"{subject}\" has no grant for resource \"{name}\" to ask for; ask an administrator for access"
            ),
        };
        return Err(error(StatusCode::FORBIDDEN, "no_grant", message));
    };
    let reason = body.reason.trim();
    if reason.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "reason_required",
            "say why you need access: approvers read it",
        ));
    }
    let max = grant.max_duration();
    let asked = ConfigDuration::parse(&body.duration)
        .filter(|d| !d.0.is_zero())
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "bad_duration",
                format!(
                    "`{}` is not a duration such as 30m or 1h",
                    body.duration.trim()
                ),
            )
        })?;
    if asked.0 > max {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "too_long",
            format!(
                "the grant for resource \"{name}\" (grants[{index}]) gives at most {}s per request",
                max.as_secs()
            ),
        ));
    }
    let seconds = asked.0.as_secs().max(1);
    let pending = web.with_store(|s| {
        let mine = RequestFilter {
            requester: Some(subject),
            state: Some(RequestState::Pending),
            limit: None,
        };
        s.access_requests(&mine)
    })?;
    if let Some(open) = pending
        .iter()
        .find(|r| r.kind == RequestKind::Access && r.resource == name)
    {
        return Err(error(
            StatusCode::CONFLICT,
            "pending",
            format!("your request {} for \"{name}\" is pending already", open.id),
        ));
    }
    let (reason, found) = web.masked(name, reason);
    let new = store::NewRequest {
        id: None,
        kind: RequestKind::Access,
        rule: None,
        requester: subject,
        resource: name,
        reason: &reason,
        seconds: seconds as i64,
        approvers: &grant.approvers,
        approvals: grant.approvals,
        session: viewer.record.id(),
        requested_at: ward_core::Timestamp::now(),
    };
    let request = web.with_store(|s| s.create_request(&new))?;
    let event = Payload::AccessRequest(AccessRequested {
        request: request.id.clone(),
        resource: name.to_owned(),
        reason,
        seconds,
        approvers: grant.approvers.clone(),
        approvals: grant.approvals,
    });
    let (kind, value) = event.into_parts();
    viewer
        .record
        .record(PremaskedJson(kind, value, found))
        .await;
    Ok((StatusCode::CREATED, Json(viewer.show(request))))
}

/// The requests the viewer may see, newest first: their own, those their groups approve, and
/// every one for auditors.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests",
    params(("state" = Option<String>, Query, description = "`pending`, `approved`, `denied` or `expired`")),
    responses((status = 200, body = RequestList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
pub(super) async fn list_requests(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<RequestList>, ApiError> {
    let viewer = web.viewer(&headers)?;
    let state = match q.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(RequestState::parse(s).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "bad_state",
                format!("`{s}` is not pending, approved, denied or expired"),
            )
        })?),
    };
    let filter = RequestFilter {
        state,
        limit: Some(500),
        ..RequestFilter::default()
    };
    let all = web.with_store(|s| s.access_requests(&filter))?;
    let requests = all
        .into_iter()
        .filter(|r| viewer.may_see_request(r))
        .map(|r| viewer.show(r))
        .collect();
    Ok(Json(RequestList { requests }))
}

/// One request with its reviews.
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path)),
    responses((status = 200, body = AccessRequest), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn request_detail(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<AccessRequest>, ApiError> {
    let viewer = web.viewer(&headers)?;
    let request = web.visible_request(&viewer, &id)?;
    Ok(Json(viewer.show(request)))
}

/// Approves a pending request (members of its approver groups, not its requester): once it
/// has the approvals it needs, its window opens.
#[utoipa::path(post, path = "/api/v1/requests/{id}/approve", tag = "requests",
    params(("id" = String, Path), ("X-CSRF-Token" = String, Header, description = "the `csrf` of the sign-in")),
    request_body = ReviewBody,
    responses((status = 200, body = AccessRequest), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "decided already, or reviewed by this approver")))]
pub(super) async fn approve_request(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<ReviewBody>,
) -> Result<Json<AccessRequest>, ApiError> {
    review(&web, &headers, &id, true, body).await
}

/// Denies a pending request, with a comment the requester reads (members of its approver
/// groups, not its requester).
#[utoipa::path(post, path = "/api/v1/requests/{id}/deny", tag = "requests",
    params(("id" = String, Path), ("X-CSRF-Token" = String, Header, description = "the `csrf` of the sign-in")),
    request_body = ReviewBody,
    responses((status = 200, body = AccessRequest), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "decided already, or reviewed by this approver")))]
pub(super) async fn deny_request(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<ReviewBody>,
) -> Result<Json<AccessRequest>, ApiError> {
    review(&web, &headers, &id, false, body).await
}

async fn review(
    web: &Web,
    headers: &HeaderMap,
    id: &str,
    approved: bool,
    body: ReviewBody,
) -> Result<Json<AccessRequest>, ApiError> {
    let viewer = web.viewer_changing(headers)?;
    let request = web.visible_request(&viewer, id)?;
    let me = &viewer.identity.subject;
    if request.requester == *me {
        return Err(error(
            StatusCode::FORBIDDEN,
            "own_request",
            "you cannot review your own request: another approver must",
        ));
    }
    if !viewer.approves(&request) {
        return Err(error(
            StatusCode::FORBIDDEN,
            "not_approver",
            format!(
                "only members of group {} review this request",
                request.approvers.join(", group ")
            ),
        ));
    }
    let comment = body.comment.unwrap_or_default();
    let comment = comment.trim();
    if !approved && comment.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "comment_required",
            "say why you deny it: the requester reads it",
        ));
    }
    let (comment, found) = web.masked(&request.resource, comment);
    let review = store::Review {
        reviewer: me.clone(),
        approved,
        comment: comment.clone(),
        at: ward_core::Timestamp::now(),
        session: viewer.record.id(),
    };
    let after = web.with_store(|s| s.review_request(&request.id, &review))?;
    let reviewed = AccessReviewed {
        request: after.id.clone(),
        requester: after.requester.clone(),
        resource: after.resource.clone(),
        comment,
        state: after.state.as_str().to_owned(),
        until: after
            .expires_at
            .filter(|_| after.state == RequestState::Approved)
            .map(|t| t.to_rfc3339()),
    };
    let event = match approved {
        true => Payload::AccessApprove(reviewed),
        false => Payload::AccessDeny(reviewed),
    };
    let (kind, value) = event.into_parts();
    viewer
        .record
        .record(PremaskedJson(kind, value, found))
        .await;
    Ok(Json(viewer.show(after)))
}
