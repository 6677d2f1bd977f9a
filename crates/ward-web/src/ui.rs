//! The web UI's files, embedded at build time (see `build.rs`): hashed assets cached for good,
//! `index.html` for every other path so the single-page app can route.

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

const NOT_BUILT: &str = "<!doctype html><title>Ward</title><p>This Ward was built without its web UI. Run <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>, then build Ward again. The API is at <code>/api/v1</code>.</p>\n";

/// Content security policy: the UI loads only its own scripts and styles.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json" | "map") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn find(path: &str) -> Option<&'static [u8]> {
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

/// Serves `uri`'s file, or `index.html` for the app's own routes.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") {
        return super::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API route")
            .into_response();
    }
    let (file, body) = match find(path) {
        Some(body) if path != "/" => (path, body),
        _ if path.starts_with("/assets/") => {
            return (StatusCode::NOT_FOUND, "no such file").into_response();
        }
        _ => match find("/index.html") {
            Some(body) => ("/index.html", body),
            None => ("/index.html", NOT_BUILT.as_bytes()),
        },
    };
    let cache = if file.starts_with("/assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, content_type(file)),
            (header::CACHE_CONTROL, cache),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}
