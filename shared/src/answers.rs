//! The JSON answers the function modules build, one type each, named as openapi.json's schema of
//! that answer is (the domain's own answers, such as `LoginResponse`, live with the domain).
//! A route's answer is a type, not a `json!` literal: its members are written once, checked by
//! the compiler, and ready for the schemas to be derived from them.

use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::api_doc::constant;

use crate::account_event::EventView;
use crate::accounts::SessionView;
use crate::user::UserView;

/// `{"message"}`: an answer that says what happened (`202` of the mail requests, and the
/// address change's).
#[derive(Debug, Serialize, ToSchema)]
pub struct Message<'a> {
    pub message: &'a str,
}

/// `GET /`: a greeting; with a valid token, personal and with the caller's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hello<'a> {
    pub message: String,
    /// The caller's account, with a valid token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub user: Option<UserView<'a>>,
}

/// `GET /activate` (JSON): the account is active; `already_activated` (and a message) when it
/// was before this click.
#[derive(Debug, Serialize, ToSchema)]
pub struct Activation<'a> {
    #[schema(schema_with = always_true)]
    pub activated: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(schema_with = always_true)]
    pub already_activated: bool,
    pub username: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub message: Option<&'static str>,
}

/// `GET /email/confirm` (JSON): the account's address is the new one; `already_confirmed` when
/// it was before this click.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailChanged<'a> {
    #[schema(schema_with = always_true)]
    pub email_changed: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(schema_with = always_true)]
    pub already_confirmed: bool,
    pub email: &'a str,
}

/// `GET /password/reset` (JSON): the link works.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetValid {
    #[schema(schema_with = always_true)]
    pub valid: bool,
}

/// `POST /password/reset` (JSON): the password is set.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetDone {
    #[schema(schema_with = always_true)]
    pub reset: bool,
}

/// `GET /auth/sessions`: the caller's live sessions, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Sessions {
    pub sessions: Vec<SessionView>,
}

/// `GET /users`: a page of accounts, and the cursor of the next (`null`: the last page).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage<'a> {
    pub users: Vec<UserView<'a>>,
    #[schema(required)]
    pub next_cursor: Option<String>,
}

/// `GET /user/{username}/events` and `GET /events`: a page of events, newest first, and the
/// cursor of the next (`null`: the last page).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage<'a> {
    pub events: Vec<EventView<'a>>,
    #[schema(required)]
    pub next_cursor: Option<&'a str>,
}

/// RFC 7662: only `active` when the token is not live (whatever the reason); for a live one,
/// what it says and what its owner holds now.
#[derive(Debug, Serialize)]
pub struct Introspection<'a> {
    pub active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub token: Option<LiveToken<'a>>,
}

/// What introspection tells of a live token: its claims, with `scope` and `role` as its owner
/// holds them now, and what the token hook added (`ext`), as in the token.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveToken<'a> {
    pub sub: &'a str,
    pub username: &'a str,
    pub scope: String,
    /// The role the user holds now; `scope` too is what the user may hold now (a demoted
    /// admin's token no longer says `admin`).
    #[schema(value_type = crate::user::Role)]
    pub role: &'static str,
    pub exp: i64,
    pub iat: i64,
    pub iss: &'a str,
    pub aud: &'a str,
    /// How the person signed in: `["pwd"]` or `["pwd", "otp"]`.
    pub amr: &'a [String],
    #[schema(schema_with = acr)]
    pub acr: &'a str,
    #[schema(schema_with = bearer)]
    pub token_type: &'static str,
    /// What the operator's token hook added to the token (only with a token hook; see
    /// docs/API.md, Hooks).
    #[serde(rename = "ext", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object, nullable = false)]
    pub ext: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

/// `POST /auth/revoke` (RFC 7009): `200 {}` whatever the token was.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Revoked {}

/// `active`, and every member of a live token's answer, which are there only when it is live.
impl utoipa::PartialSchema for Introspection<'_> {
    fn schema() -> RefOr<Schema> {
        let RefOr::T(Schema::Object(live)) = <LiveToken as utoipa::PartialSchema>::schema() else {
            unreachable!("a struct's schema is an object");
        };
        let mut out = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "RFC 7662: only `active` when the token is not live (whatever the reason); for a \
                 live one, what it says and what its owner holds now.",
            ))
            .property("active", ObjectBuilder::new().schema_type(Type::Boolean))
            .required("active");
        for (name, schema) in live.properties {
            out = out.property(name, schema);
        }
        out.build().into()
    }
}

impl ToSchema for Introspection<'_> {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <LiveToken as ToSchema>::schemas(schemas);
    }
}

fn always_true() -> Schema {
    constant(true.into())
}

fn bearer() -> Schema {
    constant("Bearer".into())
}

/// `acr`: `aal1`, `aal2`, or empty (a token older than the claim).
fn acr() -> Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["aal1", "aal2", ""]))
        .build()
        .into()
}

// `LiveToken::ext` is named as the token's claim is.
const _: () = assert!(matches!(
    crate::hooks::CLAIMS_CLAIM.as_bytes(),
    [b'e', b'x', b't']
));
