//! `GET /auth/sessions`: the caller's live sessions; `DELETE /auth/sessions`: every one of them
//! ends, the calling one included.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::on;
use shared::answers::Sessions;
use shared::api_doc::{Answer, Doc};
use shared::http::ok;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "sessions",
    &[
        Route::get("/auth/sessions", |m| on(m, list_sessions)).doc(DOC_GET_AUTH_SESSIONS),
        Route::delete("/auth/sessions", |m| on(m, end_all_sessions)).doc(DOC_DELETE_AUTH_SESSIONS),
    ],
)
.sends_mail()
.description("GET and DELETE /auth/sessions: the caller's sessions, and ending them all")
.table(&[
    TableAction::GetItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::Query,
])
.records_events();

/// GET /auth/sessions in openapi.json.
const DOC_GET_AUTH_SESSIONS: Doc = Doc::new("listSessions", "The caller's live sessions")
    .bearer()
    .answers(&[Answer::json::<shared::answers::Sessions>(200, "OK")])
    .errors(&[401, 503]);

/// DELETE /auth/sessions in openapi.json.
const DOC_DELETE_AUTH_SESSIONS: Doc = Doc::new(
    "endAllSessions",
    "End every session of the caller, this one included",
)
.bearer()
.answers(&[Answer::empty(204, "Every session ended")])
.errors(&[401, 503]);

pub async fn list_sessions(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let sessions = accounts::list_sessions(&state, &auth).await?;
    Ok(ok(Sessions { sessions }))
}

pub async fn end_all_sessions(State(state): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    accounts::end_all_sessions(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}
