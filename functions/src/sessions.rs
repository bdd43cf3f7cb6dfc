//! `GET /auth/sessions`: the caller's live sessions; `DELETE /auth/sessions`: every one of them
//! ends, the calling one included.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::on;
use shared::answers::Sessions;
use shared::http::ok;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "sessions",
    &[
        Route::get("/auth/sessions", |m| on(m, list_sessions)),
        Route::delete("/auth/sessions", |m| on(m, end_all_sessions)),
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

pub async fn list_sessions(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let sessions = accounts::list_sessions(&state, &auth).await?;
    Ok(ok(Sessions { sessions }))
}

pub async fn end_all_sessions(State(state): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    accounts::end_all_sessions(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}
