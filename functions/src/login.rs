//! `POST /auth` and `POST /login`: log in, get a session token.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::accounts::{self, LoginBody, LoginOutcome};
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "login",
    &[
        Route::post("/auth", |m| on(m, login)),
        Route::post("/login", |m| on(m, login)),
    ],
)
.signs_tokens()
.counts_login_names()
.description("POST /auth and POST /login: log in")
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::ConditionCheckItem,
])
.hashes_passwords();

pub async fn login(
    State(state): State<AppState>,
    Body { body, .. }: Body<LoginBody>,
) -> ApiResult<Json<LoginOutcome>> {
    accounts::log_in(&state, body).await.map(Json)
}
