//! The resources a viewer may reach (`/api/v1/resources`), and the way a browser opens an
//! HTTP resource: `open` issues a Ward token for the viewer, no longer-lived than their
//! sign-in, which the browser posts to the HTTP listener's `/RESOURCE/.ward/launch`; that sets
//! a cookie for the resource's path, and the browser goes on through Ward (docs/http.md).
//!
//! The web UI cannot post there itself: its content security policy lets its forms post to the
//! web listener only (`form-action 'self'`). It posts the token to `launch` here, in a new tab,
//! and that page, with a policy of its own, posts it on to the HTTP listener.

use std::sync::{Arc, LazyLock};
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
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
        .route("/api/v1/resources/{name}/launch", post(launch_page))
}

/// A resource a grant names the viewer for.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceEntry {
    pub name: String,
    /// `postgres`, `mysql`, `ssh` or `http`.
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
        ResourceKind::Mysql => "mysql",
        ResourceKind::Ssh => "ssh",
        ResourceKind::Http => "http",
    }
}

/// `https://HOST:PORT`: the HTTP listener on the host the browser reached Ward by.
fn http_origin(config: &Config, headers: &HeaderMap) -> Option<String> {
    let port = config.listen.http?.port();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| match h.rsplit_once(':') {
            Some((host, p)) if p.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => h,
        })
        .unwrap_or("localhost");
    Some(format!("https://{host}:{port}"))
}

/// `https://HOST:PORT/NAME`: where the HTTP listener serves resource `name`.
fn http_url(config: &Config, headers: &HeaderMap, name: &str) -> Option<String> {
    Some(format!("{}/{name}", http_origin(config, headers)?))
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
        key: None,
    };
    let (credential, token) = web
        .store_blocking(|store| store.issue_credential(&new))
        .map_err(ApiError::internal)?;
    // The viewer's session says which token opened the resource, as its HTTP session will.
    viewer
        .viewed(
            "",
            &format!("open resource {name} (token {})", credential.id),
        )
        .await;
    Ok(Json(Launch {
        launch: format!("{url}/.ward/launch"),
        token,
        expires_at: expires_at.to_rfc3339(),
    }))
}

#[derive(Deserialize)]
pub(super) struct LaunchForm {
    token: String,
}

/// The launch page's only script: it posts its form as soon as it is read.
const LAUNCH_SCRIPT: &str = "document.forms[0].submit();";

/// The launch page's script, as its content security policy allows it (`'sha256-…'`).
static LAUNCH_SCRIPT_HASH: LazyLock<String> = LazyLock::new(|| {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(LAUNCH_SCRIPT.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
});

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page a new tab opens an HTTP resource with: it posts `token` (the one `open` issued;
/// a form field, as the web UI posts it) on to the resource's `/.ward/launch` on the HTTP
/// listener, which checks it. It issues nothing itself; it answers only the signed-in viewer
/// (the sign-in cookie is `SameSite=Strict`: only Ward's own pages post here with it).
pub(super) async fn launch_page(
    State(web): State<Arc<Web>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(form): Form<LaunchForm>,
) -> Result<Response, ApiError> {
    web.viewer(&headers)?;
    let runtime = web.runtime();
    let config = &runtime.config;
    let origin = config
        .resource(&name)
        .filter(|r| r.kind == ResourceKind::Http)
        .and_then(|_| http_origin(config, &headers))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("Ward serves no HTTP resource \"{name}\" on an HTTP listener"),
            )
        })?;
    let token = form.token;
    if token.is_empty() || token.len() > 1024 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("post the token /api/v1/resources/{name}/open gave, as the form field `token`"),
        ));
    }
    let shown = html_escape(&name);
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>Opening {shown}</title></head>\n\
         <body><form method=\"post\" action=\"{action}/.ward/launch\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <p>Opening {shown} through Ward… <button type=\"submit\">Continue</button></p></form>\n\
         <script>{LAUNCH_SCRIPT}</script></body></html>\n",
        action = html_escape(&format!("{origin}/{name}")),
        token = html_escape(&token),
    );
    let csp = format!(
        "default-src 'none'; script-src {}; form-action {origin}; base-uri 'none'; frame-ancestors 'none'",
        *LAUNCH_SCRIPT_HASH
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::REFERRER_POLICY, "no-referrer".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        page,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_launch_script_is_the_one_its_policy_allows() {
        // echo -n 'document.forms[0].submit();' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            *LAUNCH_SCRIPT_HASH,
            "'sha256-8lDeP0UDwCO6/RhblgeH/ctdBzjVpJxrXizsnIk3cEQ='"
        );
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(html_escape("a\"<b>&'"), "a&quot;&lt;b&gt;&amp;&#39;");
    }
}
