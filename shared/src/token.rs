//! Session tokens: JWTs signed with Ed25519 (`EdDSA`, a key set whose public keys are published
//! as a JWKS) or HS512 (one shared secret), whose algorithm, key id, issuer, audience and expiry
//! are pinned and checked, each naming a server-side session (`sid`) that must still exist.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Longer Authorization values are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// How far in the future a token's `iat` may be (clocks of the functions drift a little).
pub const MAX_CLOCK_SKEW_SECS: i64 = 60;

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

/// The kinds of key a [`KeySet`] holds, each signing with one algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// Ed25519, `EdDSA` (RFC 8037): small, fast, the default.
    Ed25519,
    /// RSA of 2048 bits or more, `RS256` (RFC 7518): what API Gateway's JWT authorizer on HTTP
    /// APIs verifies, and what OpenID Connect requires every provider to offer.
    Rsa,
}

impl KeyKind {
    pub fn algorithm(self) -> Algorithm {
        match self {
            KeyKind::Ed25519 => Algorithm::EdDSA,
            KeyKind::Rsa => Algorithm::RS256,
        }
    }

    /// The algorithm's name as JOSE writes it (`alg`).
    pub fn alg(self) -> &'static str {
        match self {
            KeyKind::Ed25519 => "EdDSA",
            KeyKind::Rsa => "RS256",
        }
    }
}

/// The smallest RSA key accepted (NIST SP 800-57; RFC 7518 section 3.3 asks for 2048 or more).
pub const MIN_RSA_BITS: usize = 2048;
/// The size of the RSA keys `accounts rotate-key` makes.
pub const GENERATED_RSA_BITS: usize = 2048;

const OID_ED25519: &str = "1.3.101.112";
const OID_RSA: &str = "1.2.840.113549.1.1.1";

/// One key of a [`KeySet`]: its id, its kind, and the key in the forms signing, verifying and
/// publishing use.
struct SetKey {
    kid: String,
    kind: KeyKind,
    /// The public members of its JWK (RFC 7517), in RFC 7638's order: `crv`, `kty`, `x`
    /// (Ed25519) or `e`, `kty`, `n` (RSA), base64url.
    public_jwk: Vec<(&'static str, String)>,
    /// The public key as SubjectPublicKeyInfo DER (what `-----BEGIN PUBLIC KEY-----` holds).
    spki: Vec<u8>,
    /// The private key; `None` in a set read from public keys (a function that only verifies).
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    /// The key refresh tokens are MAC'd with, derived from the private key; `None` without it.
    refresh_key: Option<[u8; 32]>,
}

/// The keys tokens are signed with: the current one (the first) signs, every one of them
/// verifies (the previous ones, until the tokens they signed have expired). Ed25519 and RSA
/// keys may be mixed: switching from one algorithm to the other is a rotation. Built from
/// PKCS#8 PEM blocks (`-----BEGIN PRIVATE KEY-----`, as `openssl genpkey` writes them), the
/// current one first.
pub struct KeySet {
    keys: Vec<SetKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.kids()).finish()
    }
}

/// The DER inside one PEM block.
fn pem_der(block: &str) -> Result<Vec<u8>, String> {
    pkcs8::der::pem::decode_vec(block.as_bytes())
        .map(|(_, der)| der)
        .map_err(|e| format!("PEM: {e}"))
}

impl KeySet {
    /// Reads one or more PEM blocks, the current key first. Text outside the blocks is ignored
    /// (a comment saying when a key was made, for example). A key twice is an error.
    pub fn from_pem(text: &str) -> Result<KeySet, String> {
        Self::read(
            text,
            "PRIVATE KEY",
            "a private key in PKCS#8",
            SetKey::private,
        )
    }

    /// Reads the public keys only (`-----BEGIN PUBLIC KEY-----` blocks, SPKI, as
    /// [`KeySet::public_pem`] or `openssl pkey -pubout` write them), the current key first: a
    /// set that verifies tokens and publishes the JWKS, and cannot sign.
    pub fn from_public_pem(text: &str) -> Result<KeySet, String> {
        Self::read(text, "PUBLIC KEY", "a public key in SPKI", SetKey::public)
    }

    fn read(
        text: &str,
        label: &str,
        what: &str,
        key: fn(&[u8]) -> Result<SetKey, String>,
    ) -> Result<KeySet, String> {
        let mut keys: Vec<SetKey> = Vec::new();
        for block in pem_blocks_labelled(text, label)? {
            let n = keys.len() + 1;
            let key = pem_der(block)
                .and_then(|der| key(&der))
                .map_err(|e| format!("key {n} is not {what} of Ed25519 or RSA: {e}"))?;
            if keys.iter().any(|k| k.kid == key.kid) {
                return Err(format!("key {} is in the set twice", key.kid));
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(format!("no key (-----BEGIN {label}----- blocks) found"));
        }
        Ok(KeySet { keys })
    }

    /// The public keys of the set as PEM blocks, the current one first: the value a function
    /// that only verifies is given (`JWT_VERIFYING_KEYS`).
    pub fn public_pem(&self) -> Result<String, String> {
        use pkcs8::der::pem::{LineEnding, encode_string};
        self.keys
            .iter()
            .map(|k| {
                encode_string("PUBLIC KEY", LineEnding::LF, &k.spki).map_err(|e| e.to_string())
            })
            .collect()
    }

    /// Whether the set holds the private keys (it can sign), or only the public ones.
    pub fn can_sign(&self) -> bool {
        self.keys.iter().all(|k| k.encoding.is_some())
    }

    /// The kind of the current key: what tokens are signed with.
    pub fn current_kind(&self) -> KeyKind {
        self.keys[0].kind
    }

    /// The algorithms the set verifies, the current key's first, each once.
    pub fn algorithms(&self) -> Vec<&'static str> {
        self.kinds().into_iter().map(KeyKind::alg).collect()
    }

    /// The kinds of key in the set, the current key's first, each once.
    fn kinds(&self) -> Vec<KeyKind> {
        let mut kinds: Vec<KeyKind> = Vec::new();
        for k in &self.keys {
            if !kinds.contains(&k.kind) {
                kinds.push(k.kind);
            }
        }
        kinds
    }

    /// A new Ed25519 private key (256 random bits from the OS), as a PKCS#8 PEM block.
    pub fn generate_pem() -> Result<String, String> {
        Self::generate_pem_of(KeyKind::Ed25519)
    }

    /// A new private key of `kind` (Ed25519, or RSA of [`GENERATED_RSA_BITS`] bits, from the
    /// OS's randomness), as a PKCS#8 PEM block.
    pub fn generate_pem_of(kind: KeyKind) -> Result<String, String> {
        use pkcs8::der::pem::{LineEnding, encode_string};
        let der = match kind {
            KeyKind::Ed25519 => {
                use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes};
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| format!("getrandom: {e}"))?;
                let der = KeypairBytes {
                    secret_key: secret,
                    public_key: None,
                }
                .to_pkcs8_der()
                .map_err(|e| format!("pkcs8: {e}"))?;
                secret.fill(0);
                der.as_bytes().to_vec()
            }
            KeyKind::Rsa => {
                use aws_lc_rs::encoding::AsDer;
                let size = match GENERATED_RSA_BITS {
                    2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
                    _ => aws_lc_rs::rsa::KeySize::Rsa3072,
                };
                let pair = aws_lc_rs::rsa::KeyPair::generate(size)
                    .map_err(|_| "RSA key generation failed".to_string())?;
                pair.as_der()
                    .map_err(|_| "RSA key encoding failed".to_string())?
                    .as_ref()
                    .to_vec()
            }
        };
        let pem = encode_string("PRIVATE KEY", LineEnding::LF, &der).map_err(|e| e.to_string());
        let mut der = der;
        der.fill(0);
        pem
    }

    /// The key ids, the current one first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// The public keys as a JWK Set (RFC 7517; RFC 8037 for Ed25519, RFC 7518 for RSA), the
    /// current one first, each with `kid`, `use` and `alg`.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .map(|k| {
                let mut jwk = serde_json::Map::new();
                for (name, value) in &k.public_jwk {
                    jwk.insert((*name).into(), value.clone().into());
                }
                jwk.insert("kid".into(), k.kid.clone().into());
                jwk.insert("use".into(), "sig".into());
                jwk.insert("alg".into(), k.kind.alg().into());
                serde_json::Value::Object(jwk)
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

impl SetKey {
    /// A key from its private key, PKCS#8 DER.
    fn private(der: &[u8]) -> Result<Self, String> {
        let info = pkcs8::PrivateKeyInfo::try_from(der).map_err(|e| e.to_string())?;
        match info.algorithm.oid.to_string().as_str() {
            OID_ED25519 => {
                use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
                let signing =
                    ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(|e| e.to_string())?;
                // Re-encoded without its optional public half: the form the signer reads.
                let der = KeypairBytes {
                    secret_key: signing.to_bytes(),
                    public_key: None,
                }
                .to_pkcs8_der()
                .map_err(|e| format!("pkcs8: {e}"))?;
                Ok(SetKey {
                    encoding: Some(EncodingKey::from_ed_der(der.as_bytes())),
                    refresh_key: Some(refresh_key_of(signing.as_bytes())),
                    ..SetKey::ed25519(&signing.verifying_key())
                })
            }
            OID_RSA => {
                use aws_lc_rs::encoding::AsDer;
                use aws_lc_rs::signature::KeyPair;
                let pair =
                    aws_lc_rs::rsa::KeyPair::from_pkcs8(der).map_err(|e| format!("RSA: {e}"))?;
                let spki = pair
                    .public_key()
                    .as_der()
                    .map_err(|_| "RSA public key encoding failed".to_string())?;
                let key = SetKey::rsa(spki.as_ref())?;
                // The PKCS#1 RSAPrivateKey inside, which the signer reads; its MAC key is
                // derived from the PKCS#8 form AWS-LC writes, the same for every encoding of
                // the key that was read.
                let canonical = pair
                    .as_der()
                    .map_err(|_| "RSA key encoding failed".to_string())?;
                Ok(SetKey {
                    encoding: Some(EncodingKey::from_rsa_der(info.private_key)),
                    refresh_key: Some(refresh_key_of(canonical.as_ref())),
                    ..key
                })
            }
            other => Err(format!("algorithm {other}")),
        }
    }

    /// A key that verifies only, from its public key, SPKI DER.
    fn public(der: &[u8]) -> Result<Self, String> {
        use pkcs8::spki::SubjectPublicKeyInfoRef;
        let info = SubjectPublicKeyInfoRef::try_from(der).map_err(|e| e.to_string())?;
        match info.algorithm.oid.to_string().as_str() {
            OID_ED25519 => {
                use ed25519_dalek::pkcs8::DecodePublicKey;
                let public = ed25519_dalek::VerifyingKey::from_public_key_der(der)
                    .map_err(|e| e.to_string())?;
                Ok(SetKey::ed25519(&public))
            }
            OID_RSA => SetKey::rsa(der),
            other => Err(format!("algorithm {other}")),
        }
    }

    fn ed25519(public: &ed25519_dalek::VerifyingKey) -> Self {
        use ed25519_dalek::pkcs8::EncodePublicKey;
        let bytes = public.to_bytes();
        let jwk = vec![
            ("crv", "Ed25519".to_string()),
            ("kty", "OKP".to_string()),
            ("x", URL_SAFE_NO_PAD.encode(bytes)),
        ];
        SetKey {
            kid: thumbprint(&jwk),
            kind: KeyKind::Ed25519,
            public_jwk: jwk,
            spki: public
                .to_public_key_der()
                .map(|d| d.as_bytes().to_vec())
                .unwrap_or_default(),
            encoding: None,
            decoding: DecodingKey::from_ed_der(&bytes),
            refresh_key: None,
        }
    }

    /// An RSA public key from its SPKI DER: at least [`MIN_RSA_BITS`].
    fn rsa(spki: &[u8]) -> Result<Self, String> {
        let public = aws_lc_rs::rsa::PublicKey::from_der(spki).map_err(|e| format!("RSA: {e}"))?;
        let bits = public.modulus_len() * 8;
        if bits < MIN_RSA_BITS {
            return Err(format!(
                "an RSA key of {bits} bits (at least {MIN_RSA_BITS})"
            ));
        }
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let jwk = vec![
            ("e", URL_SAFE_NO_PAD.encode(&e)),
            ("kty", "RSA".to_string()),
            ("n", URL_SAFE_NO_PAD.encode(&n)),
        ];
        Ok(SetKey {
            kid: thumbprint(&jwk),
            kind: KeyKind::Rsa,
            public_jwk: jwk,
            spki: spki.to_vec(),
            encoding: None,
            decoding: DecodingKey::from_rsa_raw_components(&n, &e),
            refresh_key: None,
        })
    }
}

/// RFC 7638: the base64url SHA-256 of the key's required members, in lexicographic order,
/// without spaces (`members` are in that order already).
fn thumbprint(members: &[(&str, String)]) -> String {
    use sha2::{Digest, Sha256};
    let inner: Vec<String> = members
        .iter()
        .map(|(name, value)| format!("\"{name}\":\"{value}\""))
        .collect();
    let json = format!("{{{}}}", inner.join(","));
    URL_SAFE_NO_PAD.encode(Sha256::digest(json.as_bytes()))
}

/// The issuer every token named before issuers were URLs: still accepted, so that no one is
/// signed out by the upgrade (such a token lives at most a day, `ACCESS_TOKEN_TTL`).
pub const LEGACY_ISSUER: &str = "accounts";

/// How tokens are signed: from a key set (Ed25519 or RSA; the default), or HS512 with one
/// secret.
enum Signing {
    KeySet(KeySet),
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
    /// One validation per algorithm the keys verify (jsonwebtoken checks one family at a
    /// time), each pinning its algorithm, the issuer, the audience and the claims required.
    validations: Vec<Validation>,
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
        Self::with(signing, vec![Algorithm::HS512], issuer, audience)
    }

    /// A key set (EdDSA, RS256, or both during a switch): the current key signs, every key of
    /// the set verifies, each with its own algorithm only.
    pub fn with_set(keys: KeySet, issuer: &str, audience: &str) -> Self {
        let algorithms = keys.kinds().into_iter().map(KeyKind::algorithm).collect();
        Self::with(Signing::KeySet(keys), algorithms, issuer, audience)
    }

    fn with(signing: Signing, algorithms: Vec<Algorithm>, issuer: &str, audience: &str) -> Self {
        // The issuer, and the one tokens named before it was a URL (LEGACY_ISSUER).
        let mut issuers = vec![issuer];
        if issuer != LEGACY_ISSUER {
            issuers.push(LEGACY_ISSUER);
        }
        let validations = algorithms
            .into_iter()
            .map(|algorithm| {
                let mut validation = Validation::new(algorithm);
                validation.algorithms = vec![algorithm];
                validation.set_issuer(&issuers);
                validation.set_audience(&[audience]);
                validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
                // Expiry is checked in `verify` against the service clock (leeway 0), with the
                // session.
                validation.validate_exp = false;
                validation.leeway = 0;
                validation
            })
            .collect();
        TokenKeys {
            signing,
            validations,
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
            Signing::KeySet(keys) => keys
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
            Signing::KeySet(keys) => Some(keys.jwks()),
            Signing::Hs512 { .. } => None,
        }
    }

    /// The algorithms tokens are verified with (`alg`), the one that signs first.
    pub fn algorithms(&self) -> Vec<&'static str> {
        match &self.signing {
            Signing::KeySet(keys) => keys.algorithms(),
            Signing::Hs512 { .. } => vec!["HS512"],
        }
    }

    /// The algorithm new tokens are signed with (`alg`).
    pub fn signing_algorithm(&self) -> &'static str {
        self.algorithms()[0]
    }

    pub fn sign(&self, claims: &impl serde::Serialize) -> Result<String, ApiError> {
        let (header, key) = match &self.signing {
            Signing::KeySet(keys) => {
                let current = &keys.keys[0];
                let mut header = Header::new(current.kind.algorithm());
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

    /// The key that may have signed `token`: from a key set, the key its header names (`kid`),
    /// only if the id is one of the set's and the header's algorithm is that key's.
    fn verifying_key(&self, token: &str) -> Result<(&DecodingKey, Algorithm), String> {
        match &self.signing {
            Signing::Hs512 { decoding, .. } => Ok((decoding, Algorithm::HS512)),
            Signing::KeySet(keys) => {
                let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
                let kid = header.kid.ok_or("no kid")?;
                let well_formed = !kid.is_empty()
                    && kid.len() <= MAX_KID_CHARS
                    && kid
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !well_formed {
                    return Err("a malformed kid".into());
                }
                let key = keys
                    .keys
                    .iter()
                    .find(|k| k.kid == kid)
                    .ok_or_else(|| format!("an unknown kid {kid}"))?;
                if header.alg != key.kind.algorithm() {
                    return Err(format!(
                        "algorithm {:?} for a key of {:?}",
                        header.alg, key.kind
                    ));
                }
                Ok((&key.decoding, header.alg))
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
        // The validation of the key's algorithm (the header's, checked against the key).
        let validation = self
            .validations
            .iter()
            .find(|v| v.algorithms[0] == key.1)
            .ok_or_else(|| refused(&"no validation for the algorithm"))?;
        let data =
            jsonwebtoken::decode::<Claims>(token, key.0, validation).map_err(|e| refused(&e))?;
        // RFC 7515 4.1.11: a `crit` extension the recipient does not understand (none is
        // understood here) makes the token invalid; `zip` and `enc` belong to other formats.
        let header = &data.header;
        if header.crit.is_some() || header.zip.is_some() || header.enc.is_some() {
            return Err(refused(&"a header extension this service does not do"));
        }
        Self::in_time(&data.claims, now)?;
        Ok(data.claims)
    }

    /// What an ID token of this service names, as an `id_token_hint` (OpenID Connect
    /// RP-Initiated Logout 1.0 section 2): its signature (a key of the set, the key's
    /// algorithm), its issuer and its members checked; its expiry not (a hint may be presented
    /// after its token expired), nor its audience (a client's id, which the caller looks up).
    pub fn read_id_token_hint(&self, token: &str) -> Option<IdTokenHint> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let (key, algorithm) = self.verifying_key(token).ok()?;
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["iss", "sub", "aud"]);
        validation.validate_aud = false;
        validation.validate_exp = false;
        jsonwebtoken::decode::<IdTokenHint>(token, key, &validation)
            .ok()
            .map(|d| d.claims)
    }

    /// Not expired (`exp` after now, no leeway), not valid only from a time to come, and not
    /// issued in the future (beyond [`MAX_CLOCK_SKEW_SECS`]: none is, a forgery might be).
    fn in_time(claims: &Claims, now: i64) -> Result<(), ApiError> {
        if claims.exp <= now {
            tracing::debug!("token refused: expired");
            return Err(ApiError::InvalidToken);
        }
        if claims.iat > now + MAX_CLOCK_SKEW_SECS {
            tracing::debug!("token refused: issued in the future");
            return Err(ApiError::InvalidToken);
        }
        if claims.nbf.is_some_and(|nbf| nbf > now) {
            tracing::debug!("token refused: not valid before a time to come");
            return Err(ApiError::InvalidToken);
        }
        Ok(())
    }
}

/// What an `id_token_hint` names: the person and the client (its `aud`, one client's id).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct IdTokenHint {
    pub sub: String,
    pub aud: String,
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
    const ISS: &str = "https://id.example.com";

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
            iss: ISS.into(),
            aud: "accounts".into(),
            nbf: None,
            amr: vec!["pwd".into()],
            acr: "aal1".into(),
            ext: None,
        }
    }

    fn keys() -> TokenKeys {
        TokenKeys::new(SECRET, ISS, "accounts")
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
        // A token of the issuer before issuers were URLs is still accepted; another is not.
        for (iss, accepted) in [(LEGACY_ISSUER, true), ("someone-else", false)] {
            let c = Claims {
                iss: iss.into(),
                ..claims(1000)
            };
            assert_eq!(
                k.verify(&k.sign(&c).unwrap(), 1001).is_ok(),
                accepted,
                "{iss}"
            );
        }
        let other_aud = TokenKeys::new(SECRET, ISS, "another-api");
        assert!(other_aud.verify(&t, 1001).is_err(), "audience");
        let other_key = TokenKeys::new(&[7u8; 64], ISS, "accounts");
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
        TokenKeys::with_set(KeySet::from_pem(pem).unwrap(), ISS, "accounts")
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
        let signer = TokenKeys::with_set(full, ISS, "accounts");
        let verifier = TokenKeys::with_set(verifier, ISS, "accounts");
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
    fn a_token_issued_in_the_future_is_refused_beyond_the_skew() {
        let k = eddsa(&KeySet::generate_pem().unwrap());
        let t = k.sign(&claims(1000)).unwrap();
        assert!(
            k.verify(&t, 1000 - MAX_CLOCK_SKEW_SECS).is_ok(),
            "within the skew"
        );
        assert!(
            k.verify(&t, 1000 - MAX_CLOCK_SKEW_SECS - 1).is_err(),
            "beyond it"
        );
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

    /// One RSA key per test binary: making one takes a moment.
    fn rsa_pem() -> &'static str {
        static PEM: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        PEM.get_or_init(|| KeySet::generate_pem_of(KeyKind::Rsa).unwrap())
    }

    #[test]
    fn an_rsa_keys_id_is_its_rfc_7638_thumbprint() {
        use aws_lc_rs::encoding::AsDer;
        // RFC 7638 section 3.1's example key and thumbprint.
        let n = URL_SAFE_NO_PAD
            .decode(concat!(
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6t",
                "Soc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-6",
                "5YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLy",
                "rdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzK",
                "nqDKgw"
            ))
            .unwrap();
        let spki = aws_lc_rs::rsa::PublicKeyComponents {
            n: n.as_slice(),
            e: &[1u8, 0, 1][..],
        }
        .as_der()
        .unwrap();
        let pem = pkcs8::der::pem::encode_string(
            "PUBLIC KEY",
            pkcs8::der::pem::LineEnding::LF,
            spki.as_ref(),
        )
        .unwrap();
        let set = KeySet::from_public_pem(&pem).unwrap();
        assert_eq!(
            set.kids().next().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        let jwk = &set.jwks()["keys"][0];
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["use"], "sig");
        // A key under 2048 bits is refused.
        // (A modulus is odd: half of the example's, made odd, is a well-formed 1024-bit key.)
        let mut half = n[..128].to_vec();
        half[127] |= 1;
        let short = aws_lc_rs::rsa::PublicKeyComponents {
            n: half.as_slice(),
            e: &[1u8, 0, 1][..],
        }
        .as_der()
        .unwrap();
        let pem = pkcs8::der::pem::encode_string(
            "PUBLIC KEY",
            pkcs8::der::pem::LineEnding::LF,
            short.as_ref(),
        )
        .unwrap();
        let refused = KeySet::from_public_pem(&pem).unwrap_err();
        assert!(refused.contains("1024 bits"), "{refused}");
    }

    #[test]
    fn rsa_keys_sign_rs256_and_a_switch_either_way_keeps_every_token() {
        let ed = KeySet::generate_pem().unwrap();
        let rsa = rsa_pem();
        let before = eddsa(&ed).sign(&claims(1000)).unwrap();
        // The switch: an RSA key first, the Ed25519 key kept.
        let switched = eddsa(&format!("{rsa}{ed}"));
        let after = switched.sign(&claims(1000)).unwrap();
        assert_eq!(header_of(&after)["alg"], "RS256");
        assert_eq!(switched.algorithms(), vec!["RS256", "EdDSA"]);
        for t in [&before, &after] {
            assert_eq!(switched.verify(t, 1001).unwrap(), claims(1000));
        }
        let jwks = switched.jwks().unwrap();
        assert_eq!(jwks["keys"][0]["kty"], "RSA");
        assert!(
            jwks["keys"][0]["n"].as_str().unwrap().len() >= 342,
            "2048 bits"
        );
        assert_eq!(jwks["keys"][1]["kty"], "OKP");
        // And back: the RSA key kept until its tokens have expired.
        let back = eddsa(&format!("{ed}{rsa}"));
        assert_eq!(
            header_of(&back.sign(&claims(1000)).unwrap())["alg"],
            "EdDSA"
        );
        assert!(back.verify(&after, 1001).is_ok());
        // The public keys alone verify both kinds, and cannot sign.
        let public = KeySet::from_pem(&format!("{rsa}{ed}"))
            .unwrap()
            .public_pem()
            .unwrap();
        let verifier =
            TokenKeys::with_set(KeySet::from_public_pem(&public).unwrap(), ISS, "accounts");
        assert!(verifier.verify(&before, 1001).is_ok());
        assert!(verifier.verify(&after, 1001).is_ok());
        assert!(verifier.sign(&claims(1000)).is_err());
        assert_eq!(verifier.jwks(), switched.jwks());
        // An RSA key read again has the same id and refresh key.
        let again = eddsa(&format!("{rsa}{ed}"));
        assert_eq!(again.refresh_keys(), switched.refresh_keys());
    }

    #[test]
    fn a_key_is_used_only_with_its_own_algorithm() {
        let ed = KeySet::generate_pem().unwrap();
        let rsa = rsa_pem();
        let set = KeySet::from_pem(&format!("{rsa}{ed}")).unwrap();
        let kids: Vec<String> = set.kids().map(String::from).collect();
        let k = eddsa(&format!("{rsa}{ed}"));
        let rsa_key = EncodingKey::from_rsa_der(
            pkcs8::PrivateKeyInfo::try_from(pem_der(rsa).unwrap().as_slice())
                .unwrap()
                .private_key,
        );
        // RS256 under the Ed25519 key's id, EdDSA under the RSA key's, PS256 and RS512 under
        // the RSA key's: each refused; the right pairing verifies.
        let c = claims(1000);
        let cases = [
            (Algorithm::RS256, &kids[1], &rsa_key, false),
            (Algorithm::EdDSA, &kids[0], &ed_key(&ed), false),
            (Algorithm::PS256, &kids[0], &rsa_key, false),
            (Algorithm::RS512, &kids[0], &rsa_key, false),
            (Algorithm::RS256, &kids[0], &rsa_key, true),
            (Algorithm::EdDSA, &kids[1], &ed_key(&ed), true),
        ];
        for (alg, kid, key, accepted) in cases {
            let mut header = Header::new(alg);
            header.kid = Some(kid.clone());
            let t = jsonwebtoken::encode(&header, &c, key).unwrap();
            assert_eq!(k.verify(&t, 1001).is_ok(), accepted, "{alg:?} {kid}");
        }
        // HS256 keyed with the RSA public key's PEM (the algorithm confusion attack).
        let public = set.public_pem().unwrap();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kids[0].clone());
        let t = jsonwebtoken::encode(&header, &c, &EncodingKey::from_secret(public.as_bytes()))
            .unwrap();
        assert!(k.verify(&t, 1001).is_err());
    }
}
