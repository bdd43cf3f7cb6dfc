//! `POST /user`: sign up. `201` with the new (not yet activated) user and its `Location`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::on;
use shared::accounts::SignUpBody;
use shared::api_doc::{Answer, Body as Content, Doc, Header};
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "signup",
    &[Route::post("/user", |m| on(m, signup)).doc(DOC_POST_USER)],
)
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

/// POST /user in openapi.json.
const DOC_POST_USER: Doc = Doc::new("signup", "Sign up")
    .body(Content::json::<shared::accounts::SignUpBody>())
    .answers(&[
        Answer::json::<shared::user::UserView>(201, "Created, not yet activated")
            .headers(&[Header::new("Location")]),
    ])
    .errors(&[400, 403, 409, 413, 415, 503]);

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
