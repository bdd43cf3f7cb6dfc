//! Sign-in with a code mailed to the account's address: `POST /auth/email-code` mails a 6-digit
//! code (the same answer, in about the same time, whether or not the address has an account),
//! `POST /auth/email-code/verify` signs the person in with it, as a login does (`amr`
//! `["email"]`: one factor; an account with a second factor is asked for it).
//!
//! A code lives [`EMAIL_CODE_TTL_SECS`], works once, and takes at most
//! [`MAX_EMAIL_CODE_ATTEMPTS`] tries, each counted before the code is compared (requests at
//! once share them); a new code replaces the last. The store keeps a MAC of the code under a
//! key it does not hold (derived from `LOGIN_NAME_KEY`), compared in constant time; and the
//! SHA-256 of the mail's link token. The code is derived from that token (the MAC of it), so the
//! link's page can show the code again without the code being kept anywhere: opening the page
//! (`GET`, what mail scanners do) shows a button and spends nothing; the button (`POST`) shows
//! the code.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::session::{PasswordChecked, open_second_step, second_step_of, unknown_name_key};
use super::{
    EmailBody, LoginOutcome, address_length_rule, at_least_min_duration, login_key,
    mail_anonymously, record_failed_login, short_enough_address, sign_in, take_attempt, token_hook,
};
use crate::credentials::{self, EMAIL_CODE_AMR};
use crate::error::{ApiError, ApiResult};
use crate::events::{self, Actor, Event, EventType};
use crate::input::{Field, Validate, required_string, when_given};
use crate::mail::email_code_mail;
use crate::secret::{link_token, token_hash};
use crate::state::AppState;
use crate::store::{EMAIL_CODE_TTL_SECS, EmailCode, UserUpdate};
use crate::user::UserRecord;

/// The label the codes' key is derived with from `LOGIN_NAME_KEY`.
const KEY_LABEL: &[u8] = b"accounts: mailed sign-in codes, v1";

/// The longest code accepted in a body (ours are 6 digits; spaces around are trimmed).
const MAX_CODE_CHARS: usize = 32;

/// The key of the codes: their derivation from a link token, and their MACs as stored.
struct CodeKey([u8; 32]);

impl CodeKey {
    fn of(state: &AppState) -> ApiResult<CodeKey> {
        let base = state
            .login_name_key
            .as_deref()
            .ok_or_else(|| ApiError::Internal("LOGIN_NAME_KEY is not configured".into()))?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(base).expect("any key");
        mac.update(KEY_LABEL);
        Ok(CodeKey(mac.finalize().into_bytes().into()))
    }

    fn mac(&self, parts: &[&str]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("any key");
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        mac.finalize().into_bytes().into()
    }

    /// The 6-digit code of a link token (the bias of 2^32 mod 10^6 is 1 in 4,000).
    fn code_of(&self, token: &str) -> String {
        let m = self.mac(&["code", token]);
        let n = u32::from_be_bytes([m[0], m[1], m[2], m[3]]) % 1_000_000;
        format!("{n:06}")
    }

    /// What the store keeps of `user_id`'s code `code`.
    fn code_mac(&self, user_id: &str, code: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(&["mac", user_id, code]))
    }
}

fn turned_on(state: &AppState) -> ApiResult<()> {
    if state.email_code_login {
        Ok(())
    } else {
        Err(ApiError::EmailCodeUnavailable)
    }
}

/// Whether a code may sign `user` in: an activated account, or one waiting for its activation
/// (the code proves the address); not a deactivated one.
fn may_sign_in(user: &UserRecord) -> bool {
    user.activated || user.pending_until.is_some()
}

/// `POST /auth/email-code`: `202` whatever the address, after at least 250 ms.
pub async fn request_email_code(state: &AppState, body: EmailBody) -> ApiResult<()> {
    turned_on(state)?;
    at_least_min_duration(request_now(state, body)).await
}

async fn request_now(state: &AppState, body: EmailBody) -> ApiResult<()> {
    let email = body.validate()?;
    let key = CodeKey::of(state)?;
    let now = state.clock.now();
    let Some(user) = state
        .store
        .find_user_by_email(&email, now)
        .await?
        .filter(may_sign_in)
    else {
        return Ok(());
    };
    let token = link_token()?;
    let code = key.code_of(&token);
    let record = EmailCode {
        user_id: user.user_id.clone(),
        code_mac: key.code_mac(&user.user_id, &code),
        link_hash: token_hash(&token),
        created_at: now,
        expires_at: now + EMAIL_CODE_TTL_SECS,
        attempts: 0,
    };
    let link = format!(
        "{}/auth/email-code/link?token={token}&user={}",
        state.public_base_url, user.user_id
    );
    let mail = email_code_mail(&user.email, &user.username, &code, &link);
    // The code is kept only when the mail may go; it replaces the last.
    let store = async {
        state.store.put_email_code(&record).await?;
        Ok(true)
    };
    let event = Event::new(EventType::EmailCodeSent, &user).by(Actor::anonymous());
    mail_anonymously(state, &mail, store, event).await;
    Ok(())
}

fn code_rule<C>(field: &Field<String>, _: &C) -> garde::Result {
    match field {
        Field::Given(s) if s.chars().count() <= MAX_CODE_CHARS => Ok(()),
        Field::Given(_) => Err(garde::Error::new(format!(
            "must be at most {MAX_CODE_CHARS} characters"
        ))),
        Field::Missing => Err(garde::Error::new("is required")),
        Field::Wrong => Err(garde::Error::new("must be a string")),
    }
}

/// `{"email", "code"}`: the address the code was mailed to, and the code.
#[derive(Debug, Default, Deserialize, garde::Validate, ToSchema)]
#[schema(as = EmailCodeSignInRequest)]
pub struct EmailCodeBody {
    #[serde(default)]
    #[garde(
        custom(required_string),
        custom(when_given(short_enough_address, address_length_rule))
    )]
    #[schema(value_type = String, required, max_length = 254)]
    pub email: Field<String>,
    /// The 6 digits of the mail.
    #[serde(default)]
    #[garde(custom(code_rule))]
    #[schema(value_type = String, required, max_length = 32, example = "042917")]
    pub code: Field<String>,
}

impl Validate for EmailCodeBody {
    type Command = (String, String);
    fn command(self) -> Self::Command {
        (
            self.email.into_string(),
            self.code.into_string().trim().to_string(),
        )
    }
}

/// `POST /auth/email-code/verify`: the tokens (or the second step), after at least 250 ms
/// whatever the answer.
pub async fn verify_email_code(state: &AppState, body: EmailCodeBody) -> ApiResult<LoginOutcome> {
    turned_on(state)?;
    at_least_min_duration(verify_now(state, body)).await
}

async fn verify_now(state: &AppState, body: EmailCodeBody) -> ApiResult<LoginOutcome> {
    let (email, code) = body.validate()?;
    let (user, scope) = match check_email_code(state, &email, &code).await? {
        PasswordChecked::Proven { user, scope } => (user, scope),
        PasswordChecked::SecondStep(asked) => return Ok(LoginOutcome::MfaRequired(asked)),
    };
    let amr = credentials::amr_after(EMAIL_CODE_AMR, None);
    let ext = token_hook(state, &user, &scope, &amr).await?;
    let pair = sign_in(state, &user, scope, amr, ext).await?;
    tracing::info!(user_id = %user.user_id, "signed in with a mailed code");
    Ok(LoginOutcome::SignedIn(pair))
}

/// The first step of a sign-in with a mailed code (`POST /auth/email-code/verify`, the hosted
/// sign-in page): the login throttle, the code (a try counted first, then compared, then spent
/// once), an account waiting for its activation activated, and the challenge of the second
/// step when the account has one. Every refusal is recorded and answered alike.
pub(crate) async fn check_email_code(
    state: &AppState,
    email: &str,
    code: &str,
) -> ApiResult<PasswordChecked> {
    let key = CodeKey::of(state)?;
    let name_key = state
        .login_name_key
        .clone()
        .ok_or_else(|| ApiError::Internal("LOGIN_NAME_KEY is not configured".into()))?;
    let now = state.clock.now();
    let user = state.store.find_user_by_email(email, now).await?;
    // The login throttle, as a password login counts it: on the account, or on the address.
    let throttle_key = match &user {
        Some(u) => login_key(false, &u.username),
        None => unknown_name_key(&name_key, &login_key(true, email)),
    };
    let attempts = match take_attempt(state, &throttle_key).await {
        Err(refused @ ApiError::TooManyAttempts(_)) => {
            record_failed_login(state, EventType::LoginThrottled, user.as_ref(), None).await;
            return Err(refused);
        }
        taken => taken?,
    };
    let refuse = |user: Option<UserRecord>, reason: &'static str| {
        let throttle_key = throttle_key.clone();
        async move {
            state
                .store
                .record_failed_attempt(&throttle_key, state.clock.now())
                .await?;
            let user_id = user.as_ref().map_or("unknown", |u| u.user_id.as_str());
            tracing::warn!(user_id, reason, "sign-in code refused");
            state.metrics.count(crate::metrics::Metric::LoginFailed);
            if let Some(u) = &user {
                let event = Event::new(EventType::EmailCodeFailed, u)
                    .by(Actor::anonymous())
                    .failed()
                    .detail("reason", reason);
                events::record(state, event).await;
            }
            Err(ApiError::InvalidEmailCode)
        }
    };
    let Some(user) = user.filter(may_sign_in) else {
        return refuse(None, "no_account").await;
    };
    // A try is counted before the code is compared: tries at once share the limit.
    let Some(held) = state.store.attempt_email_code(&user.user_id, now).await? else {
        return refuse(Some(user), "no_code").await;
    };
    let given = key.code_mac(&user.user_id, code);
    if !bool::from(given.as_bytes().ct_eq(held.code_mac.as_bytes())) {
        return refuse(Some(user), "wrong_code").await;
    }
    // Right: spent by one request only (of right answers at once, one signs in).
    if !state
        .store
        .spend_email_code(&user.user_id, &held.link_hash)
        .await?
    {
        return refuse(Some(user), "spent").await;
    }
    let user = activate_if_waiting(state, user).await?;
    let methods = second_step_of(state, &user).await?;
    let mfa_on = !methods.is_empty();
    // As a password login: with a second factor on, failures stay until it proves right.
    if !mfa_on || attempts <= 1 {
        state.store.clear_login_failures(&throttle_key).await?;
    }
    let used = Event::new(EventType::EmailCodeUsed, &user).by(Actor::anonymous());
    events::record(state, used).await;
    let scope = super::session::allowed_scopes(&user);
    if mfa_on {
        let asked = open_second_step(state, &user, &scope, methods, EMAIL_CODE_AMR).await?;
        tracing::info!(user_id = %user.user_id, "sign-in code right: the second factor is asked for");
        return Ok(PasswordChecked::SecondStep(asked));
    }
    Ok(PasswordChecked::Proven { user, scope })
}

/// An account waiting for its activation is activated by a right code: the code proves the
/// address, as the activation link would have.
async fn activate_if_waiting(state: &AppState, user: UserRecord) -> ApiResult<UserRecord> {
    if user.activated {
        return Ok(user);
    }
    let update = UserUpdate {
        data: serde_json::Map::new(),
        role: None,
        activated: Some(true),
    };
    let now = state.clock.now();
    let Some(activated) = state.store.update_user(&user.user_id, &update, now).await? else {
        return Err(ApiError::InvalidEmailCode);
    };
    let event = Event::new(EventType::Activated, &activated)
        .by(Actor::anonymous())
        .detail("via", "email_code");
    events::record(state, event).await;
    tracing::info!(user_id = %activated.user_id, "account activated by a mailed code");
    Ok(activated)
}

/// The link's query: the account and the token of the mail.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[schema(as = EmailCodeLinkForm)]
pub struct EmailCodeLink {
    /// The account's id.
    pub user: Option<String>,
    /// The mail's token (43 characters).
    pub token: Option<String>,
}

/// What the link's page shows.
pub enum LinkPage {
    /// The button that shows the code (`GET`: nothing is spent, nothing shown).
    Ask { user: String, token: String },
    /// The code, to type where it was asked for.
    Code(String),
    /// A link that names no live code: wrong, replaced by a newer one, used or expired.
    Dead,
}

/// The code a link names, if it is its account's live one.
async fn linked_code(state: &AppState, link: &EmailCodeLink) -> ApiResult<Option<String>> {
    let (Some(user), Some(token)) = (link.user.as_deref(), link.token.as_deref()) else {
        return Ok(None);
    };
    if user.len() > 64 || token.len() > 128 {
        return Ok(None);
    }
    let now = state.clock.now();
    let Some(held) = state.store.email_code(user, now).await? else {
        return Ok(None);
    };
    let hash = token_hash(token);
    if !bool::from(hash.as_bytes().ct_eq(held.link_hash.as_bytes())) {
        return Ok(None);
    }
    Ok(Some(CodeKey::of(state)?.code_of(token)))
}

/// `GET /auth/email-code/link`: the page's button, if the link names a live code.
pub async fn link_page(state: &AppState, link: EmailCodeLink) -> ApiResult<LinkPage> {
    turned_on(state)?;
    Ok(match linked_code(state, &link).await? {
        Some(_) => LinkPage::Ask {
            user: link.user.unwrap_or_default(),
            token: link.token.unwrap_or_default(),
        },
        None => LinkPage::Dead,
    })
}

/// `POST /auth/email-code/link`: the button pressed; the code, still unspent.
pub async fn link_code(state: &AppState, link: EmailCodeLink) -> ApiResult<LinkPage> {
    turned_on(state)?;
    Ok(match linked_code(state, &link).await? {
        Some(code) => LinkPage::Code(code),
        None => LinkPage::Dead,
    })
}
