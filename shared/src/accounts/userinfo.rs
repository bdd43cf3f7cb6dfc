//! The UserInfo endpoint (OpenID Connect Core 1.0 section 5.3): the signed-in person's claims,
//! as the access token's scopes allow them (`openid` to ask at all; `profile`, `email` for
//! theirs), read from the account as it is now.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::session::name_in_token;
use crate::auth::{Auth, authenticate_token};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// What `GET` and `POST /oauth/userinfo` answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInfo {
    /// The account's id: the `sub` of its tokens.
    pub sub: String,
    /// With scope `profile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The username, with scope `profile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Seconds since the epoch, with scope `profile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// With scope `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// `POST /oauth/userinfo`'s form: the access token in the body (RFC 6750 section 2.2), when it
/// is not in the `Authorization` header.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = UserInfoForm)]
pub struct UserInfoForm {
    pub access_token: Option<String>,
}

/// The claims of `auth`'s person that its token's scopes allow.
pub fn userinfo(auth: &Auth) -> ApiResult<UserInfo> {
    auth.require_scope("openid")?;
    let user = &auth.user;
    let profile = auth.claims.has_scope("profile");
    let email = auth.claims.has_scope("email");
    Ok(UserInfo {
        sub: user.user_id.clone(),
        name: profile.then(|| name_in_token(crate::user::UserView::from(user).name)),
        preferred_username: profile.then(|| user.username.clone()),
        updated_at: profile.then_some(user.updated_at),
        email: email.then(|| user.email.clone()),
        email_verified: email.then_some(user.activated),
    })
}

/// `POST /oauth/userinfo`: the token of the header (`header`, as [`Auth`] read it) or of the
/// form, never both (RFC 6750 section 2: one method a request).
pub async fn userinfo_posted(
    state: &AppState,
    header: Option<Auth>,
    form: ApiResult<UserInfoForm>,
) -> ApiResult<UserInfo> {
    let form = form?;
    let auth = match (header, form.access_token) {
        (Some(_), Some(_)) => {
            return Err(ApiError::field(
                "access_token",
                "is in the Authorization header already",
            ));
        }
        (Some(auth), None) => auth,
        (None, Some(token)) => authenticate_token(&token, state).await?,
        (None, None) => return Err(ApiError::Unauthorized),
    };
    userinfo(&auth)
}
