//! Headers: which pass upstream and back, which are recorded, and Ward's credential upstream.

use std::collections::BTreeMap;

use base64::Engine as _;
use hyper::HeaderMap;
use hyper::header::{self, HeaderName, HeaderValue};
use ward_config::{HttpCredential, Resource, Secret};

/// The header a client gives its reason for the access in.
pub const REASON: &str = "x-ward-reason";

/// Headers that belong to one hop, never relayed (RFC 9110, 7.6.1), besides those a
/// `Connection` header names.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
];

/// Whether a header's value is a credential: never recorded (its name is, in `removed`).
fn is_credential(name: &str) -> bool {
    const WORDS: [&str; 7] = [
        "auth", "cookie", "token", "secret", "key", "password", "session",
    ];
    // Not secrets, though their names say so.
    const PLAIN: [&str; 3] = [
        "sec-websocket-key",
        "sec-websocket-accept",
        "sec-websocket-version",
    ];
    // A DPoP proof stands for its credential on one request.
    name == "dpop" || (!PLAIN.contains(&name) && WORDS.iter().any(|w| name.contains(w)))
}

/// The headers of a request or response as recorded: every header but credentials, whose
/// names are listed instead; repeated headers joined with `, `.
pub fn recorded(headers: &HeaderMap) -> (BTreeMap<String, String>, Vec<String>) {
    let mut kept: BTreeMap<String, String> = BTreeMap::new();
    let mut removed = Vec::new();
    for (name, value) in headers {
        let name = name.as_str();
        if is_credential(name) {
            if !removed.iter().any(|r| r == name) {
                removed.push(name.to_owned());
            }
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes());
        kept.entry(name.to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    (kept, removed)
}

/// Removes the hop-by-hop headers, and those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Removes Ward's own cookies (`ward_*`) from a `Cookie` header, keeping the upstream's.
pub fn strip_ward_cookies(headers: &mut HeaderMap) {
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.starts_with("ward_"))
        .map(str::to_owned)
        .collect();
    headers.remove(header::COOKIE);
    if !kept.is_empty()
        && let Ok(v) = HeaderValue::from_str(&kept.join("; "))
    {
        headers.insert(header::COOKIE, v);
    }
}

/// Sets Ward's credential for `resource` (the grant's secret, else the resource's).
pub fn inject_credential(
    headers: &mut HeaderMap,
    resource: &Resource,
    user: &str,
    secret: Option<&Secret>,
) {
    let (Some(kind), Some(secret)) = (resource.credential, secret) else {
        return;
    };
    let (name, value) = match kind {
        HttpCredential::Bearer => (header::AUTHORIZATION, format!("Bearer {}", secret.expose())),
        HttpCredential::Basic => {
            let pair = format!("{user}:{}", secret.expose());
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            (header::AUTHORIZATION, format!("Basic {encoded}"))
        }
        HttpCredential::Header => {
            let Some(Ok(name)) = resource
                .credential_header
                .as_deref()
                .map(|n| HeaderName::from_bytes(n.as_bytes()))
            else {
                return;
            };
            (name, secret.expose().to_owned())
        }
    };
    if let Ok(mut value) = HeaderValue::from_str(&value) {
        value.set_sensitive(true);
        headers.insert(name, value);
    }
}

/// The `Host` an upstream expects: the authority of its URL.
pub fn upstream_host(resource: &Resource) -> Option<HeaderValue> {
    let url = resource.url.as_deref()?;
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    HeaderValue::from_str(authority).ok()
}

/// A `Location` an upstream answered with, as the client must follow it: through Ward.
pub fn location_through_ward(location: &str, resource: &Resource) -> Option<String> {
    let prefix = format!("/{}", resource.name);
    let url = resource.url.as_deref()?.trim_end_matches('/');
    if let Some(rest) = location.strip_prefix(url) {
        return Some(format!("{prefix}{rest}"));
    }
    if location.starts_with('/') && !location.starts_with("//") {
        let base = resource.base_path.as_str();
        if let Some(rest) = location.strip_prefix(base)
            && (rest.is_empty() || rest.starts_with(['/', '?']))
        {
            return Some(format!("{prefix}{rest}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn credentials_are_never_recorded_and_the_rest_is() {
        let h = map(&[
            ("authorization", "Bearer x"),
            ("x-api-key", "k"),
            ("cookie", "a=b"),
            ("x-auth-token", "t"),
            ("accept", "a"),
            ("accept", "b"),
            ("sec-websocket-key", "dGhl"),
            ("content-type", "application/json"),
        ]);
        let (kept, removed) = recorded(&h);
        assert_eq!(
            kept.keys().collect::<Vec<_>>(),
            ["accept", "content-type", "sec-websocket-key"]
        );
        assert_eq!(kept["accept"], "a, b");
        assert_eq!(
            removed,
            ["authorization", "x-api-key", "cookie", "x-auth-token"]
        );
    }

    #[test]
    fn hop_by_hop_and_ward_cookies_stay_with_ward() {
        let mut h = map(&[
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("keep-alive", "timeout=5"),
            ("cookie", "ward_app=secret; theme=dark"),
            ("cookie", "ward_session=s"),
            ("accept", "*/*"),
        ]);
        strip_hop_by_hop(&mut h);
        strip_ward_cookies(&mut h);
        assert_eq!(h.len(), 2);
        assert_eq!(h["cookie"], "theme=dark");
    }

    #[test]
    fn locations_lead_back_through_ward() {
        let toml = "[listen]\n[[resources]]\nname = \"app\"\nkind = \"http\"\nurl = \"http://10.0.0.1:8080/base/\"\n";
        let c =
            ward_config::Config::from_toml(toml, std::path::Path::new("/w.toml")).expect("valid");
        let r = c.resource("app").expect("app");
        let through = |l| location_through_ward(l, r);
        assert_eq!(
            through("/base/login?x=1").as_deref(),
            Some("/app/login?x=1")
        );
        assert_eq!(
            through("http://10.0.0.1:8080/base/a").as_deref(),
            Some("/app/a")
        );
        assert_eq!(through("/other"), None);
        assert_eq!(through("/basement"), None);
        assert_eq!(through("https://elsewhere/"), None);
        assert_eq!(upstream_host(r).expect("host"), "10.0.0.1:8080");
    }
}

/// A request's path as Ward checks it and sends it on: percent-escapes of unreserved
/// characters decoded (`%61` is `a`), empty segments dropped (`//`), `.` and `..` resolved.
/// A service that would read `/x/../admin` or `/%61dmin` as `/admin` gets `/admin`, which the
/// guardrails saw.
pub fn normalise_path(raw: &str) -> String {
    let decoded = percent_decode(raw, |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let trailing = decoded.ends_with('/') && !segments.is_empty();
    let mut path = format!("/{}", segments.join("/"));
    if trailing {
        path.push('/');
    }
    path
}

/// A normalised path with every percent-escape decoded (`%2F` too), for the guardrails only: a
/// service may decode more than Ward forwards decoded.
pub fn fully_decoded(path: &str) -> String {
    normalise_path(&percent_decode(path, |_| true))
}

/// `raw` with the percent-escapes of the bytes `decode` takes decoded (the others kept); bytes
/// that are not UTF-8 once decoded are replaced.
fn percent_decode(raw: &str, decode: impl Fn(u8) -> bool) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| raw.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .filter(|b| decode(*b));
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn paths_are_checked_and_sent_as_a_service_would_read_them() {
        for (raw, sent) in [
            ("/admin/users", "/admin/users"),
            ("/x/../admin", "/admin"),
            ("//admin//users/", "/admin/users/"),
            ("/./admin/./x", "/admin/x"),
            ("/%61dmin/%7Eme", "/admin/~me"),
            ("/../../admin", "/admin"),
            ("/a%2Fb", "/a%2Fb"),
            ("/caf%C3%A9", "/caf%C3%A9"),
            ("/", "/"),
            ("", "/"),
        ] {
            assert_eq!(normalise_path(raw), sent, "{raw}");
        }
        assert_eq!(fully_decoded("/x%2F..%2Fadmin"), "/admin");
        // Decoded twice, even: a service that decodes twice is caught too.
        assert_eq!(fully_decoded("/%2561dmin"), "/admin");
    }
}
