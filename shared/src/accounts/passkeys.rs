//! Passkeys (WebAuthn): added by their owner (with the password, or a two-factor sign-in at
//! most 10 minutes old), listed, renamed, removed; and a sign-in with one, discoverable (nothing
//! typed) or for a username. A user-verified passkey is two factors: an account with TOTP on is
//! not asked for a code, and the sign-in is `acr` `aal2`.
//!
//! Every ceremony's state is kept server side ([`crate::store::Passkeys`]), spent by its
//! answer, and bound to what it was made for: an account's registration (one at a time: new
//! options replace the last), or a sign-in (by its `passkey_token`, for a name or none).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Uuid,
};

use super::mfa::{STEP_UP_SECS, optional, require_owner, required};
use super::{
    LoginResponse, ProofBody, at_least_min_duration, login_key, record_failed_login, send_notice,
    sign_in, take_attempt, target_user, token_hook, verify_own_password,
};
use crate::auth::Auth;
use crate::clock::rfc3339;
use crate::credentials;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, Actor, Event, EventType};
use crate::input::{Field, Validate};
use crate::mail::{passkey_added_notice, passkey_removed_notice};
use crate::passkey::RelyingParty;
use crate::secret::{random_token, token_hash};
use crate::state::AppState;
use crate::store::{
    CEREMONY_TTL_SECS, Ceremony, MAX_PASSKEYS, PasskeyAdded, PasskeyRecord, PasskeyUse,
};
use crate::user::{UserRecord, username_key};

pub use crate::store::MAX_PASSKEY_NAME_CHARS;

fn relying_party(state: &AppState) -> ApiResult<&RelyingParty> {
    state
        .passkeys
        .as_deref()
        .ok_or(ApiError::PasskeysUnavailable)
}

const OWNER_ONLY: &str = "only the account's owner may add or rename its passkeys";

fn json<T: Serialize>(value: &T) -> ApiResult<String> {
    serde_json::to_string(value).map_err(|e| ApiError::Internal(format!("passkey state: {e}")))
}

fn parsed<T: serde::de::DeserializeOwned>(text: &str) -> ApiResult<T> {
    serde_json::from_str(text).map_err(|e| ApiError::Internal(format!("passkey state: {e}")))
}

/// The user handle of an account (WebAuthn's `user.id`): its id, a UUID, as 16 bytes; nothing
/// personal.
fn user_handle(user: &UserRecord) -> ApiResult<Uuid> {
    Uuid::parse_str(&user.user_id).map_err(|_| ApiError::Internal("user id not a UUID".into()))
}

/// The key of an account's one registration in progress.
fn registration_key(user_id: &str) -> String {
    token_hash(&format!("passkey-registration:{user_id}"))
}

/// A passkey's name: given, or "Passkey"; at most [`MAX_PASSKEY_NAME_CHARS`], no control
/// character.
fn name_rule<C>(field: &Field<String>, _: &C) -> garde::Result {
    match field {
        Field::Wrong => Err(garde::Error::new("must be a string")),
        Field::Given(s)
            if s.trim().is_empty()
                || s.chars().count() > MAX_PASSKEY_NAME_CHARS
                || s.chars().any(char::is_control) =>
        {
            Err(garde::Error::new(format!(
                "must be 1 to {MAX_PASSKEY_NAME_CHARS} characters, none a control character"
            )))
        }
        _ => Ok(()),
    }
}

fn required_name<C>(field: &Field<String>, context: &C) -> garde::Result {
    match field {
        Field::Missing => Err(garde::Error::new("is required")),
        other => name_rule(other, context),
    }
}

fn credential_rule<T, C>(field: &Field<T>, _: &C) -> garde::Result {
    match field {
        Field::Missing => Err(garde::Error::new("is required")),
        Field::Wrong => Err(garde::Error::new(
            "must be the credential the browser made, in its JSON form",
        )),
        Field::Given(_) => Ok(()),
    }
}

/// `{"name", "credential"}`: the passkey the browser made from the options.
#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[schema(as = AddPasskeyRequest)]
pub struct AddPasskeyBody {
    /// What the person calls it ("Laptop", "Phone"); default "Passkey".
    #[serde(default)]
    #[garde(custom(name_rule))]
    #[schema(value_type = String, min_length = 1, max_length = 64)]
    pub name: Field<String>,
    /// `navigator.credentials.create()`'s answer in its JSON form (`toJSON()`, or
    /// base64url-encoded members).
    #[serde(default)]
    #[garde(custom(credential_rule))]
    #[schema(value_type = Object, required)]
    pub credential: Field<RegisterPublicKeyCredential>,
}

impl Validate for AddPasskeyBody {
    type Command = (String, RegisterPublicKeyCredential);
    fn command(self) -> Self::Command {
        let name = match self.name {
            Field::Given(n) => n.trim().to_string(),
            _ => "Passkey".to_string(),
        };
        let Field::Given(credential) = self.credential else {
            unreachable!("validated")
        };
        (name, credential)
    }
}

/// `{"name"}`: a passkey's new name.
#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[schema(as = RenamePasskeyRequest)]
pub struct RenamePasskeyBody {
    #[serde(default)]
    #[garde(custom(required_name))]
    #[schema(value_type = String, required, min_length = 1, max_length = 64)]
    pub name: Field<String>,
}

impl Validate for RenamePasskeyBody {
    type Command = String;
    fn command(self) -> String {
        self.name.into_string().trim().to_string()
    }
}

/// `{}` for a discoverable sign-in (the browser offers the passkeys it holds for this
/// service), `{"username"}` to sign in as that account only, or `{"mfa_token"}` for a login's
/// second step (the account's passkeys named).
#[derive(Debug, Default, Deserialize, garde::Validate, ToSchema)]
#[schema(as = PasskeyOptionsRequest)]
pub struct PasskeyOptionsBody {
    #[serde(default)]
    #[garde(custom(optional))]
    #[schema(value_type = String, max_length = 512)]
    pub username: Field<String>,
    /// The `mfa_token` a password login answered: the options of its second step.
    #[serde(default)]
    #[garde(custom(optional))]
    #[schema(value_type = String, max_length = 512)]
    pub mfa_token: Field<String>,
}

/// What a sign-in's options are for.
pub enum OptionsFor {
    /// A sign-in with a passkey, for a username or any account.
    SignIn(Option<String>),
    /// The second step of the login of this `mfa_token`.
    SecondStep(String),
}

impl Validate for PasskeyOptionsBody {
    type Command = OptionsFor;
    fn command(self) -> OptionsFor {
        let given = |f: Field<String>| match f {
            Field::Given(v) => Some(v),
            _ => None,
        };
        match (given(self.username), given(self.mfa_token)) {
            (_, Some(token)) => OptionsFor::SecondStep(token),
            (username, None) => OptionsFor::SignIn(username),
        }
    }
}

/// `{"passkey_token", "credential"}`: the browser's assertion for the options of that token.
#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[schema(as = PasskeySignInRequest)]
pub struct PasskeySignInBody {
    #[serde(default)]
    #[garde(custom(required))]
    #[schema(value_type = String, required, max_length = 512)]
    pub passkey_token: Field<String>,
    /// `navigator.credentials.get()`'s answer in its JSON form.
    #[serde(default)]
    #[garde(custom(credential_rule))]
    #[schema(value_type = Object, required)]
    pub credential: Field<PublicKeyCredential>,
}

impl Validate for PasskeySignInBody {
    type Command = (String, PublicKeyCredential);
    fn command(self) -> Self::Command {
        let Field::Given(credential) = self.credential else {
            unreachable!("validated")
        };
        (self.passkey_token.into_string(), credential)
    }
}

/// `200 {"publicKey": {...}}`: the options of `navigator.credentials.create()` (WebAuthn's
/// `PublicKeyCredentialCreationOptions`, binary members base64url-encoded; pass them through
/// `PublicKeyCredential.parseCreationOptionsFromJSON`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyCreationOptions {
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: Value,
    /// How long the options may wait for the credential, in seconds.
    pub expires_in: i64,
}

/// `200 {"publicKey": {...}, "passkey_token"}`: the options of `navigator.credentials.get()`,
/// and the token that names this ceremony at `POST /auth/passkey`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyRequestOptions {
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: Value,
    /// Single use; valid for `expires_in` seconds. Not given for a second step (its
    /// `mfa_token` names the ceremony).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passkey_token: Option<String>,
    pub expires_in: i64,
}

/// A passkey, as listed: never a key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// When it last signed the person in, RFC 3339; `null` if never.
    pub last_used_at: Option<String>,
}

impl From<&PasskeyRecord> for PasskeyView {
    fn from(p: &PasskeyRecord) -> Self {
        PasskeyView {
            id: p.id.clone(),
            name: p.name.clone(),
            created_at: rfc3339(p.created_at),
            last_used_at: p.last_used_at.map(rfc3339),
        }
    }
}

/// `200 {"passkeys": [...]}`, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeyView>,
}

/// What adding a passkey asks: the password, or a two-factor sign-in (`acr` `aal2`: a passkey,
/// or the password and a code) at most [`STEP_UP_SECS`] old. Whoever holds a fresh password-only
/// token must not be able to put their own key on the account.
async fn step_up_for_new_key(
    state: &AppState,
    auth: &Auth,
    password: Option<String>,
) -> ApiResult<()> {
    if let Some(p) = password {
        return verify_own_password(state, &auth.user, &p).await;
    }
    let now = state.clock.now();
    if auth.claims.acr == credentials::AAL2 && now - auth.session.created_at <= STEP_UP_SECS {
        return Ok(());
    }
    Err(ApiError::StepUpRequired)
}

/// `POST /user/{username}/passkeys/options`: the creation options for a new passkey of the
/// owner's (the account's passkeys excluded, a discoverable one preferred, user verification
/// required). New options replace any earlier ones of the account.
pub async fn passkey_creation_options(
    state: &AppState,
    auth: &Auth,
    username: &str,
    body: ProofBody,
) -> ApiResult<PasskeyCreationOptions> {
    require_owner(auth, username, OWNER_ONLY)?;
    let (password, _) = body.validate()?;
    let rp = relying_party(state)?;
    step_up_for_new_key(state, auth, password).await?;
    let user = &auth.user;
    let held = state.store.passkeys(&user.user_id).await?;
    if held.len() >= MAX_PASSKEYS {
        return Err(ApiError::TooManyPasskeys(MAX_PASSKEYS));
    }
    let exclude = held
        .iter()
        .map(|p| parsed::<Passkey>(&p.credential).map(|k| k.cred_id().clone()))
        .collect::<ApiResult<Vec<_>>>()?;
    let (options, registration) = rp
        .webauthn
        .start_passkey_registration(
            user_handle(user)?,
            &user.username,
            &user.username,
            Some(exclude),
        )
        .map_err(|e| ApiError::Internal(format!("passkey options: {e}")))?;
    let mut public_key = public_key_of(&options)?;
    // A discoverable credential preferred (a sign-in with nothing typed), not required (a
    // security key with no room for one still works at the second step).
    if let Some(selection) = public_key
        .get_mut("authenticatorSelection")
        .and_then(Value::as_object_mut)
    {
        selection.insert("residentKey".into(), "preferred".into());
    }
    let now = state.clock.now();
    state
        .store
        .put_ceremony(&Ceremony {
            key_hash: registration_key(&user.user_id),
            bound_to: format!("register:{}:{}", user.user_id, auth.session.session_id),
            state: json::<PasskeyRegistration>(&registration)?,
            expires_at: now + CEREMONY_TTL_SECS,
        })
        .await?;
    Ok(PasskeyCreationOptions {
        public_key,
        expires_in: CEREMONY_TTL_SECS,
    })
}

/// `POST /user/{username}/passkeys`: the credential the browser made from the owner's options,
/// checked (origin, RP ID, user verification, challenge) and kept. The options are spent
/// either way. A notice is mailed.
pub async fn add_passkey(
    state: &AppState,
    auth: &Auth,
    username: &str,
    body: AddPasskeyBody,
) -> ApiResult<PasskeyView> {
    require_owner(auth, username, OWNER_ONLY)?;
    let (name, credential) = body.validate()?;
    let rp = relying_party(state)?;
    let user = &auth.user;
    let now = state.clock.now();
    let ceremony = state
        .store
        .take_ceremony(&registration_key(&user.user_id), now)
        .await?
        // Made for this sign-in of the account (a token of another cannot finish it).
        .filter(|c| c.bound_to == format!("register:{}:{}", user.user_id, auth.session.session_id))
        .ok_or(ApiError::InvalidPasskey)?;
    let registration: PasskeyRegistration = parsed(&ceremony.state)?;
    let passkey = rp
        .webauthn
        .finish_passkey_registration(&credential, &registration)
        .map_err(|e| {
            tracing::warn!(user_id = %user.user_id, error = %e, "a passkey was refused");
            ApiError::InvalidPasskey
        })?;
    let record = PasskeyRecord {
        id: random_token(12)?,
        user_id: user.user_id.clone(),
        credential_id: crate::secret::base64url(passkey.cred_id()),
        name,
        credential: json(&passkey)?,
        counter: 0,
        created_at: now,
        last_used_at: None,
    };
    match state.store.add_passkey(&record).await? {
        PasskeyAdded::Added => {}
        PasskeyAdded::Full => return Err(ApiError::TooManyPasskeys(MAX_PASSKEYS)),
        PasskeyAdded::Taken => return Err(ApiError::InvalidPasskey),
        PasskeyAdded::NoUser => return Err(ApiError::InvalidToken),
    }
    let event = Event::new(EventType::PasskeyAdded, user)
        .session(&auth.session.session_id)
        .detail("passkey_id", record.id.as_str());
    events::record(state, event).await;
    tracing::info!(user_id = %user.user_id, passkey_id = %record.id, "passkey added");
    let notice = passkey_added_notice(&user.email, &user.username, &record.name);
    if let Err(e) = send_notice(state, &notice).await {
        tracing::error!(error = %e, "notice of a passkey added not sent");
    }
    Ok(PasskeyView::from(&record))
}

/// `GET /user/{username}/passkeys`: self, or an admin.
pub async fn list_passkeys(
    state: &AppState,
    auth: &Auth,
    username: &str,
) -> ApiResult<PasskeyList> {
    let user = target_user(state, auth, username).await?;
    let passkeys = state.store.passkeys(&user.user_id).await?;
    Ok(PasskeyList {
        passkeys: passkeys.iter().map(PasskeyView::from).collect(),
    })
}

/// `PUT /user/{username}/passkeys/{id}`: the owner renames one.
pub async fn rename_passkey(
    state: &AppState,
    auth: &Auth,
    username: &str,
    id: &str,
    body: RenamePasskeyBody,
) -> ApiResult<PasskeyView> {
    require_owner(auth, username, OWNER_ONLY)?;
    let name = body.validate()?;
    let user = &auth.user;
    if id.len() > 64 || !state.store.rename_passkey(&user.user_id, id, &name).await? {
        return Err(ApiError::PasskeyNotFound);
    }
    state
        .store
        .passkeys(&user.user_id)
        .await?
        .iter()
        .find(|p| p.id == id)
        .map(PasskeyView::from)
        .ok_or(ApiError::PasskeyNotFound)
}

/// `DELETE /user/{username}/passkeys/{id}`: the owner, with the step-up the other changes that
/// matter need (a code of an account with TOTP on, unless its two-factor sign-in is at most 10
/// minutes old), or an admin.
pub async fn remove_passkey(
    state: &AppState,
    auth: &Auth,
    username: &str,
    id: &str,
    body: ProofBody,
) -> ApiResult<()> {
    let user = target_user(state, auth, username).await?;
    let (_, code) = body.validate()?;
    if auth.is_self(username) {
        super::mfa::step_up(state, auth, code.map(credentials::Proof::Totp)).await?;
    }
    let held = state.store.passkeys(&user.user_id).await?;
    let Some(removed) = held.into_iter().find(|p| p.id == id) else {
        return Err(ApiError::PasskeyNotFound);
    };
    if !state.store.remove_passkey(&user.user_id, id).await? {
        return Err(ApiError::PasskeyNotFound);
    }
    let event = Event::new(EventType::PasskeyRemoved, &user)
        .by(Actor::of(auth, &user))
        .session(&auth.session.session_id)
        .detail("passkey_id", id);
    events::record(state, event).await;
    tracing::info!(user_id = %user.user_id, passkey_id = %id, "passkey removed");
    let by_admin = !auth.is_self(username);
    let notice = passkey_removed_notice(&user.email, &user.username, &removed.name, by_admin);
    if let Err(e) = send_notice(state, &notice).await {
        tracing::error!(error = %e, "notice of a passkey removed not sent");
    }
    Ok(())
}

/// `POST /auth/passkey/options`: the request options of a sign-in and the `passkey_token` that
/// names it. Discoverable either way (the browser offers the passkeys it holds): with a
/// `username`, only that account's passkey will do, and the answer is the same whether or not
/// the account exists.
pub async fn passkey_request_options(
    state: &AppState,
    body: PasskeyOptionsBody,
) -> ApiResult<PasskeyRequestOptions> {
    let username = match body.validate()? {
        OptionsFor::SignIn(username) => username,
        OptionsFor::SecondStep(mfa_token) => {
            return second_step_options(state, &mfa_token).await;
        }
    };
    let rp = relying_party(state)?;
    let (options, authentication) = rp
        .webauthn
        .start_discoverable_authentication()
        .map_err(|e| ApiError::Internal(format!("passkey options: {e}")))?;
    let token = crate::secret::link_token()?;
    let now = state.clock.now();
    state
        .store
        .put_ceremony(&Ceremony {
            key_hash: token_hash(&token),
            bound_to: format!(
                "login:{}",
                username.as_deref().map(username_key).unwrap_or_default()
            ),
            state: json::<DiscoverableAuthentication>(&authentication)?,
            expires_at: now + CEREMONY_TTL_SECS,
        })
        .await?;
    Ok(PasskeyRequestOptions {
        public_key: public_key_of(&options)?,
        passkey_token: Some(token),
        expires_in: CEREMONY_TTL_SECS,
    })
}

/// The `publicKey` member of options as webauthn-rs writes them.
fn public_key_of(options: &impl Serialize) -> ApiResult<Value> {
    Ok(serde_json::to_value(options)
        .map_err(|e| ApiError::Internal(format!("passkey options: {e}")))?
        .get_mut("publicKey")
        .map(Value::take)
        .unwrap_or_default())
}

/// The key of a login's second-step ceremony: its `mfa_token`'s.
fn second_step_key(mfa_token_hash: &str) -> String {
    token_hash(&format!("passkey-second-step:{mfa_token_hash}"))
}

/// The options of a login's second step with a passkey: the account's passkeys named (the
/// password was right: nothing is told that the login did not know). Counts one of the
/// `mfa_token`'s tries.
async fn second_step_options(
    state: &AppState,
    mfa_token: &str,
) -> ApiResult<PasskeyRequestOptions> {
    let rp = relying_party(state)?;
    let hash = token_hash(mfa_token);
    let now = state.clock.now();
    let challenge = state
        .store
        .attempt_challenge(&hash, now)
        .await?
        .ok_or(ApiError::InvalidMfaToken)?;
    let user = state
        .store
        .find_user_by_id(&challenge.user_id, now)
        .await?
        .filter(|u| u.activated && u.auth_epoch == challenge.epoch)
        .ok_or(ApiError::InvalidMfaToken)?;
    let held = state
        .store
        .passkeys(&user.user_id)
        .await?
        .iter()
        .map(|p| parsed::<Passkey>(&p.credential))
        .collect::<ApiResult<Vec<_>>>()?;
    if held.is_empty() {
        return Err(ApiError::PasskeyNotFound);
    }
    let (options, authentication) = rp
        .webauthn
        .start_passkey_authentication(&held)
        .map_err(|e| ApiError::Internal(format!("passkey options: {e}")))?;
    state
        .store
        .put_ceremony(&Ceremony {
            key_hash: second_step_key(&hash),
            bound_to: format!("mfa:{}", user.user_id),
            state: json::<PasskeyAuthentication>(&authentication)?,
            expires_at: now + CEREMONY_TTL_SECS,
        })
        .await?;
    Ok(PasskeyRequestOptions {
        public_key: public_key_of(&options)?,
        passkey_token: None,
        expires_in: CEREMONY_TTL_SECS,
    })
}

/// A login's second step with a passkey (`POST /auth/mfa` `{"mfa_token", "credential"}`): the
/// assertion for the options of that `mfa_token`, by one of `user`'s passkeys. Every refusal is
/// `InvalidMfaCode`, as a wrong code is.
pub(crate) async fn prove_passkey_step(
    state: &AppState,
    user: &UserRecord,
    mfa_token_hash: &str,
    assertion: Value,
) -> ApiResult<()> {
    let rp = relying_party(state)?;
    let credential: PublicKeyCredential =
        serde_json::from_value(assertion).map_err(|_| ApiError::InvalidMfaCode)?;
    let now = state.clock.now();
    let ceremony = state
        .store
        .take_ceremony(&second_step_key(mfa_token_hash), now)
        .await?
        .filter(|c| c.bound_to == format!("mfa:{}", user.user_id))
        .ok_or(ApiError::InvalidMfaCode)?;
    let authentication: PasskeyAuthentication = parsed(&ceremony.state)?;
    let passkey = state
        .store
        .passkey_by_credential(&crate::secret::base64url(credential.get_credential_id()))
        .await?
        .filter(|p| p.user_id == user.user_id)
        .ok_or(ApiError::InvalidMfaCode)?;
    let mut stored: Passkey = parsed(&passkey.credential)?;
    let result = match rp
        .webauthn
        .finish_passkey_authentication(&credential, &authentication)
    {
        Ok(r) => r,
        Err(e) => {
            refused_assertion(state, user, &passkey.id, &e).await;
            return Err(ApiError::InvalidMfaCode);
        }
    };
    record_use(state, user, &passkey, &mut stored, &result, now)
        .await
        .map_err(|e| match e {
            ApiError::InvalidCredentials => ApiError::InvalidMfaCode,
            other => other,
        })
}

/// Keeps what a passkey's use changed (its counter, its backup state) and when; a counter that
/// did not move on (a copy racing the original) is refused and recorded.
async fn record_use(
    state: &AppState,
    user: &UserRecord,
    passkey: &PasskeyRecord,
    stored: &mut Passkey,
    result: &webauthn_rs::prelude::AuthenticationResult,
    now: i64,
) -> ApiResult<()> {
    stored.update_credential(result);
    match state
        .store
        .use_passkey(
            &user.user_id,
            &passkey.id,
            result.counter(),
            &json(stored)?,
            now,
        )
        .await?
    {
        PasskeyUse::Recorded => {}
        PasskeyUse::CounterRegressed => {
            counter_regressed(state, user, &passkey.id).await;
            return Err(ApiError::InvalidCredentials);
        }
        PasskeyUse::Gone => return Err(ApiError::InvalidCredentials),
    }
    let event = Event::new(EventType::PasskeyUsed, user).detail("passkey_id", passkey.id.as_str());
    events::record(state, event).await;
    Ok(())
}

/// `POST /auth/passkey`: a sign-in with a passkey, answered as a login is (`amr` `["hwk",
/// "mfa"]`, `acr` `aal2`; no second step). Every refusal is `401 invalid_credentials` after the
/// same minimum time, as a wrong password is.
pub async fn passkey_sign_in(
    state: &AppState,
    body: PasskeySignInBody,
) -> ApiResult<LoginResponse> {
    at_least_min_duration(passkey_sign_in_now(state, body)).await
}

async fn passkey_sign_in_now(
    state: &AppState,
    body: PasskeySignInBody,
) -> ApiResult<LoginResponse> {
    let user = prove_passkey_sign_in(state, body).await?;
    let scope = super::session::allowed_scopes(&user);
    let amr = credentials::passkey_amr();
    let ext = token_hook(state, &user, &scope, &amr).await?;
    sign_in(state, &user, scope, amr, ext).await
}

/// A sign-in with a passkey proven (`POST /auth/passkey`, the hosted sign-in page): the
/// ceremony of its token spent, the assertion checked and its use kept; its account. Every
/// refusal is `InvalidCredentials`, as a wrong password is.
pub(crate) async fn prove_passkey_sign_in(
    state: &AppState,
    body: PasskeySignInBody,
) -> ApiResult<UserRecord> {
    let (token, credential) = body.validate()?;
    let rp = relying_party(state)?;
    let now = state.clock.now();
    let ceremony = state
        .store
        .take_ceremony(&token_hash(&token), now)
        .await?
        .filter(|c| c.bound_to.starts_with("login:"))
        .ok_or(ApiError::InvalidCredentials)?;
    let authentication: DiscoverableAuthentication = parsed(&ceremony.state)?;
    let (handle, credential_id) = rp
        .webauthn
        .identify_discoverable_authentication(&credential)
        .map_err(|_| ApiError::InvalidCredentials)?;
    let passkey = state
        .store
        .passkey_by_credential(&crate::secret::base64url(credential_id))
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    // The user handle the authenticator gave names the passkey's account.
    if Uuid::parse_str(&passkey.user_id).ok() != Some(handle) {
        return Err(ApiError::InvalidCredentials);
    }
    let user = state
        .store
        .find_user_by_id(&passkey.user_id, now)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    let bound_name = &ceremony.bound_to["login:".len()..];
    if !bound_name.is_empty() && bound_name != username_key(&user.username) {
        return Err(ApiError::InvalidCredentials);
    }
    let key = login_key(false, &user.username);
    match take_attempt(state, &key).await {
        Err(refused @ ApiError::TooManyAttempts(_)) => {
            record_failed_login(state, EventType::LoginThrottled, Some(&user), None).await;
            return Err(refused);
        }
        taken => taken?,
    };
    let mut stored: Passkey = parsed(&passkey.credential)?;
    let result = match rp.webauthn.finish_discoverable_authentication_v2(
        &credential,
        authentication,
        &stored,
    ) {
        Ok(r) => r,
        Err(e) => {
            state.store.record_failed_attempt(&key, now).await?;
            let regressed = refused_assertion(state, &user, &passkey.id, &e).await;
            let reason = if regressed {
                "counter_regressed"
            } else {
                "wrong_passkey"
            };
            record_failed_login(state, EventType::LoginFailed, Some(&user), Some(reason)).await;
            return Err(ApiError::InvalidCredentials);
        }
    };
    if !user.activated {
        record_failed_login(
            state,
            EventType::LoginFailed,
            Some(&user),
            Some("not_activated"),
        )
        .await;
        return Err(ApiError::InvalidCredentials);
    }
    record_use(state, &user, &passkey, &mut stored, &result, now).await?;
    state.store.clear_login_failures(&key).await?;
    tracing::info!(user_id = %user.user_id, passkey_id = %passkey.id, "user signed in with a passkey");
    Ok(user)
}

/// What an assertion the relying party refused leaves: a warning, and, when its signature
/// counter went back (a cloned authenticator), the account's event. Whether it did.
async fn refused_assertion(
    state: &AppState,
    user: &UserRecord,
    passkey_id: &str,
    e: &webauthn_rs::prelude::WebauthnError,
) -> bool {
    tracing::warn!(user_id = %user.user_id, error = %e, "a passkey's assertion was refused");
    let regressed = matches!(
        e,
        webauthn_rs::prelude::WebauthnError::CredentialPossibleCompromise
    );
    if regressed {
        counter_regressed(state, user, passkey_id).await;
    }
    regressed
}

async fn counter_regressed(state: &AppState, user: &UserRecord, passkey_id: &str) {
    tracing::warn!(user_id = %user.user_id, %passkey_id, "a passkey's counter went back: refused");
    let event =
        Event::new(EventType::PasskeyCounterRegressed, user).detail("passkey_id", passkey_id);
    events::record(state, event).await;
}
