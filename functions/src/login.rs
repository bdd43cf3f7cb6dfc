//! `POST /auth` and `POST /login`: log in, get a session token.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::accounts::{self, LoginBody, LoginOutcome};
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "login",
    &[
        Route::post("/auth", |m| on(m, login)).doc(DOC.id("login")),
        Route::post("/login", |m| on(m, login))
            .doc(DOC.id("loginAlias").summary("The same as POST /auth")),
    ],
)
.signs_tokens()
.counts_login_names()
// A name of no account here may be a person of the old system (the migration hook).
.asks_migration_hook()
.description("POST /auth and POST /login: log in")
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::ConditionCheckItem,
    // Whether a second step may offer a passkey (the account's passkeys).
    TableAction::Query,
])
.hashes_passwords();

/// Both routes' operation.
const DOC: Doc = Doc::new("login", "Log in")
    .body(Content::json::<shared::accounts::LoginRequest>())
    .answers(&[Answer::json::<LoginOutcome>(200, "OK")])
    .errors(&[400, 401, 403, 413, 415, 429, 503]);

pub async fn login(
    State(state): State<AppState>,
    Body { body, .. }: Body<LoginBody>,
) -> ApiResult<Json<LoginOutcome>> {
    accounts::log_in(&state, body).await.map(Json)
}
