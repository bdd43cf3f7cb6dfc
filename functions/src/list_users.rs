//! `GET /users?limit=&cursor=&email_prefix=`: admins page through the users, ordered by
//! lowercased username (a key no update changes), so that a user present while the pages are
//! read appears exactly once however many others sign up or leave meanwhile. The cursor is
//! opaque to clients.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::on;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use shared::accounts::{self, MAX_EMAIL_CHARS, UserListing};
use shared::answers::UserPage;
use shared::http::ok;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiError, ApiResult, AppState, Auth};

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;
/// A cursor is the position's key, at most a username's 32 characters; more is not ours.
const MAX_CURSOR_CHARS: usize = 128;

/// This function's row of the route table.
pub const FUNCTION: Function =
    Function::new("list-users", &[Route::get("/users", |m| on(m, list_users))])
        .description("GET /users: admins page through the users")
        .table(&[TableAction::GetItem])
        .records_events()
        .queries_users_index();

/// The query, read: the cursor decoded, the prefix lowercased, the limit bounded.
fn parse(query: Option<&str>) -> ApiResult<UserListing> {
    let mut q = UserListing {
        limit: DEFAULT_LIMIT,
        ..UserListing::default()
    };
    let bad = |why: &str| ApiError::InvalidQuery(why.into());
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        // A parameter given twice is refused, as /widgets does: which one counts is no guess.
        if ["limit", "cursor", "email_prefix"].contains(&name.as_ref()) {
            if seen.iter().any(|n| *n == name) {
                return Err(bad(&format!("{name} is given more than once.")));
            }
            seen.push(name.to_string());
        }
        match name.as_ref() {
            "limit" => {
                q.limit = Some(&value)
                    .filter(|v| {
                        !v.is_empty() && v.len() <= 3 && v.bytes().all(|b| b.is_ascii_digit())
                    })
                    .and_then(|v| v.parse::<usize>().ok())
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| bad("limit must be a whole number from 1 to 100."))?;
            }
            "cursor" if !value.is_empty() => {
                let key = (value.len() <= MAX_CURSOR_CHARS)
                    .then(|| URL_SAFE_NO_PAD.decode(value.as_bytes()).ok())
                    .flatten()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| bad("cursor is not one this service gave."))?;
                q.after = Some(key);
            }
            "email_prefix" if !value.is_empty() => {
                if value.chars().count() > MAX_EMAIL_CHARS {
                    return Err(bad("email_prefix is longer than an address can be."));
                }
                q.email_prefix = Some(value.to_lowercase());
            }
            _ => {}
        }
    }
    Ok(q)
}

pub async fn list_users(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let page = accounts::list_users(&state, &auth, parse(query.as_deref())).await?;
    Ok(ok(UserPage {
        users: page.users.iter().map(|u| u.view()).collect(),
        next_cursor: page
            .next_after
            .map(|key| URL_SAFE_NO_PAD.encode(key.as_bytes())),
    }))
}
