//! Accounts as their owners (and admins) read, update and delete them; the widgets passthrough.

use serde_json::{Map, Value};

use super::{check_data_size, fail_if_any};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::state::AppState;
use crate::store::UserUpdate;
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

/// `GET /widgets`: the caller's widgets from the upstream, filtered and reshaped.
pub async fn widgets(
    state: &AppState,
    auth: &Auth,
    query: crate::widgets::WidgetsQuery,
) -> ApiResult<crate::widgets::WidgetsAnswer> {
    auth.require_scope("widgets")?;
    let filter = crate::widgets::Filter::from_query(query)?;
    let upstream = state.widgets.as_ref().ok_or(ApiError::WidgetsUnavailable)?;
    let items = upstream.widgets_of(&auth.user.user_id).await?;
    filter.apply(items)
}
