//! Session tokens: JWTs signed with Ed25519 (`EdDSA`, a key set whose public keys are published
//! as a JWKS) or HS512 (one shared secret), whose algorithm, key id, issuer, audience and expiry
//! are pinned and checked, each naming a server-side session (`sid`) that must still exist.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

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
    /// Not before: never issued by this service; a token that has one in the future is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// How the person signed in (RFC 8176): `["pwd"]`, or `["pwd", "otp"]` with the second
    /// factor (a code, or a recovery code in its place).
    #[serde(default)]
    pub amr: Vec<String>,
    /// The assurance level of that sign-in: `aal1` (a password), `aal2` (and a second factor).
    #[serde(default)]
    pub acr: String,
    /// What the operator's token hook added: one object, never beside the
    /// claims above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Claims {
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }
}

/// The largest key id accepted in a token's header; ids are RFC 7638 thumbprints (43 chars).
const MAX_KID_CHARS: usize = 64;

/// The `-----BEGIN PRIVATE KEY-----` blocks of `text`, in order, each whole (text between
/// them is not part of any).
pub fn pem_blocks(text: &str) -> Result<Vec<&str>, String> {
    pem_blocks_labelled(text, "PRIVATE KEY")
}

/// The `-----BEGIN <label>-----` blocks of `text`, in order, each whole.
fn pem_blocks_labelled<'a>(text: &'a str, label: &str) -> Result<Vec<&'a str>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let len = rest[start..]
            .find(&end)
            .ok_or("a PEM block has no END line")?;
        blocks.push(&rest[start..start + len + end.len()]);
        rest = &rest[start + len + end.len()..];
    }
    Ok(blocks)
}

/// One Ed25519 key of a [`KeySet`]: its id, and the key in the forms signing and verifying use.
struct Ed25519Key {
    kid: String,
    /// The public key, base64url (`x` of its JWK).
    x: String,
    /// The private key; `None` in a set read from public keys (a function that only verifies).
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    /// The key refresh tokens are MAC'd with, derived from the private key; `None` without it.
    refresh_key: Option<[u8; 32]>,
}

/// The Ed25519 keys tokens are signed with: the current one (the first) signs, every one of
/// them verifies (the previous ones, until the tokens they signed have expired). Built from
/// PKCS#8 PEM blocks (`-----BEGIN PRIVATE KEY-----`, as `openssl genpkey -algorithm ed25519`
/// writes them), the current one first.
pub struct KeySet {
    keys: Vec<Ed25519Key>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.kids()).finish()
    }
}

impl KeySet {
    /// Reads one or more PEM blocks, the current key first. Text outside the blocks is ignored
    /// (a comment saying when a key was made, for example). A key twice is an error.
    pub fn from_pem(text: &str) -> Result<KeySet, String> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let mut keys: Vec<Ed25519Key> = Vec::new();
        for block in pem_blocks(text)? {
            let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(block).map_err(|_| {
                format!(
                    "key {} is not an Ed25519 private key in PKCS#8",
                    keys.len() + 1
                )
            })?;
            let key = Ed25519Key::new(&signing)?;
            if keys.iter().any(|k| k.kid == key.kid) {
                return Err(format!("key {} is in the set twice", key.kid));
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err("no key (-----BEGIN PRIVATE KEY----- blocks) found".into());
        }
        Ok(KeySet { keys })
    }

    /// Reads the public keys only (`-----BEGIN PUBLIC KEY-----` blocks, SPKI, as
    /// [`KeySet::public_pem`] or `openssl pkey -pubout` write them), the current key first: a
    /// set that verifies tokens and publishes the JWKS, and cannot sign.
    pub fn from_public_pem(text: &str) -> Result<KeySet, String> {
        use ed25519_dalek::pkcs8::DecodePublicKey;
        let mut keys: Vec<Ed25519Key> = Vec::new();
        for block in pem_blocks_labelled(text, "PUBLIC KEY")? {
            let public = ed25519_dalek::VerifyingKey::from_public_key_pem(block).map_err(|_| {
                format!(
                    "key {} is not an Ed25519 public key in SPKI",
                    keys.len() + 1
                )
            })?;
            let key = Ed25519Key::public(&public);
            if keys.iter().any(|k| k.kid == key.kid) {
                return Err(format!("key {} is in the set twice", key.kid));
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err("no key (-----BEGIN PUBLIC KEY----- blocks) found".into());
        }
        Ok(KeySet { keys })
    }

    /// The public keys of the set as PEM blocks, the current one first: the value a function
    /// that only verifies is given (`JWT_VERIFYING_KEYS`).
    pub fn public_pem(&self) -> Result<String, String> {
        use base64::Engine;
        use ed25519_dalek::pkcs8::EncodePublicKey;
        use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
        let mut out = String::new();
        for k in &self.keys {
            let bytes: [u8; 32] = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&k.x)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or("a public key is not 32 bytes")?;
            let public = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map_err(|e| format!("public key: {e}"))?;
            out.push_str(
                &public
                    .to_public_key_pem(LineEnding::LF)
                    .map_err(|e| format!("spki: {e}"))?,
            );
        }
        Ok(out)
    }

    /// Whether the set holds the private keys (it can sign), or only the public ones.
    pub fn can_sign(&self) -> bool {
        self.keys.iter().all(|k| k.encoding.is_some())
    }

    /// A new Ed25519 private key (256 random bits from the OS), as a PKCS#8 PEM block.
    pub fn generate_pem() -> Result<String, String> {
        use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes, spki::der::pem::LineEnding};
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| format!("getrandom: {e}"))?;
        let pem = KeypairBytes {
            secret_key: secret,
            public_key: None,
        }
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| format!("pkcs8: {e}"))?;
        secret.fill(0);
        Ok(pem.to_string())
    }

    /// The key ids, the current one first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// The public keys as a JWK Set (RFC 7517; RFC 8037 for Ed25519), the current one first.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": k.x,
                    "kid": k.kid,
                    "use": "sig",
                    "alg": "EdDSA",
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

impl Ed25519Key {
    fn new(signing: &ed25519_dalek::SigningKey) -> Result<Self, String> {
        use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes};
        let der = KeypairBytes {
            secret_key: signing.to_bytes(),
            public_key: None,
        }
        .to_pkcs8_der()
        .map_err(|e| format!("pkcs8: {e}"))?;
        Ok(Ed25519Key {
            encoding: Some(EncodingKey::from_ed_der(der.as_bytes())),
            refresh_key: Some(refresh_key_of(signing.as_bytes())),
            ..Ed25519Key::public(&signing.verifying_key())
        })
    }

    /// A key that verifies only.
    fn public(public: &ed25519_dalek::VerifyingKey) -> Self {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use sha2::{Digest, Sha256};
        let public = public.to_bytes();
        let x = URL_SAFE_NO_PAD.encode(public);
        // RFC 7638: the SHA-256 of the required members, in this order, without spaces.
        let thumbprint = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint.as_bytes()));
        Ed25519Key {
            kid,
            x,
            encoding: None,
            decoding: DecodingKey::from_ed_der(&public),
            refresh_key: None,
        }
    }
}

/// How tokens are signed: Ed25519 from a key set (the default), or HS512 with one secret.
enum Signing {
    EdDsa(KeySet),
    Hs512 {
        encoding: EncodingKey,
        decoding: DecodingKey,
        refresh_key: [u8; 32],
    },
}

/// How many verified tokens a process keeps by default (`TOKEN_CACHE_ENTRIES`).
pub const DEFAULT_TOKEN_CACHE_ENTRIES: usize = 10_000;

/// The signing and verification keys, built once per process, and the tokens they have
/// verified.
pub struct TokenKeys {
    signing: Signing,
    validation: Validation,
    pub issuer: String,
    pub audience: String,
    /// Tokens whose signature and claims were verified, by the SHA-256 of the whole token (a
    /// token that differs in any byte, its signature included, is another key), with their
    /// claims; `None`: every token is verified in full. It belongs to these keys: keys built from
    /// another key set (a rotation or a retirement, at the next start) start with none.
    verified: Option<VerifiedTokens>,
}

/// A bounded, concurrent map (quick_cache: S3-FIFO-like eviction, sharded locks) from a
/// token's SHA-256 to its verified claims.
type VerifiedTokens = quick_cache::sync::Cache<[u8; 32], Claims>;

impl TokenKeys {
    /// HS512 with one shared secret (`JWT_ALGORITHM=HS512`).
    pub fn new(secret: &[u8], issuer: &str, audience: &str) -> Self {
        let signing = Signing::Hs512 {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            refresh_key: refresh_key_of(secret),
        };
        Self::with(signing, Algorithm::HS512, issuer, audience)
    }

    /// EdDSA (Ed25519) with a key set: the current key signs, every key of the set verifies.
    pub fn eddsa(keys: KeySet, issuer: &str, audience: &str) -> Self {
        Self::with(Signing::EdDsa(keys), Algorithm::EdDSA, issuer, audience)
    }

    fn with(signing: Signing, algorithm: Algorithm, issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // Expiry is checked in `verify` against the service clock (leeway 0), with the session.
        validation.validate_exp = false;
        validation.leeway = 0;
        TokenKeys {
            signing,
            validation,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            verified: None,
        }
    }

    /// Keeps up to `entries` verified tokens (0: none), so that a token seen again is not
    /// verified again until its `exp`: its signature is checked once per process. What makes a
    /// token live (its session, its user, their state) is not here and is checked on every
    /// request by the caller.
    pub fn with_cache(mut self, entries: usize) -> Self {
        self.verified = (entries > 0).then(|| VerifiedTokens::new(entries));
        self
    }

    /// How many verified tokens are kept now.
    pub fn cached_tokens(&self) -> usize {
        self.verified.as_ref().map_or(0, |c| c.len())
    }

    /// Whether `token` is among the verified tokens kept (asking copies nothing and does not
    /// count as a use).
    pub fn is_cached(&self, token: &str) -> bool {
        self.verified
            .as_ref()
            .is_some_and(|c| c.contains_key(&token_digest(token)))
    }

    /// The keys refresh tokens are MAC'd with, the current one (which makes new tokens) first:
    /// one per private key of the set (derived from it), or the one derived from the HS512
    /// secret; none in a set of public keys.
    pub(crate) fn refresh_keys(&self) -> Vec<&[u8; 32]> {
        match &self.signing {
            Signing::EdDsa(keys) => keys
                .keys
                .iter()
                .filter_map(|k| k.refresh_key.as_ref())
                .collect(),
            Signing::Hs512 { refresh_key, .. } => vec![refresh_key],
        }
    }

    /// The public keys as a JWK Set; `None` with HS512 (a shared secret is never published).
    pub fn jwks(&self) -> Option<serde_json::Value> {
        match &self.signing {
            Signing::EdDsa(keys) => Some(keys.jwks()),
            Signing::Hs512 { .. } => None,
        }
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        let (header, key) = match &self.signing {
            Signing::EdDsa(keys) => {
                let current = &keys.keys[0];
                let mut header = Header::new(Algorithm::EdDSA);
                header.kid = Some(current.kid.clone());
                let Some(encoding) = &current.encoding else {
                    return Err(ApiError::Internal(
                        "this function holds the public keys only: it cannot sign".into(),
                    ));
                };
                (header, encoding)
            }
            Signing::Hs512 { encoding, .. } => (Header::new(Algorithm::HS512), encoding),
        };
        jsonwebtoken::encode(&header, claims, key)
            .map_err(|e| ApiError::Internal(format!("jwt encode: {e}")))
    }

    /// The key that may have signed `token`: with EdDSA, the key its header names (`kid`),
    /// only if the header's algorithm is EdDSA and the id is one of the set's.
    fn verifying_key(&self, token: &str) -> Result<&DecodingKey, String> {
        match &self.signing {
            Signing::Hs512 { decoding, .. } => Ok(decoding),
            Signing::EdDsa(keys) => {
                let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
                if header.alg != Algorithm::EdDSA {
                    return Err(format!("algorithm {:?}", header.alg));
                }
                let kid = header.kid.ok_or("no kid")?;
                let well_formed = !kid.is_empty()
                    && kid.len() <= MAX_KID_CHARS
                    && kid
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !well_formed {
                    return Err("a malformed kid".into());
                }
                keys.keys
                    .iter()
                    .find(|k| k.kid == kid)
                    .map(|k| &k.decoding)
                    .ok_or_else(|| format!("an unknown kid {kid}"))
            }
        }
    }

    /// Checks signature, algorithm, key id, issuer, audience, expiry and not-before, and that
    /// the header asks for nothing this service does not do (`crit`, compression, encryption).
    /// The reason for a refusal is logged at debug level; the caller only learns
    /// `invalid_token`.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, ApiError> {
        if token.len() > MAX_TOKEN_BYTES {
            tracing::debug!("token refused: too long");
            return Err(ApiError::InvalidToken);
        }
        let Some(cache) = &self.verified else {
            return self.verify_in_full(token, now);
        };
        let digest = token_digest(token);
        if let Some(claims) = cache.get(&digest) {
            // Verified before: only time has moved.
            return match Self::in_time(&claims, now) {
                Ok(()) => Ok(claims),
                Err(e) => {
                    cache.remove(&digest);
                    Err(e)
                }
            };
        }
        let claims = self.verify_in_full(token, now)?;
        cache.insert(digest, claims.clone());
        Ok(claims)
    }

    /// Signature, algorithm, key id, header, issuer, audience, and time (see [`Self::verify`]).
    fn verify_in_full(&self, token: &str, now: i64) -> Result<Claims, ApiError> {
        let refused = |reason: &dyn std::fmt::Display| {
            tracing::debug!(reason = %reason, "token refused");
            ApiError::InvalidToken
        };
        let key = self.verifying_key(token).map_err(|e| refused(&e))?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map_err(|e| refused(&e))?;
        // RFC 7515 4.1.11: a `crit` extension the recipient does not understand (none is
        // understood here) makes the token invalid; `zip` and `enc` belong to other formats.
        let header = &data.header;
        if header.crit.is_some() || header.zip.is_some() || header.enc.is_some() {
            return Err(refused(&"a header extension this service does not do"));
        }
        Self::in_time(&data.claims, now)?;
        Ok(data.claims)
    }

    /// Not expired (`exp` after now, no leeway), and not valid only from a time to come.
    fn in_time(claims: &Claims, now: i64) -> Result<(), ApiError> {
        if claims.exp <= now {
            tracing::debug!("token refused: expired");
            return Err(ApiError::InvalidToken);
        }
        if claims.nbf.is_some_and(|nbf| nbf > now) {
            tracing::debug!("token refused: not valid before a time to come");
            return Err(ApiError::InvalidToken);
        }
        Ok(())
    }
}

/// The key of a token among the verified ones: the SHA-256 of all its bytes.
fn token_digest(token: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).into()
}

/// The MAC key for refresh tokens, derived from a signing key's secret
/// bytes (HMAC-SHA256 of a fixed label): a refresh token's key is never the key tokens are
/// signed with.
fn refresh_key_of(secret: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(b"accounts: refresh token MAC key, v1");
    mac.finalize().into_bytes().into()
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
            exp: now + crate::config::Lifetimes::default().access_token,
            iss: "accounts".into(),
            aud: "accounts".into(),
            nbf: None,
            amr: vec!["pwd".into()],
            acr: "aal1".into(),
            ext: None,
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
        assert!(
            k.verify(&t, 1000 + crate::config::Lifetimes::default().access_token)
                .is_err(),
            "expired"
        );
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

    fn eddsa(pem: &str) -> TokenKeys {
        TokenKeys::eddsa(KeySet::from_pem(pem).unwrap(), "accounts", "accounts")
    }

    fn header_of(token: &str) -> serde_json::Value {
        let part = token.split('.').next().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    /// A token with this header and `claims`, "signed" with `signature` bytes.
    fn forged(header: serde_json::Value, claims: &Claims, signature: &[u8]) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let c = URL_SAFE_NO_PAD.encode(serde_json::to_string(claims).unwrap());
        format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    #[test]
    fn eddsa_tokens_name_their_key_and_verify_with_the_set() {
        let pem = KeySet::generate_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
        let k = eddsa(&pem);
        let kid = KeySet::from_pem(&pem)
            .unwrap()
            .kids()
            .next()
            .unwrap()
            .to_string();
        assert_eq!(kid.len(), 43, "an RFC 7638 thumbprint");
        let t = k.sign(&claims(1000)).unwrap();
        assert_eq!(header_of(&t)["alg"], "EdDSA");
        assert_eq!(header_of(&t)["kid"], kid.as_str());
        assert_eq!(k.verify(&t, 1001).unwrap(), claims(1000));
        assert!(k.verify(&tampered(&t), 1001).is_err());
        // The JWKS: the public key only.
        let jwks = k.jwks().unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        let jwk = &jwks["keys"][0];
        assert_eq!(
            (
                &jwk["kty"],
                &jwk["crv"],
                &jwk["use"],
                &jwk["alg"],
                &jwk["kid"]
            ),
            (
                &"OKP".into(),
                &"Ed25519".into(),
                &"sig".into(),
                &"EdDSA".into(),
                &kid.as_str().into()
            )
        );
        assert!(jwk.get("d").is_none(), "no private part: {jwk}");
        assert!(keys().jwks().is_none(), "HS512 publishes nothing");
    }

    #[test]
    fn after_a_rotation_old_tokens_verify_until_their_key_is_removed() {
        let (old, new) = (
            KeySet::generate_pem().unwrap(),
            KeySet::generate_pem().unwrap(),
        );
        let before = eddsa(&old).sign(&claims(1000)).unwrap();
        let rotated = eddsa(&format!("{new}{old}"));
        assert_eq!(rotated.verify(&before, 1001).unwrap(), claims(1000));
        let after = rotated.sign(&claims(1000)).unwrap();
        let kids: Vec<String> = KeySet::from_pem(&format!("{new}{old}"))
            .unwrap()
            .kids()
            .map(String::from)
            .collect();
        assert_eq!(
            header_of(&after)["kid"],
            kids[0].as_str(),
            "the new key signs"
        );
        let jwks = rotated.jwks().unwrap();
        let listed: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(listed, kids.iter().map(String::as_str).collect::<Vec<_>>());
        let retired = eddsa(&new);
        assert!(
            retired.verify(&before, 1001).is_err(),
            "the removed key's token"
        );
        assert!(retired.verify(&after, 1001).is_ok());
    }

    #[test]
    fn eddsa_refuses_other_algorithms_unknown_and_malformed_kids() {
        let pem = KeySet::generate_pem().unwrap();
        let k = eddsa(&pem);
        let set = KeySet::from_pem(&pem).unwrap();
        let kid = set.kids().next().unwrap().to_string();
        let x = set.jwks()["keys"][0]["x"].as_str().unwrap().to_string();
        let c = claims(1000);
        // HS512 keyed with the public key (the algorithm confusion attack), raw and encoded.
        for secret in [URL_SAFE_NO_PAD.decode(&x).unwrap(), x.clone().into_bytes()] {
            let mut header = Header::new(Algorithm::HS512);
            header.kid = Some(kid.clone());
            let t = jsonwebtoken::encode(&header, &c, &EncodingKey::from_secret(&secret)).unwrap();
            assert!(k.verify(&t, 1001).is_err(), "HS512 with the public key");
        }
        let valid = k.sign(&c).unwrap();
        let signature = URL_SAFE_NO_PAD
            .decode(valid.split('.').nth(2).unwrap())
            .unwrap();
        let cases = [
            (serde_json::json!({"alg": "none", "kid": kid}), vec![]),
            (serde_json::json!({"alg": "none", "typ": "JWT"}), vec![]),
            (serde_json::json!({"alg": "EdDSA"}), signature.clone()),
            (
                serde_json::json!({"alg": "EdDSA", "kid": "unknown-key"}),
                signature.clone(),
            ),
            (
                serde_json::json!({"alg": "EdDSA", "kid": "../../etc/passwd"}),
                signature.clone(),
            ),
            (
                serde_json::json!({"alg": "EdDSA", "kid": format!("{kid}/..")}),
                signature.clone(),
            ),
            (
                serde_json::json!({"alg": "EdDSA", "kid": ""}),
                signature.clone(),
            ),
        ];
        for (header, sig) in cases {
            assert!(
                k.verify(&forged(header.clone(), &c, &sig), 1001).is_err(),
                "{header}"
            );
        }
        // The genuine header and signature still verify (the forgeries failed for their header).
        let genuine = serde_json::json!({"typ": "JWT", "alg": "EdDSA", "kid": kid});
        assert_eq!(header_of(&valid), genuine);
        let rebuilt = format!(
            "{}.{}",
            valid.rsplit_once('.').unwrap().0,
            URL_SAFE_NO_PAD.encode(&signature)
        );
        assert!(k.verify(&rebuilt, 1001).is_ok());
        // An HS512 service refuses an EdDSA token.
        assert!(keys().verify(&valid, 1001).is_err());
    }

    /// An Ed25519 signing key from its PEM, as jsonwebtoken takes it.
    fn ed_key(pem: &str) -> EncodingKey {
        use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem).unwrap();
        EncodingKey::from_ed_der(key.to_pkcs8_der().unwrap().as_bytes())
    }

    /// The probes of the attack on the running service, kept: HS* keyed with the public key in
    /// every encoding an attacker might guess, and headers that point at the attacker's own key
    /// (`jku`, `x5u`, `jwk`), all refused; so are genuine signatures over a `crit` header and a
    /// future `nbf`.
    #[test]
    fn forgeries_with_the_public_key_or_a_key_of_their_own_are_refused() {
        use ed25519_dalek::pkcs8::EncodePublicKey;
        use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
        let pem = KeySet::generate_pem().unwrap();
        let k = eddsa(&pem);
        let set = KeySet::from_pem(&pem).unwrap();
        let kid = set.kids().next().unwrap().to_string();
        let x = set.jwks()["keys"][0]["x"].as_str().unwrap().to_string();
        let raw = URL_SAFE_NO_PAD.decode(&x).unwrap();
        let verifying =
            ed25519_dalek::VerifyingKey::from_bytes(&raw.clone().try_into().unwrap()).unwrap();
        let c = claims(1000);
        let encodings: Vec<Vec<u8>> = vec![
            raw.clone(),
            x.clone().into_bytes(),
            base64::engine::general_purpose::STANDARD
                .encode(&raw)
                .into_bytes(),
            raw.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes(),
            verifying
                .to_public_key_pem(LineEnding::LF)
                .unwrap()
                .into_bytes(),
            verifying.to_public_key_der().unwrap().as_bytes().to_vec(),
        ];
        for secret in &encodings {
            for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                let mut header = Header::new(alg);
                header.kid = Some(kid.clone());
                let t =
                    jsonwebtoken::encode(&header, &c, &EncodingKey::from_secret(secret)).unwrap();
                assert!(
                    k.verify(&t, 1001).is_err(),
                    "{alg:?} keyed with the public key"
                );
            }
        }
        // The attacker's own Ed25519 key, named by kid and pointed to by the header.
        let theirs = KeySet::generate_pem().unwrap();
        let their_set = KeySet::from_pem(&theirs).unwrap();
        let their_jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(their_set.jwks()["keys"][0].clone()).unwrap();
        let their_key = ed_key(&theirs);
        for which in ["jku", "x5u", "jwk", "their kid", "our kid"] {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(kid.clone());
            match which {
                "jku" => header.jku = Some("https://evil.example/jwks.json".into()),
                "x5u" => header.x5u = Some("https://evil.example/cert.pem".into()),
                "jwk" => header.jwk = Some(their_jwk.clone()),
                "their kid" => header.kid = their_set.kids().next().map(String::from),
                _ => {}
            }
            let t = jsonwebtoken::encode(&header, &c, &their_key).unwrap();
            assert!(k.verify(&t, 1001).is_err(), "{which}");
        }
        // Genuinely signed, but with a critical extension, or not valid yet.
        let ours = ed_key(&pem);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        assert!(
            k.verify(&jsonwebtoken::encode(&header, &c, &ours).unwrap(), 1001)
                .is_ok()
        );
        header.crit = Some(vec!["exp".into()]);
        let crit = jsonwebtoken::encode(&header, &c, &ours).unwrap();
        assert!(k.verify(&crit, 1001).is_err(), "crit");
        header.crit = None;
        let later = Claims {
            nbf: Some(2000),
            ..c.clone()
        };
        let t = jsonwebtoken::encode(&header, &later, &ours).unwrap();
        assert!(k.verify(&t, 1001).is_err(), "nbf in the future");
        assert!(k.verify(&t, 2000).is_ok(), "nbf reached");
    }

    #[test]
    fn a_set_of_public_keys_verifies_and_cannot_sign() {
        let (old, new) = (
            KeySet::generate_pem().unwrap(),
            KeySet::generate_pem().unwrap(),
        );
        let full = KeySet::from_pem(&format!("{new}{old}")).unwrap();
        assert!(full.can_sign());
        let public = full.public_pem().unwrap();
        assert_eq!(public.matches("-----BEGIN PUBLIC KEY-----").count(), 2);
        let verifier = KeySet::from_public_pem(&public).unwrap();
        assert!(!verifier.can_sign());
        assert_eq!(verifier.jwks(), full.jwks(), "the same JWKS, in order");
        let signer = TokenKeys::eddsa(full, "accounts", "accounts");
        let verifier = TokenKeys::eddsa(verifier, "accounts", "accounts");
        let t = signer.sign(&claims(1000)).unwrap();
        assert_eq!(verifier.verify(&t, 1001).unwrap(), claims(1000));
        let old_token = eddsa(&old).sign(&claims(1000)).unwrap();
        assert!(
            verifier.verify(&old_token, 1001).is_ok(),
            "a previous key verifies"
        );
        assert!(matches!(
            verifier.sign(&claims(1000)),
            Err(ApiError::Internal(_))
        ));
        assert!(
            KeySet::from_public_pem(&old).is_err(),
            "a private key is no public key"
        );
        assert!(KeySet::from_public_pem("").is_err());
    }

    #[test]
    fn key_sets_are_read_strictly() {
        let a = KeySet::generate_pem().unwrap();
        assert!(KeySet::from_pem("").is_err());
        assert!(KeySet::from_pem("not a key").is_err());
        assert!(KeySet::from_pem(&format!("{a}{a}")).is_err(), "a key twice");
        assert!(KeySet::from_pem(&a.replace("END PRIVATE KEY", "END")).is_err());
        let broken = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(KeySet::from_pem(broken).is_err());
        let with_comments = format!(
            "current, made today\n{a}\nprevious\n{}",
            KeySet::generate_pem().unwrap()
        );
        assert_eq!(KeySet::from_pem(&with_comments).unwrap().kids().count(), 2);
        // What openssl genpkey -algorithm ed25519 writes (RFC 8410's example key).
        let openssl = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        let set = KeySet::from_pem(openssl).unwrap();
        assert_eq!(
            set.jwks()["keys"][0]["x"],
            "Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE",
            "RFC 8410's public key"
        );
    }

    /// A token with one byte of its signature changed.
    fn tampered(token: &str) -> String {
        let mut bytes = token.to_string().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_cached_token_is_never_accepted_past_its_exp_nor_before_its_nbf() {
        let k = eddsa(&KeySet::generate_pem().unwrap()).with_cache(8);
        let c = claims(1000);
        let t = k.sign(&c).unwrap();
        assert!(!k.is_cached(&t));
        assert_eq!(k.verify(&t, 1001).unwrap(), c);
        assert!(k.is_cached(&t), "verified, so kept");
        assert_eq!(k.verify(&t, c.exp - 1).unwrap(), c, "from the cache");
        assert!(k.verify(&t, c.exp).is_err(), "at its exp");
        assert!(!k.is_cached(&t), "an expired token is dropped");
        assert!(k.verify(&t, c.exp + 1).is_err());
        // A token valid only from a time to come is not kept, and is refused until then.
        let later = Claims {
            nbf: Some(2000),
            ..claims(1000)
        };
        let t = k.sign(&later).unwrap();
        assert!(k.verify(&t, 1500).is_err());
        assert!(!k.is_cached(&t), "a refused token is not kept");
        assert_eq!(k.verify(&t, 2000).unwrap(), later);
        assert!(k.is_cached(&t));
        assert!(
            k.verify(&t, 1999).is_err(),
            "nbf is checked on a cached token too"
        );
    }

    #[test]
    fn a_forgery_of_a_cached_tokens_claims_is_refused_and_not_kept() {
        let pem = KeySet::generate_pem().unwrap();
        let k = eddsa(&pem).with_cache(8);
        let real = k.sign(&claims(1000)).unwrap();
        k.verify(&real, 1001).unwrap();
        assert!(k.is_cached(&real));
        // The same header and claims, signed by another key under the real key's id, or with
        // the real signature changed.
        let other = KeySet::generate_pem().unwrap();
        let signature = ed_key(&other);
        let [h, c, _] = <[&str; 3]>::try_from(real.split('.').collect::<Vec<_>>()).unwrap();
        let input = format!("{h}.{c}");
        let forged_sig =
            jsonwebtoken::crypto::sign(input.as_bytes(), &signature, Algorithm::EdDSA).unwrap();
        let forged = format!("{input}.{forged_sig}");
        assert_ne!(forged, real);
        for bad in [forged, tampered(&real)] {
            assert!(k.verify(&bad, 1001).is_err(), "{bad}");
            assert!(!k.is_cached(&bad));
        }
        assert_eq!(k.cached_tokens(), 1);
        assert!(k.verify(&real, 1001).is_ok(), "the real one still is");
    }

    #[test]
    fn keys_of_a_set_without_the_retired_key_refuse_its_tokens_whatever_was_cached() {
        let (old, new) = (
            KeySet::generate_pem().unwrap(),
            KeySet::generate_pem().unwrap(),
        );
        let before = eddsa(&old).sign(&claims(1000)).unwrap();
        let rotated = eddsa(&format!("{new}{old}")).with_cache(8);
        rotated.verify(&before, 1001).unwrap();
        assert!(rotated.is_cached(&before));
        // Retiring the key builds new keys (at the next start): they start with nothing kept.
        let retired = eddsa(&new).with_cache(8);
        assert_eq!(retired.cached_tokens(), 0);
        assert!(retired.verify(&before, 1001).is_err());
    }

    #[test]
    fn the_cache_never_holds_more_than_its_bound() {
        let bound = 64;
        let k = keys().with_cache(bound);
        let mut seen = Vec::new();
        for i in 0..(bound * 4) {
            let c = Claims {
                sid: format!("s{i}"),
                ..claims(1000)
            };
            let t = k.sign(&c).unwrap();
            assert_eq!(k.verify(&t, 1001).unwrap(), c);
            assert!(
                k.cached_tokens() <= bound,
                "{} after {i}",
                k.cached_tokens()
            );
            seen.push(t);
        }
        assert!(k.cached_tokens() > 0);
        // Evicted or not, every token still verifies (in full when it was evicted).
        for t in &seen {
            assert!(k.verify(t, 1001).is_ok());
        }
        assert!(k.cached_tokens() <= bound);
        let none = keys().with_cache(0);
        none.verify(&seen[0], 1001).unwrap();
        assert_eq!(none.cached_tokens(), 0, "0 keeps nothing");
    }
}
