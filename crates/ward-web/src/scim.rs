//! SCIM 2.0 (RFC 7643, 7644) at `/scim/v2`: an identity provider provisions and deprovisions
//! Ward's users and their groups. A user's `userName` is its Ward user name (the subject its
//! logins carry). Setting `active` to false, or deleting the user, disables it as
//! `ward users disable` does (its credentials revoked, its sessions ended on every Ward); setting
//! it true again enables it. A SCIM user's groups are its SCIM groups' `displayName`s, whatever
//! its credentials say: a change ends the sessions the new groups no longer grant. Each change is
//! recorded (`scim.change`) in a session of the provider's own.
//!
//! The provider authenticates with a bearer token (`[auth] scim_token_file`). Filters: `userName
//! eq "…"` and `displayName eq "…"`; PATCH: `add`, `replace` and `remove` of top-level
//! attributes, and of `members` (also `members[value eq "…"]`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use ward_auth::secret;
use ward_core::payload::{Auth, Payload, ScimChange};
use ward_core::{Identity, Outcome, Protocol, Timestamp};
use ward_store::scim::{ScimGroup, ScimUser};
use ward_store::{MaskedJson, Store, StoreError};

use super::Web;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Who disables a user SCIM deprovisions (and so may enable it again).
const BY: &str = "the identity provider (SCIM)";

pub fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/scim/v2/ServiceProviderConfig", get(provider_config))
        .route("/scim/v2/ResourceTypes", get(resource_types))
        .route("/scim/v2/Users", get(list_users).post(create_user))
        .route(
            "/scim/v2/Users/{id}",
            get(get_user)
                .put(replace_user)
                .patch(patch_user)
                .delete(delete_user),
        )
        .route("/scim/v2/Groups", get(list_groups).post(create_group))
        .route(
            "/scim/v2/Groups/{id}",
            get(get_group)
                .put(replace_group)
                .patch(patch_group)
                .delete(delete_group),
        )
}

/// A SCIM error response.
struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

fn error(
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: impl Into<String>,
) -> ScimError {
    ScimError {
        status,
        scim_type,
        detail: detail.into(),
    }
}

fn invalid(detail: impl Into<String>) -> ScimError {
    error(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
}

fn not_found(what: &str, id: &str) -> ScimError {
    error(
        StatusCode::NOT_FOUND,
        None,
        format!("no {what} with id {id}"),
    )
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(why) => error(StatusCode::CONFLICT, Some("uniqueness"), why),
            e => {
                tracing::warn!(error = %e, "SCIM request failed");
                error(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string())
            }
        }
    }
}

/// `body` as SCIM JSON with `status`.
fn scim(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json"),
    );
    response
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        scim(self.status, body)
    }
}

type Answer = Result<Response, ScimError>;

impl Web {
    /// Refuses a request without the SCIM token (or when SCIM is off).
    fn scim_caller(&self, headers: &HeaderMap) -> Result<(), ScimError> {
        let runtime = self.runtime();
        let Some(token) = &runtime.config.auth.scim_token else {
            return Err(error(
                StatusCode::NOT_FOUND,
                None,
                "SCIM is not enabled on this Ward",
            ));
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !secret::equal(given, token.expose()) {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                None,
                "a valid SCIM bearer token is required",
            ));
        }
        Ok(())
    }

    fn scim_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, ScimError> {
        self.store_blocking(f).map_err(ScimError::from)
    }

    /// Records `change` in a session of the identity provider's own.
    async fn scim_record(&self, change: ScimChange) {
        let runtime = self.runtime();
        let identity = Identity {
            subject: "scim".into(),
            groups: Vec::new(),
            method: "scim-token".into(),
            issuer: "scim".into(),
            credential: None,
        };
        let start = ward_admit::Start {
            protocol: Protocol::Web,
            client_addr: String::new(),
            parameters: Default::default(),
            reason: None,
            auth: Auth::ok(&identity),
        };
        let rec = runtime.open(identity, "ward-scim", start).await;
        rec.record(MaskedJson::from(Payload::ScimChange(change)))
            .await;
        rec.end(Outcome::Ok, 0, 0).await;
    }

    fn location(&self, kind: &str, id: &str) -> String {
        format!("{}/scim/v2/{kind}/{id}", self.public_url)
    }

    fn user_json(&self, u: &ScimUser) -> Value {
        let mut body = u.body.clone();
        body["schemas"] = json!([USER]);
        body["id"] = json!(u.id);
        body["userName"] = json!(u.user_name);
        body["active"] = json!(u.active);
        body["meta"] = meta(
            self.location("Users", &u.id),
            "User",
            u.created_at,
            u.updated_at,
        );
        body
    }

    fn group_json(&self, g: &ScimGroup) -> Value {
        let mut body = g.body.clone();
        body["schemas"] = json!([GROUP]);
        body["id"] = json!(g.id);
        body["displayName"] = json!(g.display_name);
        body["members"] = g
            .members
            .iter()
            .map(|(id, name)| {
                json!({ "value": id, "display": name, "type": "User", "$ref": self.location("Users", id) })
            })
            .collect();
        body["meta"] = meta(
            self.location("Groups", &g.id),
            "Group",
            g.created_at,
            g.updated_at,
        );
        body
    }

    /// Disables or enables `user` as its `active` says; what Ward did, if anything.
    fn apply_active(&self, user: &ScimUser) -> Result<Option<String>, ScimError> {
        let name = user.user_name.clone();
        let effect = self.scim_store(|s| {
            let disabled = s.disabled_users()?;
            let now = disabled.iter().find(|d| d.name == name);
            match (user.active, now) {
                (false, None) => {
                    s.disable_user(&name, BY, "deprovisioned by the identity provider")?;
                    Ok(Some("user disabled"))
                }
                (true, Some(d)) if d.by == BY => {
                    s.enable_user(&name)?;
                    Ok(Some("user enabled"))
                }
                _ => Ok(None),
            }
        })?;
        Ok(effect.map(str::to_owned))
    }
}

fn meta(location: String, kind: &str, created: Timestamp, modified: Timestamp) -> Value {
    json!({
        "resourceType": kind,
        "created": created.to_rfc3339(),
        "lastModified": modified.to_rfc3339(),
        "location": location,
        "version": format!("W/\"{}\"", modified.0),
    })
}

/// A ListResponse of `resources`, from 1-based `start` of `total`.
fn list(resources: Vec<Value>, start: usize, total: usize) -> Response {
    scim(
        StatusCode::OK,
        json!({
            "schemas": [LIST],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct ListQuery {
    filter: Option<String>,
    start_index: Option<usize>,
    count: Option<usize>,
}

/// The value of `filter` when it is `ATTRIBUTE eq "VALUE"` for `attribute`.
fn equals(filter: &str, attribute: &str) -> Result<String, ScimError> {
    let bad = || {
        error(
            StatusCode::BAD_REQUEST,
            Some("invalidFilter"),
            format!("Ward understands only the filter {attribute} eq \"…\""),
        )
    };
    let mut parts = filter.trim().splitn(3, ' ');
    let (a, op, value) = (parts.next(), parts.next(), parts.next());
    match (a, op, value) {
        (Some(a), Some(op), Some(v))
            if a.eq_ignore_ascii_case(attribute) && op.eq_ignore_ascii_case("eq") =>
        {
            serde_json::from_str::<String>(v.trim()).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

/// One page of `all`, as `q` asks (1-based `startIndex`).
fn page(all: Vec<Value>, q: &ListQuery) -> Response {
    let start = q.start_index.unwrap_or(1).max(1);
    let count = q.count.unwrap_or(usize::MAX);
    let total = all.len();
    let resources: Vec<Value> = all.into_iter().skip(start - 1).take(count).collect();
    list(resources, start, total)
}

fn parse(body: &Bytes) -> Result<Map<String, Value>, ScimError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            "the body must be a JSON object",
        )),
    }
}

/// What a client sent, without what the server sets (`id`, `meta`, `schemas`).
fn stored(mut map: Map<String, Value>) -> Value {
    for key in ["id", "meta", "schemas"] {
        map.remove(key);
    }
    Value::Object(map)
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

fn user_parts(map: Map<String, Value>) -> Result<(String, bool, Value), ScimError> {
    let name = text(&map, "userName")
        .ok_or_else(|| invalid("userName is required"))?
        .to_owned();
    let active = map
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("active"))
        .map_or(Ok(true), |(_, v)| match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(invalid("active must be true or false")),
        })?;
    Ok((name, active, stored(map)))
}

fn group_parts(map: Map<String, Value>) -> Result<(String, Vec<String>, Value), ScimError> {
    let name = text(&map, "displayName")
        .ok_or_else(|| invalid("displayName is required"))?
        .to_owned();
    let members = member_ids(map.get("members").unwrap_or(&Value::Null))?;
    let mut rest = map;
    rest.remove("members");
    Ok((name, members, stored(rest)))
}

/// The user ids of a `members` value.
fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|m| {
                m["value"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid("each member needs a value (a user id)"))
            })
            .collect(),
        _ => Err(invalid("members must be a list")),
    }
}

/// The operations of a PatchOp body.
fn operations(body: &Bytes) -> Result<Vec<(String, Option<String>, Value)>, ScimError> {
    let map = parse(body)?;
    let schemas_ok = map
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|x| x == PATCH));
    if !schemas_ok {
        return Err(error(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            format!("a PATCH body has schemas [\"{PATCH}\"]"),
        ));
    }
    let ops = map
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| invalid("Operations is required"))?;
    ops.iter()
        .map(|op| {
            let name = op["op"].as_str().unwrap_or_default().to_ascii_lowercase();
            if !matches!(name.as_str(), "add" | "replace" | "remove") {
                return Err(invalid(format!(
                    "op must be add, replace or remove, not `{name}`"
                )));
            }
            let path = op["path"].as_str().map(str::to_owned);
            Ok((name, path, op["value"].clone()))
        })
        .collect()
}

/// The key of `map` named `p`, whatever its case (SCIM attribute names are case-insensitive).
fn key(map: &Map<String, Value>, p: &str) -> String {
    map.keys()
        .find(|k| k.eq_ignore_ascii_case(p))
        .cloned()
        .unwrap_or_else(|| p.to_owned())
}

/// Applies an operation on a top-level attribute of `map` (`path`), or merges `value` in.
fn apply(
    map: &mut Map<String, Value>,
    op: &str,
    path: Option<&str>,
    value: Value,
) -> Result<(), ScimError> {
    match (op, path) {
        ("remove", Some(p)) => {
            let k = key(map, p);
            map.remove(&k);
        }
        ("remove", None) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                Some("noTarget"),
                "remove needs a path",
            ));
        }
        (_, Some(p)) if p.contains(['[', '.']) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                Some("invalidPath"),
                format!("Ward patches top-level attributes, not `{p}`"),
            ));
        }
        (_, Some(p)) => {
            let k = key(map, p);
            map.insert(k, value);
        }
        (_, None) => {
            let Value::Object(fields) = value else {
                return Err(invalid("an operation without a path needs an object value"));
            };
            for (k, v) in fields {
                let k = key(map, &k);
                map.insert(k, v);
            }
        }
    }
    Ok(())
}

async fn provider_config(State(web): State<Arc<Web>>, headers: HeaderMap) -> Answer {
    web.scim_caller(&headers)?;
    let no = json!({ "supported": false });
    Ok(scim(
        StatusCode::OK,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": format!("{}/docs/identity.md", web.public_url),
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": 1000 },
            "changePassword": no,
            "sort": no,
            "etag": no,
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The token of [auth] scim_token_file",
            }],
            "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{}/scim/v2/ServiceProviderConfig", web.public_url) },
        }),
    ))
}

async fn resource_types(State(web): State<Arc<Web>>, headers: HeaderMap) -> Answer {
    web.scim_caller(&headers)?;
    let kind = |name: &str, endpoint: &str, schema: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": name, "name": name, "endpoint": endpoint, "schema": schema,
            "meta": { "resourceType": "ResourceType", "location": format!("{}/scim/v2/ResourceTypes/{name}", web.public_url) },
        })
    };
    Ok(list(
        vec![
            kind("User", "/Users", USER),
            kind("Group", "/Groups", GROUP),
        ],
        1,
        2,
    ))
}

async fn list_users(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Answer {
    web.scim_caller(&headers)?;
    let name = q
        .filter
        .as_deref()
        .map(|f| equals(f, "userName"))
        .transpose()?;
    let users = web.scim_store(|s| s.scim_users(name.as_deref()))?;
    Ok(page(users.iter().map(|u| web.user_json(u)).collect(), &q))
}

async fn get_user(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    web.scim_caller(&headers)?;
    let user = web
        .scim_store(|s| s.scim_user(&id))?
        .ok_or_else(|| not_found("user", &id))?;
    Ok(scim(StatusCode::OK, web.user_json(&user)))
}

/// Writes a user (`id` none: creates it), applies its `active`, records the change.
async fn write_user(
    web: &Web,
    id: Option<&str>,
    op: &str,
    map: Map<String, Value>,
) -> Result<ScimUser, ScimError> {
    let (name, active, body) = user_parts(map)?;
    let user = web
        .scim_store(|s| s.scim_put_user(id, &name, active, &body))?
        .ok_or_else(|| not_found("user", id.unwrap_or_default()))?;
    let effect = web.apply_active(&user)?;
    web.scim_record(ScimChange {
        resource_type: "User".into(),
        op: op.into(),
        id: user.id.clone(),
        name: user.user_name.clone(),
        active: Some(user.active),
        members: None,
        effect,
    })
    .await;
    Ok(user)
}

async fn create_user(State(web): State<Arc<Web>>, headers: HeaderMap, body: Bytes) -> Answer {
    web.scim_caller(&headers)?;
    let user = write_user(&web, None, "create", parse(&body)?).await?;
    Ok(scim(StatusCode::CREATED, web.user_json(&user)))
}

async fn replace_user(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    web.scim_caller(&headers)?;
    let user = write_user(&web, Some(&id), "replace", parse(&body)?).await?;
    Ok(scim(StatusCode::OK, web.user_json(&user)))
}

async fn patch_user(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    web.scim_caller(&headers)?;
    let ops = operations(&body)?;
    let user = web
        .scim_store(|s| s.scim_user(&id))?
        .ok_or_else(|| not_found("user", &id))?;
    let Value::Object(mut map) = web.user_json(&user) else {
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "stored user",
        ));
    };
    for (op, path, value) in ops {
        apply(&mut map, &op, path.as_deref(), value)?;
    }
    let user = write_user(&web, Some(&id), "patch", map).await?;
    Ok(scim(StatusCode::OK, web.user_json(&user)))
}

async fn delete_user(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ScimError> {
    web.scim_caller(&headers)?;
    let user = web
        .scim_store(|s| s.scim_delete_user(&id))?
        .ok_or_else(|| not_found("user", &id))?;
    let gone = ScimUser {
        active: false,
        ..user
    };
    let effect = web.apply_active(&gone)?;
    web.scim_record(ScimChange {
        resource_type: "User".into(),
        op: "delete".into(),
        id: gone.id.clone(),
        name: gone.user_name.clone(),
        active: None,
        members: None,
        effect,
    })
    .await;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_groups(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Answer {
    web.scim_caller(&headers)?;
    let name = q
        .filter
        .as_deref()
        .map(|f| equals(f, "displayName"))
        .transpose()?;
    let groups = web.scim_store(|s| s.scim_groups(name.as_deref()))?;
    Ok(page(groups.iter().map(|g| web.group_json(g)).collect(), &q))
}

async fn get_group(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    web.scim_caller(&headers)?;
    let group = web
        .scim_store(|s| s.scim_group(&id))?
        .ok_or_else(|| not_found("group", &id))?;
    Ok(scim(StatusCode::OK, web.group_json(&group)))
}

/// Writes a group (`id` none: creates it) with exactly `members`, records the change.
async fn write_group(
    web: &Web,
    id: Option<&str>,
    op: &str,
    (name, members, body): (String, Vec<String>, Value),
) -> Result<ScimGroup, ScimError> {
    let group = web
        .scim_store(|s| s.scim_put_group(id, &name, &body, &members))?
        .ok_or_else(|| not_found("group", id.unwrap_or_default()))?;
    web.scim_record(ScimChange {
        resource_type: "Group".into(),
        op: op.into(),
        id: group.id.clone(),
        name: group.display_name.clone(),
        active: None,
        members: Some(group.members.iter().map(|(_, n)| n.clone()).collect()),
        effect: None,
    })
    .await;
    Ok(group)
}

async fn create_group(State(web): State<Arc<Web>>, headers: HeaderMap, body: Bytes) -> Answer {
    web.scim_caller(&headers)?;
    let group = write_group(&web, None, "create", group_parts(parse(&body)?)?).await?;
    Ok(scim(StatusCode::CREATED, web.group_json(&group)))
}

async fn replace_group(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    web.scim_caller(&headers)?;
    let group = write_group(&web, Some(&id), "replace", group_parts(parse(&body)?)?).await?;
    Ok(scim(StatusCode::OK, web.group_json(&group)))
}

async fn patch_group(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    web.scim_caller(&headers)?;
    let ops = operations(&body)?;
    let group = web
        .scim_store(|s| s.scim_group(&id))?
        .ok_or_else(|| not_found("group", &id))?;
    let mut members: Vec<String> = group.members.iter().map(|(id, _)| id.clone()).collect();
    let mut map = match group.body.clone() {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    map.insert("displayName".into(), json!(group.display_name));
    for (op, path, value) in ops {
        let on_members = path.as_deref().map(|p| p.to_ascii_lowercase());
        match (op.as_str(), on_members.as_deref()) {
            ("add", Some("members")) => {
                for m in member_ids(&value)? {
                    if !members.contains(&m) {
                        members.push(m);
                    }
                }
            }
            ("replace", Some("members")) => members = member_ids(&value)?,
            ("remove", Some("members")) if value.is_null() => members.clear(),
            ("remove", Some("members")) => {
                let gone = member_ids(&value)?;
                members.retain(|m| !gone.contains(m));
            }
            ("remove", Some(p)) if p.starts_with("members[") => {
                let inner = p.trim_start_matches("members[").trim_end_matches(']');
                let gone = equals(inner, "value")?;
                members.retain(|m| *m != gone);
            }
            (_, None) if value.get("members").is_some() => {
                let mut value = value;
                let listed = member_ids(&value["members"])?;
                if op == "replace" {
                    members = listed;
                } else {
                    members.extend(
                        listed
                            .into_iter()
                            .filter(|m| !members.contains(m))
                            .collect::<Vec<_>>(),
                    );
                }
                if let Some(fields) = value.as_object_mut() {
                    fields.remove("members");
                }
                apply(&mut map, &op, None, value)?;
            }
            _ => apply(&mut map, &op, path.as_deref(), value)?,
        }
    }
    let name = text(&map, "displayName")
        .ok_or_else(|| invalid("displayName is required"))?
        .to_owned();
    let parts = (name, members, stored(map));
    let group = write_group(&web, Some(&id), "patch", parts).await?;
    Ok(scim(StatusCode::OK, web.group_json(&group)))
}

async fn delete_group(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ScimError> {
    web.scim_caller(&headers)?;
    let group = web
        .scim_store(|s| s.scim_group(&id))?
        .ok_or_else(|| not_found("group", &id))?;
    web.scim_store(|s| s.scim_delete_group(&id))?;
    web.scim_record(ScimChange {
        resource_type: "Group".into(),
        op: "delete".into(),
        id: group.id,
        name: group.display_name,
        active: None,
        members: Some(Vec::new()),
        effect: None,
    })
    .await;
    Ok(StatusCode::NO_CONTENT)
}
