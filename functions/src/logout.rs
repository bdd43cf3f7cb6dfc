//! `DELETE /auth`: ends the token's session; the token is refused from then on.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::on;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function =
    Function::new("logout", &[Route::delete("/auth", |m| on(m, logout))])
        .description("DELETE /auth: end the session")
        .table(&[TableAction::GetItem, TableAction::DeleteItem])
        .records_events();

pub async fn logout(State(state): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    accounts::log_out(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}
