//! Random secrets (activation tokens, session ids) and their stored hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// `bytes` random bytes from the OS, base64url without padding.
pub fn random_token(bytes: usize) -> Result<String, ApiError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// `bytes`, base64url without padding.
pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The token of a link in a mail (activation, password reset, address confirmation): 256
/// random bits.
pub fn link_token() -> Result<String, ApiError> {
    random_token(32)
}

/// A session id: 128 random bits.
pub fn session_id() -> Result<String, ApiError> {
    random_token(16)
}

/// What the store keeps of a token: its SHA-256, hex. (The token has 256 random bits, so a fast
/// hash is enough: there is nothing to guess.)
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let a = link_token().unwrap();
        let b = link_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(session_id().unwrap().len(), 22);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
