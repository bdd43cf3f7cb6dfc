//! `POST /password/forgot`: always `202`; a reset link goes only to an existing, activated
//! account. From JSON (answered with JSON) or from the form of a dead reset link's page
//! (answered with a page).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use shared::pages::{error_page, forgot_page, form_email, mail_sent_page};
use shared::{AppState, JsonOrForm, accounts};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("POST", "/password/forgot")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/password/forgot", post(forgot_password))
}

pub async fn forgot_password(State(state): State<AppState>, form: JsonOrForm) -> Response {
    if form.from_form {
        let (email, problem) = form_email(&form.body);
        if let Some(why) = problem {
            return forgot_page(
                StatusCode::BAD_REQUEST,
                "Get a password reset link",
                None,
                &email,
                Some(why),
            );
        }
        return match accounts::forgot_password(&state, form.body).await {
            Ok(()) => mail_sent_page(
                StatusCode::ACCEPTED,
                &format!(
                    "If an activated account has the address {email}, a link to choose a new \
                     password is on its way to it. It works for 1 hour."
                ),
            ),
            Err(e) => error_page(e),
        };
    }
    match accounts::forgot_password(&state, form.body).await {
        Ok(()) => {
            let message =
                "If an activated account has this address, a password reset link has been sent.";
            (
                StatusCode::ACCEPTED,
                axum::Json(json!({ "message": message })),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}
