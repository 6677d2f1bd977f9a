//! `/api/v1/activity`: one person's sessions as one timeline, AI conversations interleaved with
//! the statements and commands that ran, each linked to the proposal it matches (the web UI's
//! Activity page; `ward activity` on the command line). People see their own; auditors anyone's.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use ward_core::activity::ActivityItem;

use super::model::ErrorBody;
use super::{ApiError, Web};

pub fn routes() -> Router<Arc<Web>> {
    Router::new().route("/api/v1/activity", get(activity))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ActivityQuery {
    /// Whose activity (default: the viewer's own).
    user: Option<String>,
    /// From this long ago (`24h`, `7d`) or this RFC 3339 time; default `24h`.
    since: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Activity {
    pub user: String,
    /// RFC 3339.
    pub since: String,
    /// Oldest first.
    pub items: Vec<ActivityItem>,
}

/// A person's timeline since a time.
#[utoipa::path(get, path = "/api/v1/activity", tag = "sessions", params(ActivityQuery),
    responses((status = 200, body = Activity), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn activity(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<ActivityQuery>,
) -> Result<Json<Activity>, ApiError> {
    let viewer = web.viewer(&headers)?;
    let user = q.user.unwrap_or_else(|| viewer.identity.subject.clone());
    if !viewer.auditor && user != viewer.identity.subject {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only auditors see other people's activity",
        ));
    }
    let text = q.since.as_deref().unwrap_or("24h");
    let since = ward_core::activity::since(text).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("since `{text}` is neither a duration (24h) nor an RFC 3339 time"),
        )
    })?;
    let items = web.with_store(|s| s.activity(&user, since, None))?;
    viewer.viewed("", &format!("activity of {user}")).await;
    Ok(Json(Activity {
        user,
        since: since.to_rfc3339(),
        items,
    }))
}
