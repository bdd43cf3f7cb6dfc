//! Accounts as their owners (and admins) read, update and delete them, and as admins list them.

use serde_json::{Map, Value};

use super::{check_data_size, fail_if_any};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::state::AppState;
use crate::store::{UserPage, UserUpdate};
use crate::user::{Role, UserRecord};

/// Members of an update body that can never be changed through it.
const IMMUTABLE_ON_UPDATE: [&str; 6] = [
    "username",
    "email",
    "password",
    "user_id",
    "created_at",
    "updated_at",
];

/// The user a `/user/{username}` request is about: the caller, or (for an admin) anyone.
/// Another user's account is 403 for a non-admin, whether it exists or not.
pub async fn target_user(state: &AppState, auth: &Auth, username: &str) -> ApiResult<UserRecord> {
    if auth.is_self(username) {
        return Ok(auth.user.clone());
    }
    if !auth.is_admin() {
        return Err(ApiError::Forbidden(
            "only an admin may act on another user's account",
        ));
    }
    state
        .store
        .find_user_by_username(username, state.clock.now())
        .await?
        .ok_or(ApiError::UserNotFound)
}

/// `PUT /user/{username}`: `body` replaces the profile data; `role` and `activated` in it are
/// for admins only.
pub async fn update_user(
    state: &AppState,
    auth: &Auth,
    username: &str,
    mut body: Map<String, Value>,
) -> ApiResult<UserRecord> {
    let target = target_user(state, auth, username).await?;
    let mut errors = FieldErrors::new();
    for name in IMMUTABLE_ON_UPDATE {
        if body.contains_key(name) {
            errors.insert(name.into(), "cannot be changed".into());
        }
    }
    let role = body.shift_remove("role");
    let activated = body.shift_remove("activated");
    check_data_size(&body, &mut errors);
    let role = match role {
        None => None,
        Some(Value::String(r)) if Role::parse(&r).is_some() => Role::parse(&r),
        Some(_) => {
            errors.insert("role".into(), "must be \"user\" or \"admin\"".into());
            None
        }
    };
    let activated = match activated {
        None => None,
        Some(Value::Bool(b)) => Some(b),
        Some(_) => {
            errors.insert("activated".into(), "must be true or false".into());
            None
        }
    };
    fail_if_any(errors)?;
    if (role.is_some() || activated.is_some()) && !auth.is_admin() {
        return Err(ApiError::Forbidden(
            "only an admin may set role or activated",
        ));
    }
    let update = UserUpdate {
        data: body,
        role,
        activated,
    };
    state
        .store
        .update_user(&target.user_id, &update, state.clock.now())
        .await?
        .ok_or(ApiError::UserNotFound)
}

/// `DELETE /user/{username}`: the user goes, with every session and both name claims.
pub async fn delete_user(state: &AppState, auth: &Auth, username: &str) -> ApiResult<()> {
    let target = target_user(state, auth, username).await?;
    if !state.store.delete_user(&target.user_id).await? {
        return Err(ApiError::UserNotFound);
    }
    tracing::info!(user_id = %target.user_id, by = %auth.user.user_id, "user deleted");
    Ok(())
}

/// What `GET /users` asks for: the position to start after (a lowercased username), the
/// address prefix (lowercased), the page size.
#[derive(Debug, Default)]
pub struct UserListing {
    pub after: Option<String>,
    pub email_prefix: Option<String>,
    pub limit: usize,
}

/// `GET /users`: a page of the users, for admins only. Who asks is checked before the query
/// (`listing`, as the route could read it): a non-admin learns nothing more.
pub async fn list_users(
    state: &AppState,
    auth: &Auth,
    listing: ApiResult<UserListing>,
) -> ApiResult<UserPage> {
    if !auth.is_admin() {
        return Err(ApiError::Forbidden("only an admin may list the users"));
    }
    let listing = listing?;
    let page = state
        .store
        .list_users(
            listing.after.as_deref(),
            listing.email_prefix.as_deref(),
            listing.limit,
            state.clock.now(),
        )
        .await?;
    Ok(page)
}
