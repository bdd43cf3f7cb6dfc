//! `GET /users?limit=&cursor=&email_prefix=`: admins page through the users, ordered by
//! lowercased username (a key no update changes), so that a user present while the pages are
//! read appears exactly once however many others sign up or leave meanwhile. The cursor is
//! opaque to clients.

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use shared::accounts::{self, MAX_EMAIL_CHARS, UserListing};
use shared::answers::UserPage;
use shared::api_doc::{Answer, Doc};
use shared::http::ok;
use shared::input::{Limit, Query, QueryValue, empty_is_none, query_value};
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth};

/// A cursor is the position's key, at most a username's 32 characters; more is not ours.
const MAX_CURSOR_CHARS: usize = 128;

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "list-users",
    &[Route::get("/users", |m| on(m, list_users)).doc(DOC_GET_USERS)],
)
.description("GET /users: admins page through the users")
.table(&[TableAction::GetItem])
.records_events()
.queries_users_index();

/// GET /users in openapi.json.
const DOC_GET_USERS: Doc = Doc::new(
    "listUsers",
    "Admins page through the users (by lowercased username; an \
     address prefix)",
)
.description(
    "With a second factor on the admin's account, a sign-in made with \
     it (aal2; 403 step_up_required).",
)
.bearer()
.query::<UsersQuery>()
.answers(&[Answer::json::<shared::answers::UserPage>(200, "A page")])
.errors(&[400, 401, 403, 503]);

/// `GET /users`'s query: `limit`, `cursor` (the `next_cursor` of the page before), and
/// `email_prefix` (lowercased); each at most once, anything else ignored.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    #[serde(default, deserialize_with = "query_value")]
    /// How many at most (1 to 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 25)]
    limit: Limit,
    #[serde(default, deserialize_with = "empty_is_none")]
    /// The previous page's `next_cursor`.
    #[param(value_type = Option<String>, max_length = 128, pattern = "^[A-Za-z0-9_-]*$")]
    cursor: Option<UserCursor>,
    #[serde(default, deserialize_with = "empty_is_none")]
    /// The start of the address (matched lowercased).
    #[param(value_type = Option<String>, max_length = 254)]
    email_prefix: Option<EmailPrefix>,
}

/// The position after which a page starts: a key this service gave, base64url.
pub struct UserCursor(String);

impl QueryValue for UserCursor {
    fn parse(value: &str) -> Result<Self, String> {
        (value.len() <= MAX_CURSOR_CHARS)
            .then(|| URL_SAFE_NO_PAD.decode(value.as_bytes()).ok())
            .flatten()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|k| !k.is_empty())
            .map(UserCursor)
            .ok_or_else(|| "cursor is not one this service gave.".into())
    }
}

/// The start of the addresses asked for, lowercased.
pub struct EmailPrefix(String);

impl QueryValue for EmailPrefix {
    fn parse(value: &str) -> Result<Self, String> {
        if value.chars().count() > MAX_EMAIL_CHARS {
            return Err("email_prefix is longer than an address can be.".into());
        }
        Ok(EmailPrefix(value.to_lowercase()))
    }
}

impl From<UsersQuery> for UserListing {
    fn from(q: UsersQuery) -> Self {
        UserListing {
            limit: q.limit.0,
            after: q.cursor.map(|c| c.0),
            email_prefix: q.email_prefix.map(|p| p.0),
        }
    }
}

pub async fn list_users(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<UsersQuery>,
) -> ApiResult<Response> {
    let page = accounts::list_users(&state, &auth, query.map(UserListing::from)).await?;
    Ok(ok(UserPage {
        users: page.users.iter().map(|u| u.view()).collect(),
        next_cursor: page
            .next_after
            .map(|key| URL_SAFE_NO_PAD.encode(key.as_bytes())),
    }))
}
