//! The resources a viewer may reach (`/api/v1/resources`), and the way a browser opens an
//! HTTP resource: `open` issues a Ward token for the viewer, no longer-lived than their
//! sign-in, which the browser posts to the HTTP listener's `/RESOURCE/.ward/launch`; that sets
//! a cookie for the resource's path, and the browser goes on through Ward (docs/http.md).

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use serde::Serialize;
use utoipa::ToSchema;
use ward_config::{Config, ResourceKind};
use ward_core::Timestamp;
use ward_store::credentials::{CredentialKind, NewCredential};

use super::api::Viewer;
use super::model::ErrorBody;
use super::{ApiError, Web};

pub fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/api/v1/resources", get(list_resources))
        .route("/api/v1/resources/{name}/open", post(open_resource))
}

/// A resource a grant names the viewer for.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceEntry {
    pub name: String,
    /// `postgres`, `ssh` or `http`.
    pub kind: String,
    /// HTTP: where a client reaches it through Ward.
    pub url: Option<String>,
    /// Every grant of it needs an approved access request first.
    pub requires_approval: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceList {
    pub resources: Vec<ResourceEntry>,
}

/// How a browser signs in to an HTTP resource.
#[derive(Debug, Serialize, ToSchema)]
pub struct Launch {
    /// Where the browser posts `token` (a form field): the HTTP listener sets a cookie for the
    /// resource and sends the browser on to it.
    pub launch: String,
    /// A Ward token for the viewer, valid no longer than their sign-in.
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
}

fn kind(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Postgres => "postgres",
        ResourceKind::Ssh => "ssh",
        ResourceKind::Http => "http",
    }
}

/// `https://HOST:PORT/NAME`: the HTTP listener on the host the browser reached Ward by.
fn http_url(config: &Config, headers: &HeaderMap, name: &str) -> Option<String> {
    let port = config.listen.http?.port();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| match h.rsplit_once(':') {
            Some((host, p)) if p.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => h,
        })
        .unwrap_or("localhost");
    Some(format!("https://{host}:{port}/{name}"))
}

/// Whether a grant names the viewer for `resource`, and whether all of them need approval.
fn granted(config: &Config, viewer: &Viewer, resource: &str) -> Option<bool> {
    let (subject, groups) = (&viewer.identity.subject, &viewer.identity.groups);
    let mut grants = config
        .grants
        .iter()
        .filter(|g| g.names(subject, groups) && g.resources.iter().any(|r| r == resource))
        .peekable();
    grants.peek()?;
    Some(grants.all(|g| g.requires_approval))
}

/// The resources the viewer's grants name, with where to reach each HTTP resource.
#[utoipa::path(get, path = "/api/v1/resources", tag = "resources",
    responses((status = 200, body = ResourceList), (status = 401, body = ErrorBody)))]
pub(super) async fn list_resources(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
) -> Result<Json<ResourceList>, ApiError> {
    let viewer = web.viewer(&headers)?;
    let runtime = web.runtime();
    let config = &runtime.config;
    let resources = config
        .resources
        .iter()
        .filter_map(|r| {
            let requires_approval = granted(config, &viewer, &r.name)?;
            Some(ResourceEntry {
                name: r.name.clone(),
                kind: kind(r.kind).into(),
                url: (r.kind == ResourceKind::Http)
                    .then(|| http_url(config, &headers, &r.name))
                    .flatten(),
                requires_approval,
            })
        })
        .collect();
    Ok(Json(ResourceList { resources }))
}

/// Opens an HTTP resource in the browser: a Ward token for the viewer, and where to post it.
#[utoipa::path(post, path = "/api/v1/resources/{name}/open", tag = "resources",
    params(("name" = String, Path, description = "an HTTP resource"),
           ("X-CSRF-Token" = String, Header, description = "the `csrf` of the sign-in")),
    responses((status = 200, body = Launch), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn open_resource(
    State(web): State<Arc<Web>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Launch>, ApiError> {
    let viewer = web.viewer_changing(&headers)?;
    let runtime = web.runtime();
    let config = &runtime.config;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("Ward serves no HTTP resource \"{name}\" on an HTTP listener"),
        )
    };
    let resource = config
        .resource(&name)
        .filter(|r| r.kind == ResourceKind::Http);
    let url = resource
        .and_then(|_| http_url(config, &headers, &name))
        .ok_or_else(not_found)?;
    if granted(config, &viewer, &name).is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "no_grant",
            format!(
                "user \"{}\" has no grant for resource \"{name}\"; ask an administrator for access",
                viewer.identity.subject
            ),
        ));
    }
    let left = viewer.expires.saturating_duration_since(Instant::now());
    let ttl = left.min(config.auth.token_ttl.0);
    let ttl = i64::try_from(ttl.as_nanos()).unwrap_or(i64::MAX);
    let expires_at = Timestamp(Timestamp::now().0.saturating_add(ttl));
    let identity = &viewer.identity;
    let new = NewCredential {
        kind: CredentialKind::Token,
        subject: identity.subject.clone(),
        groups: identity.groups.clone(),
        issuer: identity.issuer.clone(),
        method: "web".into(),
        expires_at: Some(expires_at),
    };
    let (_, token) = web
        .store_blocking(|store| store.issue_credential(&new))
        .map_err(ApiError::internal)?;
    Ok(Json(Launch {
        launch: format!("{url}/.ward/launch"),
        token,
        expires_at: expires_at.to_rfc3339(),
    }))
}
