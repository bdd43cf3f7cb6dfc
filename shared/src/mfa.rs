//! The second factor's parts: TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, one step of skew
//! either way, as every authenticator app expects), its secret sealed at rest (XChaCha20-Poly1305
//! under a key from configuration, bound to its user), the `otpauth://` URI and its QR code as
//! SVG, and recovery codes (about 50 random bits each, kept only as MACs under a key from the
//! same configuration, so a copy of the table alone gives neither the secrets nor the codes).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::error::ApiError;

/// A TOTP secret's length: 160 random bits (RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;
/// How many recovery codes a person gets.
pub const RECOVERY_CODES: usize = 10;
/// The seconds of a TOTP step.
pub const STEP_SECS: i64 = 30;
const NONCE_BYTES: usize = 24;

/// The keys of the second factor, derived from `MFA_ENCRYPTION_KEY`: one seals the TOTP
/// secrets, the other MACs the recovery codes.
#[derive(Clone)]
pub struct MfaKeys {
    seal: [u8; 32],
    codes: [u8; 32],
}

impl std::fmt::Debug for MfaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaKeys(<redacted>)")
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    for p in parts {
        mac.update(&(p.len() as u64).to_be_bytes());
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

impl MfaKeys {
    /// From the configured key material (at least 32 bytes of it).
    pub fn new(material: &[u8]) -> Self {
        MfaKeys {
            seal: hmac(
                material,
                &[b"accounts: TOTP secrets, XChaCha20-Poly1305 key, v1"],
            ),
            codes: hmac(material, &[b"accounts: recovery codes, HMAC key, v1"]),
        }
    }

    /// Seals `secret` for `user_id` (its user id is the associated data: a sealed secret copied
    /// onto another user does not open): a random nonce, then the ciphertext, base64url.
    pub fn seal(&self, user_id: &str, secret: &[u8]) -> Result<String, ApiError> {
        let cipher = XChaCha20Poly1305::new(&self.seal.into());
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: user_id.as_bytes(),
                },
            )
            .map_err(|_| ApiError::Internal("seal".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(B64.encode(out))
    }

    /// Opens what [`MfaKeys::seal`] made for `user_id`; `None` when it was not (another key,
    /// another user, a changed byte).
    pub fn open(&self, user_id: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = B64.decode(sealed).ok()?;
        if raw.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, body) = raw.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
        XChaCha20Poly1305::new(&self.seal.into())
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: body,
                    aad: user_id.as_bytes(),
                },
            )
            .ok()
    }

    /// What a recovery code is kept as: its MAC with its user, hex. The code is read without
    /// case, spaces or dashes.
    pub fn recovery_hash(&self, user_id: &str, code: &str) -> String {
        let normal: String = code
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        hex(&hmac(&self.codes, &[user_id.as_bytes(), normal.as_bytes()]))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new TOTP secret: 160 random bits.
pub fn new_secret() -> Result<Vec<u8>, ApiError> {
    let mut s = vec![0u8; SECRET_BYTES];
    getrandom::fill(&mut s).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    Ok(s)
}

fn totp(secret: &[u8], account: &str, issuer: &str) -> Result<Totp, ApiError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECS as u64)
        .with_secret(Secret::from(secret.to_vec()))
        .with_account_name(account)
        .with_issuer(Some(issuer))
        .build()
        .map_err(|e| ApiError::Internal(format!("totp: {e:?}")))
}

/// The step (`time / 30`) whose code `code` is, among the current one and one either side;
/// `None` for anything else (a wrong code, not six digits).
pub fn check(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) || now < 0 {
        return None;
    }
    let t = totp(secret, "x", "x").ok()?;
    t.check(code, now as u64).map(|step| step as i64)
}

/// The secret in base32 (what a person types when they cannot scan) and the `otpauth://` URI
/// an authenticator app reads from the QR code.
pub fn provisioning(
    secret: &[u8],
    account: &str,
    issuer: &str,
) -> Result<(String, String), ApiError> {
    let t = totp(secret, account, issuer)?;
    let uri = t
        .to_url()
        .map_err(|e| ApiError::Internal(format!("otpauth: {e:?}")))?;
    Ok((Secret::from(secret.to_vec()).to_base32(), uri))
}

/// The QR code of `text` as an SVG document (black on white, with its quiet zone).
pub fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
        .map_err(|e| ApiError::Internal(format!("qr: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build())
}

/// Ten new recovery codes, each ten characters of base32 (50 random bits) shown as two groups
/// of five (`abcde-fghij`).
pub fn new_recovery_codes() -> Result<Vec<String>, ApiError> {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut raw = [0u8; 10];
            getrandom::fill(&mut raw).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
            let chars: Vec<char> = raw
                .iter()
                .map(|b| ALPHABET[(b & 31) as usize] as char)
                .collect();
            Ok(format!(
                "{}-{}",
                chars[..5].iter().collect::<String>(),
                chars[5..].iter().collect::<String>()
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vectors_check_at_their_step_and_one_either_side() {
        // RFC 6238 appendix B, SHA-1, the last six digits of its eight.
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(check(secret, code, time), Some(time / 30), "{time}");
            assert_eq!(
                check(secret, code, time + 30),
                Some(time / 30),
                "a step late"
            );
            assert_eq!(
                check(secret, code, time - 30),
                Some(time / 30),
                "a step early"
            );
            assert_eq!(check(secret, code, time + 60), None, "two steps late");
        }
        for bad in ["", "28708", "2870822", "28708a", "ABCDEF"] {
            assert_eq!(check(secret, bad, 59), None, "{bad}");
        }
    }

    #[test]
    fn sealed_secrets_open_only_for_their_user_and_key() {
        let keys = MfaKeys::new(&[1u8; 32]);
        let sealed = keys.seal("u1", b"a secret").unwrap();
        assert_ne!(
            keys.seal("u1", b"a secret").unwrap(),
            sealed,
            "a nonce each"
        );
        assert_eq!(keys.open("u1", &sealed).as_deref(), Some(&b"a secret"[..]));
        assert_eq!(keys.open("u2", &sealed), None, "another user's");
        assert_eq!(MfaKeys::new(&[2u8; 32]).open("u1", &sealed), None);
        let mut raw = B64.decode(&sealed).unwrap();
        raw[30] ^= 1;
        assert_eq!(keys.open("u1", &B64.encode(raw)), None, "a changed byte");
        assert_eq!(keys.open("u1", "short"), None);
        assert!(!format!("{keys:?}").contains('1'));
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_their_macs_ignore_case_and_dashes() {
        let codes = new_recovery_codes().unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
        assert!(codes.iter().all(|c| c.len() == 11 && &c[5..6] == "-"));
        let keys = MfaKeys::new(&[1u8; 32]);
        let h = keys.recovery_hash("u1", &codes[0]);
        assert_eq!(
            keys.recovery_hash("u1", &codes[0].to_uppercase().replace('-', " ")),
            h
        );
        assert_ne!(keys.recovery_hash("u2", &codes[0]), h, "bound to its user");
        assert_ne!(MfaKeys::new(&[2u8; 32]).recovery_hash("u1", &codes[0]), h);
    }

    #[test]
    fn the_uri_names_the_issuer_and_account_and_the_qr_is_svg() {
        let secret = new_secret().unwrap();
        let (base32, uri) = provisioning(&secret, "alice", "Accounts").unwrap();
        assert!(uri.starts_with("otpauth://totp/Accounts:alice?"), "{uri}");
        assert!(uri.contains(&format!("secret={base32}")) && uri.contains("issuer=Accounts"));
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.contains("<svg") && svg.ends_with("</svg>"), "{svg}");
    }
}
