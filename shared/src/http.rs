//! HTTP glue shared by every function and the local server: the bounded JSON-object body, the
//! JSON 404/405 fallbacks, response headers, and an access log that never records a query,
//! a header or a body.

use std::time::Instant;

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::state::AppState;

/// The largest request body accepted (API.md: over 64 KiB is 413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request body that must be one JSON object, at most [`MAX_BODY_BYTES`].
pub struct JsonObject(pub Map<String, Value>);

/// The body of `req`, at most [`MAX_BODY_BYTES`] (`413` past that, by the declared length or
/// while reading).
pub(crate) async fn bounded_body(req: Request) -> Result<axum::body::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit");
            if too_large {
                ApiError::PayloadTooLarge(MAX_BODY_BYTES)
            } else {
                ApiError::InvalidJson(format!("body unreadable: {e}"))
            }
        })
}

/// A JSON object whose members are each given once: a member twice (`{"username": "a",
/// "username": "b"}`, which parsers read differently) is refused, not resolved.
struct UniqueObject(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<UniqueObject, A::Error> {
                let mut map = Map::new();
                while let Some((name, value)) = access.next_entry::<String, Value>()? {
                    if map.insert(name, value).is_some() {
                        // The name is not repeated here: it is the caller's text.
                        return Err(serde::de::Error::custom("a member is given twice"));
                    }
                }
                Ok(UniqueObject(map))
            }
        }
        d.deserialize_any(Members)
    }
}

pub(crate) fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    serde_json::from_slice::<UniqueObject>(bytes)
        .map(|o| o.0)
        .map_err(|e| ApiError::InvalidJson(e.to_string()))
}

/// What a request's `Content-Type` says its body is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaType {
    /// `application/json`, or any `application/*+json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// Anything else, or no `Content-Type` at all.
    Other,
}

pub(crate) fn media_type(headers: &axum::http::HeaderMap) -> MediaType {
    let Some(essence) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
    else {
        return MediaType::Other;
    };
    match essence.as_str() {
        "application/json" => MediaType::Json,
        "application/x-www-form-urlencoded" => MediaType::Form,
        m if m.starts_with("application/") && m.ends_with("+json") => MediaType::Json,
        _ => MediaType::Other,
    }
}

/// A JSON body must say it is one (`Content-Type: application/json`): a browser sends a
/// cross-origin `text/plain` body, or one with no type, without asking first (no CORS
/// preflight), so a body of another type is `415`, never read as JSON.
pub(crate) fn require_json(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    match media_type(headers) {
        MediaType::Json => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType("application/json")),
    }
}

/// A form's body (`application/x-www-form-urlencoded` only: the hosted pages' forms, a form
/// post of an access token), each field once, into `T`; `415` for another type.
pub fn form_body<T: serde::de::DeserializeOwned>(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    if media_type(headers) != MediaType::Form {
        return Err(ApiError::UnsupportedMediaType(
            "application/x-www-form-urlencoded",
        ));
    }
    serde_urlencoded::from_bytes(body).map_err(|e| ApiError::InvalidQuery(e.to_string()))
}

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        require_json(req.headers())?;
        json_object(&bounded_body(req).await?).map(JsonObject)
    }
}

/// The body of a route that an HTML form posts to as well: a JSON object, or, with
/// `Content-Type: application/x-www-form-urlencoded` (what a browser sends without script),
/// the form's fields as string members. A form post is answered with a page.
pub struct JsonOrForm {
    pub body: Map<String, Value>,
    pub from_form: bool,
}

impl<S: Send + Sync> FromRequest<S> for JsonOrForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let from_form = match media_type(req.headers()) {
            MediaType::Form => true,
            MediaType::Json => false,
            MediaType::Other => {
                return Err(ApiError::UnsupportedMediaType(
                    "application/json or application/x-www-form-urlencoded",
                ));
            }
        };
        let bytes = bounded_body(req).await?;
        let body = if from_form {
            let mut fields = Map::new();
            for (name, value) in form_urlencoded::parse(&bytes) {
                // A field given twice is refused, not resolved (RFC 6749 section 3.1).
                let name = name.into_owned();
                if fields.contains_key(&name) {
                    return Err(ApiError::field(&name, "is given twice"));
                }
                fields.insert(name, Value::String(value.into_owned()));
            }
            fields
        } else {
            json_object(&bytes)?
        };
        Ok(JsonOrForm { body, from_form })
    }
}

/// The `token` of a mailed link's query, as openapi.json shows it ([`token_query`] reads it).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TokenQuery {
    /// The token of the mailed link.
    #[param(pattern = "^[A-Za-z0-9_-]{1,128}$")]
    token: Option<String>,
}

/// The `token` parameter of a query string, decoded.
pub fn token_query(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Logs each request (method, path without its query, status, time) and sets the headers every
/// response carries.
async fn access_log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    tracing::info!(
        %method,
        path = %path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

/// Turns the routes of one function (or of all of them, merged) into the service to run:
/// JSON fallbacks, the access log, and the state.
pub fn app(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(crate::events::caller_context))
        .layer(middleware::from_fn(access_log))
        .with_state(state)
}

/// A `200` JSON response.
pub fn ok(value: impl serde::Serialize) -> Response {
    Json(value).into_response()
}

/// A `200` JSON response that anyone may keep for `max_age` seconds (public, no secret in it:
/// the key set and the discovery document).
pub fn cacheable(value: Value, max_age: u32) -> Response {
    let mut response = ok(value);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={max_age}")).expect("a valid header value"),
    );
    response
}

/// The answer of an OAuth endpoint (the token endpoint, revocation): `200` with `body`, or the
/// error as RFC 6749 section 5.2 writes it; never kept by a cache (`Cache-Control: no-store`,
/// `Pragma: no-cache`, section 5.1).
pub fn oauth_answer<T: serde::Serialize>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(body) => {
            let mut response = Json(body).into_response();
            response
                .headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => crate::error::OAuthError(e).into_response(),
    }
}

/// The `{username}` of a `/user/{username}` path, or a JSON 400 when it is not valid UTF-8.
pub struct UsernamePath(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for UsernamePath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(name)| UsernamePath(name))
            .map_err(|_| ApiError::field("username", "must be valid UTF-8"))
    }
}

/// Whether the client prefers HTML to JSON (a person clicking a link in a mail), by the
/// q-values of its `Accept` header. JSON wins ties and the absence of the header.
pub fn prefers_html(headers: &axum::http::HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let (mut html, mut json) = (0.0f32, 0.0f32);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
            })
            .next()
            .unwrap_or(1.0);
        match media.as_str() {
            "text/html" | "application/xhtml+xml" => html = html.max(q),
            "application/json" => json = json.max(q),
            _ => {}
        }
    }
    html > json
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    #[test]
    fn the_token_is_read_from_the_query() {
        assert_eq!(token_query(Some("token=abc")).as_deref(), Some("abc"));
        assert_eq!(
            token_query(Some("x=1&token=a%2Bb&y=2")).as_deref(),
            Some("a+b")
        );
        assert_eq!(token_query(Some("tokens=abc")), None);
        assert_eq!(token_query(None), None);
    }

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn html_is_chosen_by_q_values() {
        assert!(!prefers_html(&HeaderMap::new()));
        assert!(!prefers_html(&accept("*/*")));
        assert!(!prefers_html(&accept("application/json")));
        assert!(prefers_html(&accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!prefers_html(&accept("text/html;q=0.5, application/json")));
        assert!(!prefers_html(&accept("text/html, application/json")));
    }
}
