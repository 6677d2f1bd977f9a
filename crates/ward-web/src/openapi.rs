//! `/api/openapi.json`: the OpenAPI 3 description of the JSON API, generated from the handlers'
//! annotations and the types in [`super::model`].

use axum::Json;
use utoipa::OpenApi;

use super::model::{
    ErrorBody, Event, EventPage, Info, Integrity, LoginBody, Match, Me, Segment, Session,
    SessionDetail, SessionList,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ward API",
        description = "Ward's JSON API: sign in, find recorded sessions, read their events, check their integrity, export them. Errors are `{\"error\": CODE, \"message\": TEXT}`."
    ),
    paths(
        super::api::login,
        super::api::logout,
        super::api::me,
        super::api::list,
        super::api::detail,
        super::api::events,
        super::api::export,
        super::api::ready,
        super::login::info,
    ),
    components(schemas(
        ErrorBody,
        LoginBody,
        Me,
        Info,
        Session,
        Match,
        Segment,
        SessionList,
        Integrity,
        SessionDetail,
        Event,
        EventPage
    ))
)]
struct ApiDoc;

pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
