//! The JSON answers the function modules build, one type each, named as openapi.json's schema of
//! that answer is (the domain's own answers, such as `LoginResponse`, live with the domain).
//! A route's answer is a type, not a `json!` literal: its members are written once, checked by
//! the compiler, and ready for the schemas to be derived from them.

use serde::Serialize;

use crate::account_event::EventView;
use crate::accounts::SessionView;
use crate::user::UserView;

/// `{"message"}`: an answer that says what happened (`202` of the mail requests, and the
/// address change's).
#[derive(Debug, Serialize)]
pub struct Message<'a> {
    pub message: &'a str,
}

/// `GET /`: a greeting; with a valid token, personal and with the caller's account.
#[derive(Debug, Serialize)]
pub struct Hello<'a> {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserView<'a>>,
}

/// `GET /activate` (JSON): the account is active; `already_activated` (and a message) when it
/// was before this click.
#[derive(Debug, Serialize)]
pub struct Activation<'a> {
    pub activated: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub already_activated: bool,
    pub username: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
}

/// `GET /email/confirm` (JSON): the account's address is the new one; `already_confirmed` when
/// it was before this click.
#[derive(Debug, Serialize)]
pub struct EmailChanged<'a> {
    pub email_changed: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub already_confirmed: bool,
    pub email: &'a str,
}

/// `GET /password/reset` (JSON): the link works.
#[derive(Debug, Serialize)]
pub struct ResetValid {
    pub valid: bool,
}

/// `POST /password/reset` (JSON): the password is set.
#[derive(Debug, Serialize)]
pub struct ResetDone {
    pub reset: bool,
}

/// `GET /auth/sessions`: the caller's live sessions, oldest first.
#[derive(Debug, Serialize)]
pub struct Sessions {
    pub sessions: Vec<SessionView>,
}

/// `GET /users`: a page of accounts, and the cursor of the next (`null`: the last page).
#[derive(Debug, Serialize)]
pub struct UserPage<'a> {
    pub users: Vec<UserView<'a>>,
    pub next_cursor: Option<String>,
}

/// `GET /user/{username}/events` and `GET /events`: a page of events, newest first, and the
/// cursor of the next (`null`: the last page).
#[derive(Debug, Serialize)]
pub struct EventPage<'a> {
    pub events: Vec<EventView<'a>>,
    pub next_cursor: Option<&'a str>,
}

/// `POST /auth/introspect` (RFC 7662): `{"active": false}` and nothing else for anything but a
/// live token; for a live one, what it says and what its owner holds now.
#[derive(Debug, Serialize)]
pub struct Introspection<'a> {
    pub active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub token: Option<LiveToken<'a>>,
}

/// What introspection tells of a live token: its claims, with `scope` and `role` as its owner
/// holds them now, and what the token hook added (`ext`), as in the token.
#[derive(Debug, Serialize)]
pub struct LiveToken<'a> {
    pub sub: &'a str,
    pub username: &'a str,
    pub scope: String,
    pub role: &'static str,
    pub exp: i64,
    pub iat: i64,
    pub iss: &'a str,
    pub aud: &'a str,
    pub amr: &'a [String],
    pub acr: &'a str,
    pub token_type: &'static str,
    #[serde(rename = "ext", skip_serializing_if = "Option::is_none")]
    pub ext: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

/// `POST /auth/revoke` (RFC 7009): `200 {}` whatever the token was.
#[derive(Debug, Serialize)]
pub struct Revoked {}

// `LiveToken::ext` is named as the token's claim is.
const _: () = assert!(matches!(
    crate::hooks::CLAIMS_CLAIM.as_bytes(),
    [b'e', b'x', b't']
));
