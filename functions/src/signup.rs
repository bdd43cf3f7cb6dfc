//! `POST /user`: sign up. `201` with the new (not yet activated) user and its `Location`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::on;
use shared::accounts::SignUpBody;
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new("signup", &[Route::post("/user", |m| on(m, signup))])
    .sends_mail()
    .description("POST /user: sign up")
    .table(&[
        TableAction::GetItem,
        TableAction::PutItem,
        TableAction::UpdateItem,
        TableAction::DeleteItem,
        TableAction::Query,
    ])
    .hashes_passwords()
    .asks_signup_hook();

pub async fn signup(
    State(state): State<AppState>,
    Body { body, .. }: Body<SignUpBody>,
) -> ApiResult<Response> {
    let user = accounts::sign_up(&state, body).await?;
    let mut response = (StatusCode::CREATED, axum::Json(user.view())).into_response();
    // Usernames are [A-Za-z0-9_.-]: always a valid header value.
    if let Ok(location) = HeaderValue::from_str(&format!("/user/{}", user.username)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}
