//! `/api/openapi.json`: the OpenAPI 3 description of the JSON API, generated from the handlers'
//! annotations and the types in [`super::model`].

use axum::Json;
use utoipa::OpenApi;

use super::model::{
    ErrorBody, Event, EventPage, Info, Integrity, LoginBody, Match, Me, Segment, Session,
    SessionDetail, SessionList, TerminateBody,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ward API",
        description = "Ward's JSON API: sign in, find recorded sessions, read their events, check their integrity, export them, end live ones; ask for access and approve or deny it. Errors are `{\"error\": CODE, \"message\": TEXT}`."
    ),
    paths(
        super::api::login,
        super::api::logout,
        super::api::me,
        super::api::list,
        super::api::detail,
        super::api::events,
        super::api::export,
        super::api::terminate,
        super::requests::create_request,
        super::requests::list_requests,
        super::requests::request_detail,
        super::requests::approve_request,
        super::requests::deny_request,
        super::resources::list_resources,
        super::activity::activity,
        super::resources::open_resource,
        super::api::ready,
        super::login::info,
    ),
    components(schemas(
        ErrorBody,
        LoginBody,
        TerminateBody,
        Me,
        Info,
        Session,
        Match,
        Segment,
        SessionList,
        Integrity,
        SessionDetail,
        Event,
        EventPage,
        super::requests::AccessRequest,
        super::requests::Review,
        super::requests::RequestList,
        super::requests::NewRequest,
        super::requests::ReviewBody,
        super::resources::ResourceEntry,
        super::resources::ResourceList,
        super::resources::Launch,
        super::activity::Activity,
        ward_core::activity::ActivityItem,
        ward_core::activity::Proposal
    ))
)]
struct ApiDoc;

pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The document as pretty JSON: what `ward openapi` prints, and what web/openapi.json (from
/// which the web UI's types are generated) must be.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    /// web/openapi.json, from which web/src/api.gen.ts is generated, is this server's document.
    #[test]
    fn the_web_uis_copy_of_the_api_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/openapi.json");
        let copy = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            copy.trim_end() == super::json().trim_end(),
            "web/openapi.json is not the API's document: run `./x api` and commit what changes"
        );
    }
}
