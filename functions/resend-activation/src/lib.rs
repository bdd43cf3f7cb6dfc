//! `POST /activate/resend`: always `202`; a fresh link goes only to an account awaiting
//! activation. From JSON (answered with JSON) or from the form of a dead activation link's
//! page (answered with a page).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use shared::pages::{ServedAt, error_page, form_email, mail_sent_page, resend_page};
use shared::{AppState, JsonOrForm, accounts};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("POST", "/activate/resend")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/activate/resend", post(resend_activation))
}

pub async fn resend_activation(State(state): State<AppState>, form: JsonOrForm) -> Response {
    if form.from_form {
        let (email, problem) = form_email(&form.body);
        if let Some(why) = problem {
            return resend_page(
                StatusCode::BAD_REQUEST,
                "Get a new activation link",
                None,
                ServedAt::ResendRoute,
                &email,
                Some(why),
            );
        }
        return match accounts::resend_activation(&state, form.body).await {
            Ok(()) => mail_sent_page(
                StatusCode::ACCEPTED,
                &format!(
                    "If an account with the address {email} is waiting to be activated, a new \
                     activation link is on its way to it; it works for 24 hours. If none comes, \
                     the account may have been removed: sign up again."
                ),
            ),
            Err(e) => error_page(e),
        };
    }
    match accounts::resend_activation(&state, form.body).await {
        Ok(()) => {
            let message =
                "If an account with this address awaits activation, a new link has been sent.";
            (
                StatusCode::ACCEPTED,
                axum::Json(json!({ "message": message })),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}
