//! `GET` and `POST /oauth/userinfo` (OpenID Connect Core 1.0 section 5.3): the signed-in
//! person's claims, as the access token's scopes allow. It verifies tokens only: no key to sign
//! with, nothing written.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::on;
use shared::accounts::{self, UserInfo, UserInfoForm};
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::auth::MaybeAuth;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "userinfo",
    &[
        Route::get("/oauth/userinfo", |m| on(m, userinfo)).doc(DOC_GET),
        Route::post("/oauth/userinfo", |m| on(m, userinfo_posted)).doc(DOC_POST),
    ],
)
.description("GET and POST /oauth/userinfo: the signed-in person's claims (OpenID Connect)")
.table(&[TableAction::GetItem]);

const DESCRIPTION: &str = "`sub` always; `name`, `preferred_username` and `updated_at` with \
                           scope `profile`; `email` and `email_verified` with `email`; read \
                           from the account as it is now. A token without `openid` is 403 \
                           insufficient_scope.";

/// GET /oauth/userinfo in openapi.json.
const DOC_GET: Doc = Doc::new(
    "userinfo",
    "The signed-in person's claims (OpenID Connect Core section 5.3)",
)
.description(DESCRIPTION)
.bearer()
.answers(&[Answer::json::<UserInfo>(
    200,
    "The claims the token's scopes allow",
)])
.errors(&[401, 403, 503]);

/// POST /oauth/userinfo in openapi.json.
const DOC_POST: Doc = Doc::new(
    "userinfoPosted",
    "The same, the access token in the header or in a form body (RFC 6750 section 2.2)",
)
.description(DESCRIPTION)
.body(Content::form::<UserInfoForm>().optional())
.answers(&[Answer::json::<UserInfo>(
    200,
    "The claims the token's scopes allow",
)])
.errors(&[400, 401, 403, 415, 503]);

pub async fn userinfo(auth: Auth) -> ApiResult<Json<UserInfo>> {
    accounts::userinfo(&auth).map(Json)
}

pub async fn userinfo_posted(
    State(state): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<UserInfo>> {
    let form = if body.is_empty() {
        Ok(UserInfoForm::default())
    } else {
        shared::http::form_body(&headers, &body)
    };
    accounts::userinfo_posted(&state, auth, form)
        .await
        .map(Json)
}
