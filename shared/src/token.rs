//! Session tokens: HS512 JWTs whose algorithm, issuer, audience and expiry are pinned and
//! checked, each naming a server-side session (`sid`) that must still exist.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Sessions and their tokens live 24 h.
pub const SESSION_TTL_SECS: i64 = 24 * 3600;
/// Longer Authorization values are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 4096;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub name: String,
    pub email: String,
    /// Space-separated, as RFC 8693 writes `scope`.
    pub scope: String,
    pub role: String,
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

impl Claims {
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }
}

/// The signing and verification keys, built once per process.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub issuer: String,
    pub audience: String,
}

impl TokenKeys {
    pub fn new(secret: &[u8], issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS512);
        validation.algorithms = vec![Algorithm::HS512];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // Expiry is checked in `verify` against the service clock (leeway 0), with the session.
        validation.validate_exp = false;
        validation.leeway = 0;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        }
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS512), claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("jwt encode: {e}")))
    }

    /// Checks signature, algorithm, issuer, audience and expiry. The reason for a refusal is
    /// logged at debug level; the caller only learns `invalid_token`.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, ApiError> {
        if token.len() > MAX_TOKEN_BYTES {
            tracing::debug!("token refused: too long");
            return Err(ApiError::InvalidToken);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                tracing::debug!(reason = %e, "token refused");
                ApiError::InvalidToken
            })?;
        if data.claims.exp <= now {
            tracing::debug!("token refused: expired");
            return Err(ApiError::InvalidToken);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef";

    fn claims(now: i64) -> Claims {
        Claims {
            sub: "u1".into(),
            name: "alice".into(),
            email: "a@example.com".into(),
            scope: "widgets".into(),
            role: "user".into(),
            sid: "s1".into(),
            iat: now,
            exp: now + SESSION_TTL_SECS,
            iss: "accounts".into(),
            aud: "accounts".into(),
        }
    }

    fn keys() -> TokenKeys {
        TokenKeys::new(SECRET, "accounts", "accounts")
    }

    #[test]
    fn a_signed_token_verifies_with_hs512() {
        let t = keys().sign(&claims(1000)).unwrap();
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(t.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "HS512");
        assert_eq!(keys().verify(&t, 1001).unwrap(), claims(1000));
    }

    #[test]
    fn expiry_issuer_audience_key_and_algorithm_are_checked() {
        let k = keys();
        let t = k.sign(&claims(1000)).unwrap();
        assert!(k.verify(&t, 1000 + SESSION_TTL_SECS).is_err(), "expired");
        let other_iss = TokenKeys::new(SECRET, "someone-else", "accounts");
        assert!(other_iss.verify(&t, 1001).is_err(), "issuer");
        let other_aud = TokenKeys::new(SECRET, "accounts", "another-api");
        assert!(other_aud.verify(&t, 1001).is_err(), "audience");
        let other_key = TokenKeys::new(&[7u8; 64], "accounts", "accounts");
        assert!(other_key.verify(&t, 1001).is_err(), "key");
        let hs256 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(1000),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(k.verify(&hs256, 1001).is_err(), "algorithm");
        let body = t.split('.').nth(1).unwrap();
        let none = format!(
            "{}.{body}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
        );
        assert!(k.verify(&none, 1001).is_err(), "alg none");
        assert!(
            k.verify(&"a".repeat(MAX_TOKEN_BYTES + 1), 1001).is_err(),
            "too long"
        );
    }
}
