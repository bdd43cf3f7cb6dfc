//! Refresh tokens: `rt1.<payload>.<mac>`, where the payload (base64url JSON) names the user, the
//! sign-in (session), the token's generation and the scope the sign-in was granted, and the MAC
//! is HMAC-SHA256 under a key derived from the service's signing key. Nothing about a refresh
//! token is stored: the session keeps one number, its current generation, so a token is
//! current, just replaced, or spent by comparing numbers, and the store never grows with the
//! number of refreshes. The same session and generation always make the same token, which is
//! what lets a racing tab that presents the token just replaced get the current one again.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::token::TokenKeys;

/// The longest refresh token read; anything longer is refused unread.
pub const MAX_REFRESH_TOKEN_BYTES: usize = 512;

const PREFIX: &str = "rt1.";

/// What a refresh token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshClaims {
    /// The user id.
    pub sub: String,
    /// The session (sign-in) id.
    pub sid: String,
    /// The generation: the session's `refresh_gen` when this token was made.
    pub generation: i64,
    /// The scope granted at login, space-separated.
    pub scope: String,
    /// How the person signed in (the access tokens' `amr`).
    #[serde(default)]
    pub amr: Vec<String>,
}

fn mac_of(key: &[u8; 32], signed: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(signed.as_bytes());
    mac
}

/// Makes the refresh token of `claims` with the current key; `None` when these keys cannot sign.
pub fn make(keys: &TokenKeys, claims: &RefreshClaims) -> Option<String> {
    let key = *keys.refresh_keys().first()?;
    let payload = serde_json::to_vec(claims).ok()?;
    let signed = format!("{PREFIX}{}", B64.encode(payload));
    let tag = mac_of(key, &signed).finalize().into_bytes();
    Some(format!("{signed}.{}", B64.encode(tag)))
}

/// Reads a refresh token: its claims when its MAC is right under one of the keys (compared in
/// constant time), else `None`, whatever is wrong with it.
pub fn read(keys: &TokenKeys, token: &str) -> Option<RefreshClaims> {
    if token.len() > MAX_REFRESH_TOKEN_BYTES || !token.starts_with(PREFIX) {
        return None;
    }
    let (signed, tag) = token.rsplit_once('.')?;
    let tag = B64.decode(tag).ok()?;
    let genuine = keys
        .refresh_keys()
        .into_iter()
        .any(|key| mac_of(key, signed).verify_slice(&tag).is_ok());
    if !genuine {
        return None;
    }
    let payload = B64.decode(&signed[PREFIX.len()..]).ok()?;
    serde_json::from_slice(&payload).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::KeySet;

    fn claims() -> RefreshClaims {
        RefreshClaims {
            sub: "u1".into(),
            sid: "s1".into(),
            generation: 3,
            scope: "widgets admin".into(),
            amr: vec!["pwd".into(), "otp".into()],
        }
    }

    fn eddsa(pem: &str) -> TokenKeys {
        TokenKeys::with_set(KeySet::from_pem(pem).unwrap(), "accounts", "accounts")
    }

    #[test]
    fn a_token_reads_back_and_is_the_same_each_time() {
        let keys = TokenKeys::new(&[7u8; 64], "accounts", "accounts");
        let token = make(&keys, &claims()).unwrap();
        assert_eq!(make(&keys, &claims()).unwrap(), token, "deterministic");
        assert!(token.starts_with("rt1.") && token.len() <= MAX_REFRESH_TOKEN_BYTES);
        assert_eq!(read(&keys, &token), Some(claims()));
    }

    #[test]
    fn tampered_foreign_and_oversized_tokens_are_refused() {
        let keys = TokenKeys::new(&[7u8; 64], "accounts", "accounts");
        let other = TokenKeys::new(&[8u8; 64], "accounts", "accounts");
        let token = make(&keys, &claims()).unwrap();
        assert_eq!(read(&other, &token), None, "another secret's");
        // The payload changed (a later generation), the MAC kept.
        let (_, tag) = token.rsplit_once('.').unwrap();
        let mut forged = claims();
        forged.generation = 4;
        let payload = B64.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(read(&keys, &format!("rt1.{payload}.{tag}")), None);
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(read(&keys, &String::from_utf8(flipped).unwrap()), None);
        for bad in [
            "",
            "rt1.",
            "rt1..",
            "rt2.x.y",
            &"a".repeat(600),
            &token[4..],
        ] {
            assert_eq!(read(&keys, bad), None, "{bad}");
        }
    }

    #[test]
    fn eddsa_sets_mac_with_the_current_key_and_read_with_any_until_removed() {
        let old = KeySet::generate_pem().unwrap();
        let new = KeySet::generate_pem().unwrap();
        let before = eddsa(&old);
        let token = make(&before, &claims()).unwrap();
        let rotated = eddsa(&format!("{new}{old}"));
        assert_eq!(
            read(&rotated, &token),
            Some(claims()),
            "old key still in the set"
        );
        let fresh = make(&rotated, &claims()).unwrap();
        assert_ne!(fresh, token, "made with the new current key");
        assert_eq!(read(&eddsa(&new), &token), None, "old key retired");
        let public = TokenKeys::with_set(
            KeySet::from_public_pem(&KeySet::from_pem(&old).unwrap().public_pem().unwrap())
                .unwrap(),
            "accounts",
            "accounts",
        );
        assert_eq!(
            make(&public, &claims()),
            None,
            "public keys cannot make one"
        );
        assert_eq!(read(&public, &token), None);
    }
}
