//! What a person allowed apps (OAuth clients not marked first-party) to have, as the consent
//! page asked it: listed and withdrawn by the person (or an admin, as every other act on an
//! account). A withdrawn consent is asked again at the app's next sign-in.

use serde::Serialize;
use utoipa::ToSchema;

use super::target_user;
use crate::auth::Auth;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, Actor, Event, EventType};
use crate::state::AppState;

/// One consent, as `GET /user/{username}/consents` shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentView {
    pub client_id: String,
    /// The app's name, as the consent page showed it; `null` when the client was removed since.
    pub client_name: Option<String>,
    /// The scopes allowed, sorted.
    pub scopes: Vec<String>,
    /// When it was given (or last widened), RFC 3339.
    pub granted_at: String,
}

/// `200 {"consents": [...]}`, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentList {
    pub consents: Vec<ConsentView>,
}

/// `GET /user/{username}/consents`.
pub async fn list_consents(
    state: &AppState,
    auth: &Auth,
    username: &str,
) -> ApiResult<ConsentList> {
    let user = target_user(state, auth, username).await?;
    let mut consents = Vec::new();
    for c in state.store.list_consents(&user.user_id).await? {
        let client = state.store.client(&c.client_id).await?;
        consents.push(ConsentView {
            client_name: client.map(|c| c.name),
            client_id: c.client_id,
            scopes: c.scopes,
            granted_at: rfc3339(c.granted_at),
        });
    }
    Ok(ConsentList { consents })
}

/// `DELETE /user/{username}/consents/{client_id}`.
pub async fn withdraw_consent(
    state: &AppState,
    auth: &Auth,
    username: &str,
    client_id: &str,
) -> ApiResult<()> {
    let user = target_user(state, auth, username).await?;
    if client_id.len() > 64
        || !state
            .store
            .withdraw_consent(&user.user_id, client_id)
            .await?
    {
        return Err(ApiError::ConsentNotFound);
    }
    let event = Event::new(EventType::ConsentWithdrawn, &user)
        .by(Actor::of(auth, &user))
        .session(&auth.session.session_id)
        .detail("client_id", client_id);
    events::record(state, event).await;
    tracing::info!(user_id = %user.user_id, %client_id, "consent withdrawn");
    Ok(())
}
