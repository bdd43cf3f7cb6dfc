//! `POST /auth/token` with `grant_type=authorization_code` (RFC 6749 section 4.1.3, RFC 7636
//! section 4.5, OpenID Connect Core 1.0 section 3.1.3): the client authenticates (or, a public
//! one, proves PKCE), the code is spent once, and the answer is a new sign-in's tokens with an
//! ID token. A code redeemed a second time ends the sign-in the first redemption made (RFC
//! 6749 section 4.1.2: it was stolen or replayed).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::session::{
    LoginResponse, TokenRequest, name_in_token, open_session, required, still_allowed, token_hook,
    token_pair,
};
use crate::credentials;
use crate::error::{ApiError, ApiResult};
use crate::secret::{session_id, token_hash};
use crate::state::AppState;
use crate::store::{CodeRedeemed, OAuthClient};
use crate::user::UserRecord;

/// The client a token request authenticates: its credentials from the `Authorization` header
/// (`client_secret_basic`: each part form-urlencoded, RFC 6749 section 2.3.1) or the body
/// (`client_secret_post`, or a public client's `client_id` alone), never both.
async fn authenticate_client(
    state: &AppState,
    authorization: Option<&str>,
    request: &TokenRequest,
) -> ApiResult<OAuthClient> {
    let basic = authorization.and_then(|h| {
        let (scheme, value) = h.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then(|| value.trim())
    });
    let (client_id, secret) = match basic {
        Some(encoded) => {
            if request.client_secret.is_some() {
                return Err(ApiError::InvalidRequest(crate::error::FieldErrors::from([
                    (
                        "client_secret".to_string(),
                        "is given in the Authorization header already".to_string(),
                    ),
                ])));
            }
            let decoded = STANDARD
                .decode(encoded)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or(ApiError::InvalidClient)?;
            let (id, secret) = decoded.split_once(':').ok_or(ApiError::InvalidClient)?;
            let id = form_decoded(id);
            if request
                .client_id
                .as_deref()
                .is_some_and(|body_id| body_id != id)
            {
                return Err(ApiError::InvalidClient);
            }
            (id, Some(form_decoded(secret)))
        }
        None => (
            request.client_id.clone().ok_or(ApiError::InvalidClient)?,
            request.client_secret.clone(),
        ),
    };
    // Ids are 22 characters: a longer one is no client's (and is not looked up).
    if client_id.len() > 64 {
        return Err(ApiError::InvalidClient);
    }
    let client = state
        .store
        .client(&client_id)
        .await?
        .ok_or(ApiError::InvalidClient)?;
    match (&client.secret_hash, secret) {
        (Some(hash), Some(secret))
            if bool::from(token_hash(&secret).as_bytes().ct_eq(hash.as_bytes())) => {}
        (None, None) => {}
        _ => {
            tracing::warn!(client_id = %client.client_id, "client authentication failed");
            return Err(ApiError::InvalidClient);
        }
    }
    Ok(client)
}

/// `application/x-www-form-urlencoded` decoding of one part of Basic credentials.
fn form_decoded(part: &str) -> String {
    form_urlencoded::parse(format!("x={part}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Whether `verifier` is the one of the S256 `challenge` (RFC 7636 section 4.6): 43 to 128
/// unreserved characters whose SHA-256, base64url, is the challenge.
fn verifier_holds(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// The ID token's `at_hash` (OpenID Connect Core section 3.1.3.6): the left half of the hash
/// of the access token, with the hash of the signing algorithm (SHA-256 for RS256; SHA-512 for
/// EdDSA with Ed25519, as the specification's errata and the libraries read it).
fn at_hash(algorithm: &str, access_token: &str) -> String {
    let digest: Vec<u8> = match algorithm {
        "RS256" => Sha256::digest(access_token.as_bytes()).to_vec(),
        _ => Sha512::digest(access_token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// The claims of an ID token (OpenID Connect Core sections 2 and 5.1).
#[derive(Serialize)]
struct IdClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    azp: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    amr: &'a [String],
    acr: &'static str,
    at_hash: String,
    sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
}

/// `POST /auth/token` with `grant_type=authorization_code`.
pub(crate) async fn redeem(
    state: &AppState,
    authorization: Option<&str>,
    request: TokenRequest,
) -> ApiResult<LoginResponse> {
    let client = authenticate_client(state, authorization, &request).await?;
    let code = required(request.code.clone(), "code")?;
    let redirect_uri = required(request.redirect_uri.clone(), "redirect_uri")?;
    let sid = session_id()?;
    let now = state.clock.now();
    let issued = match state
        .store
        .redeem_code(&token_hash(&code), &sid, now)
        .await?
    {
        CodeRedeemed::Redeemed(issued) => issued,
        CodeRedeemed::Unknown => return Err(ApiError::InvalidAuthorizationCode),
        CodeRedeemed::Spent {
            user_id,
            session_id,
        } => {
            // Whoever presents it again has it from somewhere: the sign-in of its first
            // redemption ends, every token of it.
            state.store.end_session(&user_id, &session_id).await?;
            tracing::warn!(
                %user_id,
                client_id = %client.client_id,
                "an authorization code was redeemed again: the sign-in it made is ended"
            );
            return Err(ApiError::InvalidAuthorizationCode);
        }
    };
    let pkce = match (&issued.code_challenge, &request.code_verifier) {
        (Some(challenge), Some(verifier)) => verifier_holds(verifier, challenge),
        (None, None) => true,
        _ => false,
    };
    if issued.client_id != client.client_id || issued.redirect_uri != redirect_uri || !pkce {
        tracing::warn!(client_id = %client.client_id, "a code presented with another client, redirect URI or verifier");
        return Err(ApiError::InvalidAuthorizationCode);
    }
    let user = state
        .store
        .find_user_by_id(&issued.user_id, now)
        .await?
        // Still activated, and no reset or "end all sessions" since it was issued.
        .filter(|u| u.activated && u.auth_epoch == issued.epoch)
        .ok_or(ApiError::InvalidAuthorizationCode)?;
    let scope = still_allowed(&user, &issued.scope);
    let amr = issued.amr.clone();
    let ext = token_hook(state, &user, &scope, &amr).await?;
    let via = [
        ("via", "authorization_code"),
        ("client_id", client.client_id.as_str()),
    ];
    let session = open_session(state, &user, &amr, sid, &via).await?;
    let mut pair = token_pair(state, &user, &session, scope.clone(), amr, ext, now)?;
    if scope.iter().any(|s| s == "openid") {
        pair.id_token = Some(id_token(
            state,
            &user,
            &client,
            &issued,
            &scope,
            &pair,
            &session.session_id,
        )?);
    }
    tracing::info!(user_id = %user.user_id, client_id = %client.client_id, "authorization code redeemed");
    Ok(pair)
}

/// The ID token of a sign-in through the authorization endpoint, for `client`.
fn id_token(
    state: &AppState,
    user: &UserRecord,
    client: &OAuthClient,
    issued: &crate::store::AuthorizationCode,
    scope: &[String],
    pair: &LoginResponse,
    sid: &str,
) -> ApiResult<String> {
    let now = state.clock.now();
    let has = |s: &str| scope.iter().any(|g| g == s);
    let profile = has("profile");
    let email = has("email");
    let claims = IdClaims {
        iss: &state.keys.issuer,
        sub: &user.user_id,
        aud: &client.client_id,
        azp: &client.client_id,
        iat: now,
        exp: now + pair.expires_in,
        auth_time: issued.auth_time,
        nonce: issued.nonce.as_deref(),
        amr: &issued.amr,
        acr: credentials::acr(&issued.amr),
        at_hash: at_hash(state.keys.signing_algorithm(), &pair.access_token),
        sid,
        name: profile.then(|| name_in_token(crate::user::UserView::from(user).name)),
        preferred_username: profile.then_some(user.username.as_str()),
        updated_at: profile.then_some(user.updated_at),
        email: email.then_some(user.email.as_str()),
        email_verified: email.then_some(user.activated),
    };
    state.keys.sign(&claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_and_at_hash_follow_their_specifications() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verifier_holds(verifier, challenge));
        assert!(!verifier_holds(&verifier.replace('d', "e"), challenge));
        assert!(!verifier_holds("short", challenge));
        // OpenID Connect Core appendix A.3's access token and at_hash (RS256).
        assert_eq!(
            at_hash("RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(at_hash("EdDSA", "x").len(), 43);
        assert_eq!(form_decoded("a%3Ab+c"), "a:b c");
    }
}
