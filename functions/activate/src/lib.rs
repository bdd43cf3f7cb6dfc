//! `GET /activate?token=T`: the link in the activation mail. JSON by default, a small HTML page
//! for a browser (a person clicking the link).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use shared::accounts::{self, Activation};
use shared::http::{ok, prefers_html};
use shared::{ApiError, AppState};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/activate")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/activate", get(activate))
}

/// The `token` parameter of the query, decoded.
fn token_param(query: Option<&str>) -> Option<String> {
    let query = query?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "token").then(|| v.to_string())
    })
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\
         <body><main><h1>{title}</h1><p>{text}</p></main></body></html>"
    );
    (status, Html(body)).into_response()
}

pub async fn activate(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let token = token_param(query.as_deref());
    let outcome = accounts::activate(&state, token.as_deref()).await;
    let html = prefers_html(&headers);
    match outcome {
        Ok(Activation::Activated(_)) if html => page(
            StatusCode::OK,
            "Account activated",
            "Your account is activated: you can log in now.",
        ),
        Ok(Activation::AlreadyActivated(_)) if html => page(
            StatusCode::OK,
            "Already activated",
            "This account is already activated: you can log in.",
        ),
        Ok(Activation::Activated(u)) => ok(json!({"activated": true, "username": u.username})),
        Ok(Activation::AlreadyActivated(u)) => ok(json!({
            "activated": true,
            "already_activated": true,
            "username": u.username,
            "message": "This account is already activated.",
        })),
        Err(e @ (ApiError::InvalidActivationToken | ApiError::ActivationTokenExpired)) if html => {
            page(e.status(), "Activation link not valid", &e.message())
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::token_param;

    #[test]
    fn the_token_is_read_from_the_query() {
        assert_eq!(token_param(Some("token=abc")).as_deref(), Some("abc"));
        assert_eq!(
            token_param(Some("x=1&token=abc&y=2")).as_deref(),
            Some("abc")
        );
        assert_eq!(token_param(Some("tokens=abc")), None);
        assert_eq!(token_param(None), None);
    }
}
