//! Accounts as their owners (and admins) read, update and delete them, and as admins list them.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, Actor, Event, EventType};
use crate::input::{Field, Validate, absent, data_size};
use crate::state::AppState;
use crate::store::{UserPage, UserUpdate};
use crate::user::{Role, UserRecord};

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
    super::mfa::second_factor_sign_in(state, auth).await?;
    state
        .store
        .find_user_by_username(username, state.clock.now())
        .await?
        .ok_or(ApiError::UserNotFound)
}

/// `PUT /user/{username}`: every member but `role` and `activated` is the new profile data;
/// the names, the password, the id and the times cannot be changed here.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[schema(as = UpdateRequest)]
pub struct UpdateBody {
    #[serde(default)]
    #[garde(custom(absent("cannot be changed")))]
    #[schema(ignore)]
    pub username: Field<Value>,
    #[serde(default)]
    #[garde(custom(absent("cannot be changed")))]
    #[schema(ignore)]
    pub email: Field<Value>,
    #[serde(default)]
    #[garde(custom(absent("cannot be changed")))]
    #[schema(ignore)]
    pub password: Field<Value>,
    #[serde(default)]
    #[garde(custom(absent("cannot be changed")))]
    #[schema(ignore)]
    pub user_id: Field<Value>,
    #[serde(default)]
    #[garde(custom(absent("cannot be changed")))]
    #[schema(ignore)]
    pub created_at: Field<Value>,
    #[serde(default)]
    #[garde(custom(absent("cannot be changed")))]
    #[schema(ignore)]
    pub updated_at: Field<Value>,
    /// For admins only.
    #[serde(default)]
    #[garde(custom(role_rule))]
    #[schema(value_type = Option<crate::user::Role>, nullable = false)]
    pub role: Field<Value>,
    /// For admins only.
    #[serde(default)]
    #[garde(custom(activated_rule))]
    #[schema(value_type = Option<bool>, nullable = false)]
    pub activated: Field<Value>,
    #[serde(flatten)]
    #[garde(custom(data_size))]
    #[schema(ignore)]
    pub data: Map<String, Value>,
}

fn role_of(value: &Value) -> Option<Role> {
    value.as_str().and_then(Role::parse)
}

fn role_rule(role: &Field<Value>, _: &()) -> garde::Result {
    match role.given() {
        Some(v) if role_of(v).is_none() => Err(garde::Error::new("must be \"user\" or \"admin\"")),
        _ => Ok(()),
    }
}

fn activated_rule(activated: &Field<Value>, _: &()) -> garde::Result {
    match activated.given() {
        Some(v) if !v.is_boolean() => Err(garde::Error::new("must be true or false")),
        _ => Ok(()),
    }
}

impl Validate for UpdateBody {
    type Command = UserUpdate;
    fn command(self) -> UserUpdate {
        UserUpdate {
            data: self.data,
            role: self.role.given().and_then(role_of),
            activated: self.activated.given().and_then(Value::as_bool),
        }
    }
}

/// `PUT /user/{username}`: the body replaces the profile data; `role` and `activated` in it are
/// for admins only.
pub async fn update_user(
    state: &AppState,
    auth: &Auth,
    username: &str,
    body: UpdateBody,
) -> ApiResult<UserRecord> {
    let target = target_user(state, auth, username).await?;
    let update = body.validate()?;
    let (role, activated) = (update.role, update.activated);
    if role.is_some() || activated.is_some() {
        if !auth.is_admin() {
            return Err(ApiError::Forbidden(
                "only an admin may set role or activated",
            ));
        }
        // An admin power: with a second factor, a sign-in with it at most 10 minutes old.
        super::mfa::step_up(state, auth, None).await?;
    }
    let updated = state
        .store
        .update_user(&target.user_id, &update, state.clock.now())
        .await?
        .ok_or(ApiError::UserNotFound)?;
    let actor = Actor::of(auth, &target);
    // The member names of the profile, never their values (a profile may hold anything).
    let members: Vec<&String> = update.data.keys().take(32).collect();
    let event = Event::new(EventType::ProfileUpdated, &updated)
        .by(actor.clone())
        .session(&auth.session.session_id)
        .detail("members", serde_json::json!(members));
    events::record(state, event).await;
    if let Some(role) = role.filter(|r| *r != target.role) {
        let event = Event::new(EventType::RoleChanged, &updated)
            .by(actor.clone())
            .session(&auth.session.session_id)
            .detail("from", target.role.as_str())
            .detail("to", role.as_str());
        events::record(state, event).await;
    }
    if let Some(activated) = activated.filter(|a| *a != target.activated) {
        let event = Event::new(EventType::ActivationChanged, &updated)
            .by(actor)
            .session(&auth.session.session_id)
            .detail("activated", activated);
        events::record(state, event).await;
    }
    Ok(updated)
}

/// `DELETE /user/{username}`: the user goes, with every session and both name claims.
///
/// With a second factor on the caller's account, an admin's deletion of anyone and an owner's
/// of their own account need a sign-in with it at most 10 minutes old (`403
/// step_up_required`).
pub async fn delete_user(state: &AppState, auth: &Auth, username: &str) -> ApiResult<()> {
    let target = target_user(state, auth, username).await?;
    super::mfa::step_up(state, auth, None).await?;
    if !state.store.delete_user(&target.user_id).await? {
        return Err(ApiError::UserNotFound);
    }
    tracing::info!(user_id = %target.user_id, by = %auth.user.user_id, "user deleted");
    let event = Event::new(EventType::Deleted, &target)
        .by(Actor::of(auth, &target))
        .session(&auth.session.session_id);
    events::record(state, event).await;
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
    super::mfa::second_factor_sign_in(state, auth).await?;
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
    let event = Event::unattached(EventType::UsersListed, Actor::of(auth, &auth.user))
        .session(&auth.session.session_id)
        .detail("count", page.users.len())
        .detail("email_prefix", listing.email_prefix.is_some());
    events::record(state, event).await;
    Ok(page)
}
