//! The second factor: TOTP enrolment and its proof, the login's second step, turning it off
//! (the owner, with a step-up; an admin, for a person who lost everything), new recovery codes,
//! and the step-up the changes that matter ask of an account that has it.

use serde::{Deserialize, Serialize};

use super::session::{
    LoginResponse, login_key, record_failed_login, sign_in, still_allowed, take_attempt, token_hook,
};
use super::{at_least_min_duration, send_notice, verify_own_password};
use crate::auth::Auth;
use crate::credentials::{self, Proof};
use crate::error::{ApiError, ApiResult};
use crate::events::{self, Actor, Event, EventType};
use crate::input::{Field, Validate};
use crate::mail::{
    mfa_disabled_notice, mfa_enabled_notice, recovery_code_used_notice,
    recovery_codes_replaced_notice,
};
use crate::mfa::{self as totp, MfaKeys};
use crate::secret::token_hash;
use crate::state::AppState;
use crate::store::TotpFactor;
use crate::user::UserRecord;

/// How long an enrolment may wait for its first code.
pub const ENROLMENT_TTL_SECS: i64 = 600;
/// How recent a sign-in must be to count as a step-up (and, without the password, to enrol).
pub const STEP_UP_SECS: i64 = 600;
/// The longest code, recovery code, password or `mfa_token` read.
const MAX_SECRET_CHARS: usize = 512;

fn keys(state: &AppState) -> ApiResult<&MfaKeys> {
    state.mfa.as_deref().ok_or(ApiError::MfaUnavailable)
}

/// The caller is the account's owner; else `403 forbidden`, saying `why`.
pub(crate) fn require_owner(auth: &Auth, username: &str, why: &'static str) -> ApiResult<()> {
    if auth.is_self(username) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(why))
    }
}

const OWNER_ONLY: &str = "only the account's owner may change its second factor";

/// A string member of bounded length, optional.
pub(crate) fn optional<C>(field: &Field<String>, _: &C) -> garde::Result {
    match field {
        Field::Wrong => Err(garde::Error::new("must be a string")),
        Field::Given(s) if s.chars().count() > MAX_SECRET_CHARS => {
            Err(garde::Error::new("is too long"))
        }
        _ => Ok(()),
    }
}

/// The same, required.
pub(crate) fn required<C>(field: &Field<String>, context: &C) -> garde::Result {
    match field {
        Field::Missing => Err(garde::Error::new("is required")),
        other => optional(other, context),
    }
}

fn given(field: Field<String>) -> Option<String> {
    match field {
        Field::Given(s) => Some(s),
        _ => None,
    }
}

/// `{"password"}` to enrol (or, with `{"code"}` instead, to replace the recovery codes);
/// `{"code"}` (optional where a recent second-factor sign-in will do) to step up.
#[derive(Debug, Default, Deserialize, garde::Validate, utoipa::ToSchema)]
#[schema(as = ProofRequest)]
pub struct ProofBody {
    #[serde(default)]
    #[garde(custom(optional))]
    /// The account's password: to enrol, or for new recovery codes instead of a code.
    #[schema(value_type = String, max_length = 512)]
    pub password: Field<String>,
    #[serde(default)]
    #[garde(custom(optional))]
    /// A current code of the second factor: the step-up of an account that has one, unless the
    /// token's sign-in with it (acr aal2) is at most 10 minutes old.
    #[schema(value_type = String, max_length = 512)]
    pub code: Field<String>,
}

impl Validate for ProofBody {
    type Command = (Option<String>, Option<String>);
    fn command(self) -> Self::Command {
        (given(self.password), given(self.code))
    }
}

/// `{"code"}`: the first code of a pending factor.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[schema(as = CodeRequest)]
pub struct CodeBody {
    #[serde(default)]
    #[garde(custom(required))]
    #[schema(value_type = String, required, max_length = 512)]
    pub code: Field<String>,
}

impl Validate for CodeBody {
    type Command = String;
    fn command(self) -> String {
        self.code.into_string()
    }
}

/// `{"mfa_token", "code"}` or `{"mfa_token", "recovery_code"}`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[schema(as = MfaLoginRequest)]
pub struct MfaLoginBody {
    #[serde(default)]
    #[garde(custom(required))]
    #[schema(value_type = String, required, max_length = 512)]
    pub mfa_token: Field<String>,
    #[serde(default)]
    #[garde(custom(optional))]
    #[schema(value_type = String, max_length = 512)]
    pub code: Field<String>,
    #[serde(default)]
    #[garde(custom(optional))]
    #[schema(value_type = String, max_length = 512)]
    pub recovery_code: Field<String>,
    /// A passkey's assertion (`navigator.credentials.get()`'s answer, its JSON form) for the
    /// options `POST /auth/passkey/options` `{"mfa_token"}` answered.
    #[serde(default)]
    #[garde(skip)]
    #[schema(value_type = Object)]
    pub credential: Field<serde_json::Value>,
}

impl Validate for MfaLoginBody {
    type Command = (String, Option<Proof>);
    fn command(self) -> Self::Command {
        let credential = match self.credential {
            Field::Given(v) => Some(v),
            _ => None,
        };
        let proof = match (given(self.code), given(self.recovery_code), credential) {
            (Some(c), None, None) => Some(Proof::Totp(c)),
            (None, Some(r), None) => Some(Proof::RecoveryCode(r)),
            (None, None, Some(v)) => Some(Proof::Passkey(Box::new(v))),
            _ => None,
        };
        (self.mfa_token.into_string(), proof)
    }
}

/// What an enrolment answers: the secret (to type), its URI and the URI's QR code (to scan).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrolment {
    /// The TOTP secret, base32, to type into an authenticator app.
    pub secret: String,
    #[schema(pattern = "^otpauth://totp/")]
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
    /// Seconds to prove it with a first code.
    #[schema(schema_with = enrolment_ttl)]
    pub expires_in: i64,
}

/// Recovery codes, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCodes {
    #[schema(schema_with = crate::api_doc::always_true)]
    pub mfa_enabled: bool,
    #[schema(schema_with = ten_codes)]
    pub recovery_codes: Vec<String>,
}

fn enrolment_ttl() -> utoipa::openapi::schema::Schema {
    crate::api_doc::constant(ENROLMENT_TTL_SECS.into())
}

/// Ten codes, each as it is shown (`abcde-fghij`).
fn ten_codes() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[a-z2-9]{5}-[a-z2-9]{5}$")),
        )
        .min_items(Some(crate::mfa::RECOVERY_CODES))
        .max_items(Some(crate::mfa::RECOVERY_CODES))
        .build()
        .into()
}

fn open_secret(keys: &MfaKeys, user: &UserRecord, factor: &TotpFactor) -> ApiResult<Vec<u8>> {
    keys.open(&user.user_id, &factor.sealed_secret)
        .ok_or_else(|| {
            ApiError::Internal("a second factor's secret does not open with this MFA key".into())
        })
}

/// Checks a code of `user`'s factor under the login throttle of the username: the step it
/// proves, accepted once (`use_step`), or `400 invalid_mfa_code` (counted as a failed login).
async fn prove_code(
    state: &AppState,
    user: &UserRecord,
    factor: &TotpFactor,
    code: &str,
    accept: impl AsyncFnOnce(i64) -> ApiResult<bool>,
) -> ApiResult<()> {
    let keys = keys(state)?;
    let key = login_key(false, &user.username);
    take_attempt(state, &key).await?;
    let secret = open_secret(keys, user, factor)?;
    let now = state.clock.now();
    let proven = match totp::check(&secret, code, now) {
        Some(step) => accept(step).await?,
        None => false,
    };
    if !proven {
        state.store.record_failed_attempt(&key, now).await?;
        tracing::warn!(user_id = %user.user_id, "a second-factor code was refused");
        return Err(ApiError::InvalidMfaCode);
    }
    state.store.clear_login_failures(&key).await?;
    Ok(())
}

/// Checks a code of `user`'s enabled factor ([`prove_code`]), its step accepted once;
/// `sign_in`: at a login's second step (the factor then counts as used to sign in).
async fn prove_step(
    state: &AppState,
    user: &UserRecord,
    factor: &TotpFactor,
    code: &str,
    sign_in: bool,
) -> ApiResult<()> {
    prove_code(state, user, factor, code, async |step| {
        Ok(state.store.use_step(&user.user_id, step, sign_in).await?)
    })
    .await
}

/// The caller's enabled factor, if any.
async fn enabled_factor(state: &AppState, user: &UserRecord) -> ApiResult<Option<TotpFactor>> {
    Ok(state
        .store
        .factor(&user.user_id)
        .await?
        .filter(|f| f.enabled))
}

/// What the changes that matter ask of an account with a second factor: a token of a sign-in
/// with it at most [`STEP_UP_SECS`] old, or a proof now: a code of its app (a recovery code or
/// the password is not one). Nothing for an account without one.
pub(crate) async fn step_up(state: &AppState, auth: &Auth, proof: Option<Proof>) -> ApiResult<()> {
    let Some(factor) = enabled_factor(state, &auth.user).await? else {
        return Ok(());
    };
    let now = state.clock.now();
    if auth.claims.acr == credentials::AAL2 && now - auth.session.created_at <= STEP_UP_SECS {
        return Ok(());
    }
    match proof {
        Some(Proof::Totp(code)) => prove_step(state, &auth.user, &factor, &code, false).await,
        Some(Proof::RecoveryCode(_) | Proof::Password(_) | Proof::Passkey(_)) | None => {
            Err(ApiError::StepUpRequired)
        }
    }
}

/// What reading other accounts (and every account's events) asks of an admin whose account
/// has a second factor: a sign-in made with it (`acr` `aal2`). One made with the password
/// alone, before the factor was turned on for instance, is `403 step_up_required`.
pub(crate) async fn second_factor_sign_in(state: &AppState, auth: &Auth) -> ApiResult<()> {
    if auth.claims.acr == credentials::AAL2 || enabled_factor(state, &auth.user).await?.is_none() {
        return Ok(());
    }
    Err(ApiError::StepUpRequired)
}

/// `POST /user/{username}/mfa/totp`: the owner, with the password, gets a new secret, pending
/// for [`ENROLMENT_TTL_SECS`] until a code proves it. A recent sign-in is not enough: whoever
/// holds a fresh token must not be able to put their own authenticator on the account and lock
/// its owner out. An enabled factor is `409 mfa_already_enabled`.
pub async fn enrol_totp(
    state: &AppState,
    auth: &Auth,
    username: &str,
    body: ProofBody,
) -> ApiResult<Enrolment> {
    require_owner(auth, username, OWNER_ONLY)?;
    let (password, _) = body.validate()?;
    let keys = keys(state)?;
    let user = &auth.user;
    if enabled_factor(state, user).await?.is_some() {
        return Err(ApiError::MfaAlreadyEnabled);
    }
    let now = state.clock.now();
    match password {
        Some(p) => verify_own_password(state, user, &p).await?,
        None => return Err(ApiError::StepUpRequired),
    }
    let secret = totp::new_secret()?;
    let factor = TotpFactor {
        user_id: user.user_id.clone(),
        sealed_secret: keys.seal(&user.user_id, &secret)?,
        enabled: false,
        pending_until: now + ENROLMENT_TTL_SECS,
        last_step: 0,
        recovery: vec![],
        signed_in: false,
    };
    if !state.store.start_factor(&factor).await? {
        // Turned on by another request since the check above.
        return Err(ApiError::MfaAlreadyEnabled);
    }
    let (base32, uri) = totp::provisioning(&secret, &user.username, &state.mfa_issuer)?;
    tracing::info!(user_id = %user.user_id, "second factor enrolment started");
    Ok(Enrolment {
        secret: base32,
        qr_svg: totp::qr_svg(&uri)?,
        otpauth_uri: uri,
        expires_in: ENROLMENT_TTL_SECS,
    })
}

/// Ten new recovery codes and their MACs.
fn recovery_codes(keys: &MfaKeys, user_id: &str) -> ApiResult<(Vec<String>, Vec<String>)> {
    let codes = totp::new_recovery_codes()?;
    let macs = codes
        .iter()
        .map(|c| keys.recovery_hash(user_id, c))
        .collect();
    Ok((codes, macs))
}

/// `POST /user/{username}/mfa/totp/verify` `{"code"}`: the pending factor's first code turns it
/// on; the answer holds the recovery codes, shown this once. A notice is mailed.
pub async fn verify_totp(
    state: &AppState,
    auth: &Auth,
    username: &str,
    body: CodeBody,
) -> ApiResult<RecoveryCodes> {
    require_owner(auth, username, OWNER_ONLY)?;
    let code = body.validate()?;
    let keys = keys(state)?;
    let user = &auth.user;
    let factor = match state.store.factor(&user.user_id).await? {
        Some(f) if f.enabled => return Err(ApiError::MfaAlreadyEnabled),
        Some(f) => f,
        None => return Err(ApiError::MfaNotEnabled),
    };
    let (codes, macs) = recovery_codes(keys, &user.user_id)?;
    let now = state.clock.now();
    prove_code(state, user, &factor, &code, async |step| {
        Ok(state
            .store
            .enable_factor(&user.user_id, step, &macs, now)
            .await?)
    })
    .await?;
    // The sign-ins made before (with the password alone) end, as a password change ends them,
    // their refresh tokens with them: this one goes on. The factor is on already: should the
    // store fail here, the recovery codes are still answered (they are shown only now), and
    // the other sign-ins, aal1, hold no power the factor guards.
    match state
        .store
        .end_all_sessions(&user.user_id, Some(&auth.session.session_id), now)
        .await
    {
        Ok(_) => {
            tracing::info!(user_id = %user.user_id, "second factor turned on; the other sign-ins ended")
        }
        Err(e) => {
            tracing::error!(user_id = %user.user_id, error = %e, "second factor turned on; the other sign-ins could not be ended")
        }
    }
    let event = Event::new(EventType::MfaEnabled, user).session(&auth.session.session_id);
    events::record(state, event).await;
    if let Err(e) = send_notice(state, &mfa_enabled_notice(&user.email, &user.username)).await {
        tracing::error!(error = %e, "notice of a second factor turned on not sent");
    }
    Ok(RecoveryCodes {
        mfa_enabled: true,
        recovery_codes: codes,
    })
}

/// `POST /auth/mfa`: the login's second step. The `mfa_token` allows five
/// tries for 5 minutes; a right code (each time step once) or an unused recovery code signs in,
/// as a login does, with `amr` `["pwd", "otp"]` and `acr` `aal2`. Every answer but a sign-in
/// takes the same minimum time, so a wrong code and an unknown token look alike.
pub async fn complete_login(state: &AppState, body: MfaLoginBody) -> ApiResult<LoginResponse> {
    at_least_min_duration(complete_login_now(state, body)).await
}

async fn complete_login_now(state: &AppState, body: MfaLoginBody) -> ApiResult<LoginResponse> {
    let proven = prove_second_step(state, body, true).await?;
    let pair = sign_in(state, &proven.user, proven.scope, proven.amr, proven.ext).await?;
    tracing::info!(user_id = %proven.user.user_id, "user logged in with a second factor");
    Ok(pair)
}

/// A sign-in whose second step was proven.
pub(crate) struct SecondStepProven {
    pub user: UserRecord,
    /// The scopes of the login's first step that the account may still have.
    pub scope: Vec<String>,
    pub amr: Vec<String>,
    /// What the token hook added, when it was asked.
    pub ext: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The second step of a sign-in (`POST /auth/mfa`, the hosted sign-in page): the challenge of
/// the first step, a proof of a method the account offers, spent once. With `ask_hook`, the
/// token hook is asked before anything is spent (a hook that refuses leaves the person able to
/// try again).
pub(crate) async fn prove_second_step(
    state: &AppState,
    body: MfaLoginBody,
    ask_hook: bool,
) -> ApiResult<SecondStepProven> {
    let (token, proof) = body.validate()?;
    let Some(proof) = proof else {
        return Err(ApiError::field(
            "code",
            "give one of code, recovery_code and credential",
        ));
    };
    let keys = keys(state)?;
    let hash = token_hash(&token);
    let now = state.clock.now();
    let Some(challenge) = state.store.attempt_challenge(&hash, now).await? else {
        return Err(ApiError::InvalidMfaToken);
    };
    let user = state
        .store
        .find_user_by_id(&challenge.user_id, now)
        .await?
        // Still activated, and no reset or "end all sessions" since the password step.
        .filter(|u| u.activated && u.auth_epoch == challenge.epoch)
        .ok_or(ApiError::InvalidMfaToken)?;
    let factor = enabled_factor(state, &user)
        .await?
        .ok_or(ApiError::InvalidMfaToken)?;
    // A proof of a method the account's second step offers.
    let method = proof
        .method()
        // (Whether the account has passkeys, a passkey's proof finds out.)
        .filter(|m| credentials::second_step_methods(Some(&factor), true).contains(m))
        .ok_or(ApiError::InvalidMfaCode)?;
    let amr = credentials::amr_after(&challenge.first_factor, Some(method));
    let scope = still_allowed(&user, &challenge.scope);
    // The token hook before the code, the recovery code or the challenge is spent: a hook that
    // refuses leaves them all as they were (the person may try again).
    let ext = if ask_hook {
        token_hook(state, &user, &scope, &amr).await?
    } else {
        None
    };
    let proven = match proof {
        Proof::Totp(code) => prove_step(state, &user, &factor, &code, true).await,
        Proof::RecoveryCode(code) => prove_recovery_code(state, keys, &user, &code, now).await,
        Proof::Passkey(assertion) => {
            super::passkeys::prove_passkey_step(state, &user, &hash, *assertion).await
        }
        Proof::Password(_) => Err(ApiError::InvalidMfaCode),
    };
    match proven {
        Err(e @ ApiError::InvalidMfaCode) => {
            let event = EventType::LoginFailed;
            record_failed_login(state, event, Some(&user), Some("wrong_code")).await;
            return Err(e);
        }
        Err(e @ ApiError::TooManyAttempts(_)) => {
            let event = EventType::LoginThrottled;
            record_failed_login(state, event, Some(&user), None).await;
            return Err(e);
        }
        other => other?,
    }
    if !state.store.spend_challenge(&hash).await? {
        // Another request finished this login first.
        return Err(ApiError::InvalidMfaToken);
    }
    state
        .metrics
        .count(crate::metrics::Metric::SecondStepPassed);
    Ok(SecondStepProven {
        user,
        scope,
        amr,
        ext,
    })
}

/// Spends one of `user`'s recovery codes, under the login throttle.
async fn prove_recovery_code(
    state: &AppState,
    keys: &MfaKeys,
    user: &UserRecord,
    code: &str,
    now: i64,
) -> ApiResult<()> {
    let key = login_key(false, &user.username);
    take_attempt(state, &key).await?;
    let used = state
        .store
        .use_recovery_code(&user.user_id, &keys.recovery_hash(&user.user_id, code))
        .await?;
    if !used {
        state.store.record_failed_attempt(&key, now).await?;
        tracing::warn!(user_id = %user.user_id, "a recovery code was refused");
        return Err(ApiError::InvalidMfaCode);
    }
    state.store.clear_login_failures(&key).await?;
    tracing::warn!(user_id = %user.user_id, "a recovery code was used");
    events::record(state, Event::new(EventType::RecoveryCodeUsed, user)).await;
    let left = match state.store.factor(&user.user_id).await {
        Ok(Some(f)) => f.recovery.len(),
        _ => 0,
    };
    let notice = recovery_code_used_notice(&user.email, &user.username, left);
    if let Err(e) = send_notice(state, &notice).await {
        tracing::error!(error = %e, "notice of a recovery code used not sent");
    }
    Ok(())
}

/// `DELETE /user/{username}/mfa`: the owner turns the second factor off with a step-up; an
/// admin resets another user's (logged with who did it). A notice is mailed either way.
pub async fn disable_mfa(
    state: &AppState,
    auth: &Auth,
    username: &str,
    body: ProofBody,
) -> ApiResult<()> {
    let (_, code) = body.validate()?;
    let now = state.clock.now();
    let (user, by_admin) = if auth.is_self(username) {
        if enabled_factor(state, &auth.user).await?.is_none()
            && state.store.factor(&auth.user.user_id).await?.is_none()
        {
            return Err(ApiError::MfaNotEnabled);
        }
        step_up(state, auth, code.map(Proof::Totp)).await?;
        (auth.user.clone(), false)
    } else if auth.is_admin() {
        // An admin power: with a factor on the admin's own account, a step-up.
        step_up(state, auth, code.map(Proof::Totp)).await?;
        let user = state
            .store
            .find_user_by_username(username, now)
            .await?
            .ok_or(ApiError::UserNotFound)?;
        (user, true)
    } else {
        return Err(ApiError::Forbidden(
            "only the account's owner or an admin may turn its second factor off",
        ));
    };
    if !state.store.remove_factor(&user.user_id).await? {
        return Err(ApiError::MfaNotEnabled);
    }
    if by_admin {
        tracing::warn!(user_id = %user.user_id, admin_id = %auth.user.user_id, "second factor reset by an admin");
    } else {
        tracing::info!(user_id = %user.user_id, "second factor turned off");
    }
    let event = Event::new(EventType::MfaDisabled, &user)
        .by(Actor::of(auth, &user))
        .session(&auth.session.session_id);
    events::record(state, event).await;
    let notice = mfa_disabled_notice(&user.email, &user.username, by_admin);
    if let Err(e) = send_notice(state, &notice).await {
        tracing::error!(error = %e, "notice of a second factor turned off not sent");
    }
    Ok(())
}

/// `POST /user/{username}/mfa/recovery-codes`: the owner, with a current code (or the
/// password), replaces the recovery codes: the old ones stop working, and a notice is mailed. A
/// recent sign-in is not enough: whoever holds a fresh token must not be able to swap the
/// owner's codes for their own unnoticed.
pub async fn replace_recovery_codes(
    state: &AppState,
    auth: &Auth,
    username: &str,
    body: ProofBody,
) -> ApiResult<RecoveryCodes> {
    require_owner(auth, username, OWNER_ONLY)?;
    let (password, code) = body.validate()?;
    let keys = keys(state)?;
    let Some(factor) = enabled_factor(state, &auth.user).await? else {
        return Err(ApiError::MfaNotEnabled);
    };
    // A code of the app if one is given, else the password.
    match code.map(Proof::Totp).or(password.map(Proof::Password)) {
        Some(Proof::Totp(code)) => prove_step(state, &auth.user, &factor, &code, false).await?,
        Some(Proof::Password(password)) => {
            verify_own_password(state, &auth.user, &password).await?
        }
        Some(Proof::RecoveryCode(_) | Proof::Passkey(_)) | None => {
            return Err(ApiError::StepUpRequired);
        }
    }
    let (codes, macs) = recovery_codes(keys, &auth.user.user_id)?;
    if !state
        .store
        .set_recovery_codes(&auth.user.user_id, &macs)
        .await?
    {
        return Err(ApiError::MfaNotEnabled);
    }
    tracing::info!(user_id = %auth.user.user_id, "recovery codes replaced");
    let event =
        Event::new(EventType::RecoveryCodesReplaced, &auth.user).session(&auth.session.session_id);
    events::record(state, event).await;
    let notice = recovery_codes_replaced_notice(&auth.user.email, &auth.user.username);
    if let Err(e) = send_notice(state, &notice).await {
        tracing::error!(error = %e, "notice of new recovery codes not sent");
    }
    Ok(RecoveryCodes {
        mfa_enabled: true,
        recovery_codes: codes,
    })
}
