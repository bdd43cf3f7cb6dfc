//! Password hashes made by other systems, as imported users bring them (`accounts
//! import-users`): read, bounded, and verified with their own algorithm. A right password
//! replaces such a hash with this service's argon2id at once (see
//! `accounts::session::check_user_password`), so each is verified at most once per user.
//!
//! Accepted as their libraries write them:
//! - bcrypt: `$2a$`, `$2b$`, `$2y$` (Python's `bcrypt`, passlib, Go, PHP, Supabase, Auth0);
//! - argon2: `$argon2id$` and `$argon2i$` PHC strings, any parameters within the ceiling
//!   (argon2-cffi, pwdlib, passlib);
//! - scrypt: `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>` (passlib's PHC form);
//! - PBKDF2-SHA256: `pbkdf2_sha256$<iterations>$<salt>$<hash>` (Django's form);
//! - Django's other hashers: `argon2$argon2id$...` (its PHC string after `argon2`) and
//!   `bcrypt_sha256$$2b$...` (bcrypt of the password's SHA-256, in hex).
//!
//! Parameters past a **ceiling** are refused at import (each login would cost seconds or more
//! memory than a function has: a way to exhaust it). Parameters under a **floor** (see
//! [`weak_reason`]) are imported but flagged: such a hash, stolen from the old system, is
//! cheap to attack, and the person should change the password (the first login replaces the
//! hash, not the password).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The stored "hash" of an account imported without one: no password matches it (a reset
/// link sets one). Not a PHC string, not any algorithm's output.
pub const NO_PASSWORD: &str = "!none";

/// bcrypt's cost: at least 10 (Auth0's and Supabase's), at most 14 (about a second a check).
pub const BCRYPT_MIN_COST: u32 = 10;
pub const BCRYPT_MAX_COST: u32 = 14;
/// PBKDF2-SHA256 iterations: at least 100,000, at most 3,000,000 (Django 6.0 uses 1,200,000).
pub const PBKDF2_MIN_ITERATIONS: u32 = 100_000;
pub const PBKDF2_MAX_ITERATIONS: u32 = 3_000_000;
/// argon2: memory at most 128 MiB (Django's default is 100 MiB; the functions that check
/// passwords have 1 GiB, two checks at once), passes at most 10, lanes at most 16; at least
/// OWASP's memory x passes (7 MiB x 5, ..., 19 MiB x 2: 35,840 KiB passes).
pub const ARGON2_MAX_M_KIB: u32 = 131_072;
pub const ARGON2_MAX_T: u32 = 10;
pub const ARGON2_MAX_P: u32 = 16;
pub const ARGON2_MIN_M_TIMES_T: u64 = 35_840;
/// scrypt: memory (128 r N bytes) at most 128 MiB (OWASP's N = 2^17, r = 8), N r p at most
/// 2^22; at least N r = 2^19 (N = 2^16, r = 8: passlib's default).
pub const SCRYPT_MAX_MEMORY_BYTES: u64 = 128 << 20;
pub const SCRYPT_MAX_WORK: u64 = 1 << 22;
pub const SCRYPT_MIN_WORK: u64 = 1 << 19;

/// A hash of another system, read and within bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Foreign {
    /// `sha256`: Django's `bcrypt_sha256`, bcrypt of the hex SHA-256 of the password.
    Bcrypt { cost: u32, sha256: bool },
    /// An argon2id or argon2i PHC string (any parameters but this service's own).
    Argon2 { m_kib: u32, t: u32, p: u32 },
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Django {
        iterations: u32,
        salt: String,
        hash: Vec<u8>,
    },
}

impl Foreign {
    /// The kind, as the import's summary and the events name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Foreign::Bcrypt { .. } => "bcrypt",
            Foreign::Argon2 { .. } => "argon2",
            Foreign::Scrypt { .. } => "scrypt",
            Foreign::Django { .. } => "pbkdf2_sha256",
        }
    }

    /// Why these parameters are under the floor; `None` when they are not.
    pub fn weak_reason(&self) -> Option<String> {
        match self {
            Foreign::Bcrypt { cost, .. } if *cost < BCRYPT_MIN_COST => {
                Some(format!("bcrypt cost {cost} is under {BCRYPT_MIN_COST}"))
            }
            Foreign::Argon2 { m_kib, t, .. }
                if u64::from(*m_kib) * u64::from(*t) < ARGON2_MIN_M_TIMES_T =>
            {
                Some(format!(
                    "argon2 memory x passes ({m_kib} KiB x {t}) is under {ARGON2_MIN_M_TIMES_T}"
                ))
            }
            Foreign::Scrypt { log_n, r, .. }
                if (1u64 << log_n) * u64::from(*r) < SCRYPT_MIN_WORK =>
            {
                Some(format!("scrypt N r (2^{log_n} x {r}) is under 2^19"))
            }
            Foreign::Django { iterations, .. } if *iterations < PBKDF2_MIN_ITERATIONS => Some(
                format!("PBKDF2 iterations {iterations} are under {PBKDF2_MIN_ITERATIONS}"),
            ),
            _ => None,
        }
    }
}

/// Reads a hash of another system: the hash, or why it is refused (a bad form, an unknown
/// algorithm, parameters past the ceiling). Never echoes the hash itself.
pub fn parse(stored: &str) -> Result<Foreign, String> {
    if stored.len() > 512 {
        return Err("the hash is longer than any accepted form".into());
    }
    let (bcrypt, sha256) = match stored.strip_prefix("bcrypt_sha256$") {
        Some(rest) => (rest, true),
        None => (stored, false),
    };
    if let Some(rest) = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|p| bcrypt.strip_prefix(p))
    {
        return parse_bcrypt(rest, sha256);
    }
    let phc = argon2_phc(stored);
    if phc.starts_with("$argon2id$") || phc.starts_with("$argon2i$") {
        return parse_argon2(phc);
    }
    if let Some(rest) = stored.strip_prefix("$scrypt$") {
        return parse_scrypt(rest);
    }
    if let Some(rest) = stored.strip_prefix("pbkdf2_sha256$") {
        return parse_django(rest);
    }
    Err("not a hash of a known form (bcrypt, argon2id, argon2i, scrypt, pbkdf2_sha256)".into())
}

/// The PHC string of an argon2 hash: Django's `argon2$argon2id$...` without its `argon2`.
fn argon2_phc(stored: &str) -> &str {
    stored
        .strip_prefix("argon2")
        .filter(|rest| rest.starts_with("$argon2"))
        .unwrap_or(stored)
}

fn parse_bcrypt(rest: &str, sha256: bool) -> Result<Foreign, String> {
    const ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let (cost, body) = rest
        .split_once('$')
        .ok_or("a bcrypt hash has the form $2b$<cost>$<53 characters>")?;
    let cost: u32 = (cost.len() == 2)
        .then(|| cost.parse().ok())
        .flatten()
        .ok_or("a bcrypt cost is two digits")?;
    if body.len() != 53 || !body.bytes().all(|b| ALPHABET.contains(&b)) {
        return Err("a bcrypt hash has 53 characters of salt and hash after its cost".into());
    }
    if !(4..=31).contains(&cost) {
        return Err(format!("bcrypt cost {cost} is not one bcrypt has"));
    }
    if cost > BCRYPT_MAX_COST {
        return Err(format!(
            "bcrypt cost {cost} is over the ceiling of {BCRYPT_MAX_COST}"
        ));
    }
    Ok(Foreign::Bcrypt { cost, sha256 })
}

fn parse_argon2(stored: &str) -> Result<Foreign, String> {
    use argon2::password_hash::phc::PasswordHash;
    let parsed = PasswordHash::new(stored).map_err(|_| "not a valid argon2 PHC string")?;
    let params = argon2::Params::try_from(&parsed).map_err(|_| "argon2 parameters out of range")?;
    let (m_kib, t, p) = (params.m_cost(), params.t_cost(), params.p_cost());
    if parsed.version.is_some_and(|v| v != 0x13) {
        return Err("only argon2 version 19 (0x13) is accepted".into());
    }
    if parsed.hash.is_none_or(|h| h.len() < 16) || parsed.salt.is_none() {
        return Err("an argon2 hash needs a salt and an output of 16 bytes or more".into());
    }
    if m_kib > ARGON2_MAX_M_KIB || t > ARGON2_MAX_T || p > ARGON2_MAX_P {
        return Err(format!(
            "argon2 parameters m={m_kib},t={t},p={p} are over the ceiling (m {ARGON2_MAX_M_KIB}, t {ARGON2_MAX_T}, p {ARGON2_MAX_P})"
        ));
    }
    Ok(Foreign::Argon2 { m_kib, t, p })
}

fn parse_scrypt(rest: &str) -> Result<Foreign, String> {
    const FORM: &str = "a scrypt hash has the form $scrypt$ln=<n>,r=<r>,p=<p>$<salt>$<hash>";
    let mut parts = rest.split('$');
    let (Some(params), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(FORM.into());
    };
    let mut ln = None;
    let mut r = None;
    let mut p = None;
    for pair in params.split(',') {
        let (k, v) = pair.split_once('=').ok_or(FORM)?;
        let v: u32 = v.parse().map_err(|_| FORM)?;
        match k {
            "ln" => ln = Some(v),
            "r" => r = Some(v),
            "p" => p = Some(v),
            _ => return Err(FORM.into()),
        }
    }
    let (Some(ln), Some(r), Some(p)) = (ln, r, p) else {
        return Err(FORM.into());
    };
    if !(1..=30).contains(&ln) || r == 0 || p == 0 {
        return Err("scrypt parameters out of range".into());
    }
    let n = 1u64 << ln;
    if 128 * u64::from(r) * n > SCRYPT_MAX_MEMORY_BYTES
        || n * u64::from(r) * u64::from(p) > SCRYPT_MAX_WORK
    {
        return Err(format!(
            "scrypt parameters ln={ln},r={r},p={p} are over the ceiling (128 MiB, N r p 2^22)"
        ));
    }
    let salt = decode_b64(salt).ok_or("a scrypt salt is base64")?;
    let hash = decode_b64(hash).ok_or("a scrypt hash is base64")?;
    if hash.len() < 16 || hash.len() > 64 || salt.is_empty() {
        return Err("a scrypt hash needs a salt and an output of 16 to 64 bytes".into());
    }
    Ok(Foreign::Scrypt {
        log_n: ln as u8,
        r,
        p,
        salt,
        hash,
    })
}

fn parse_django(rest: &str) -> Result<Foreign, String> {
    const FORM: &str = "Django's form is pbkdf2_sha256$<iterations>$<salt>$<base64 hash>";
    let mut parts = rest.split('$');
    let (Some(iterations), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(FORM.into());
    };
    let iterations: u32 = iterations.parse().map_err(|_| FORM)?;
    if iterations == 0 {
        return Err(FORM.into());
    }
    if iterations > PBKDF2_MAX_ITERATIONS {
        return Err(format!(
            "PBKDF2 iterations {iterations} are over the ceiling of {PBKDF2_MAX_ITERATIONS}"
        ));
    }
    if salt.is_empty() || salt.len() > 128 || !salt.is_ascii() {
        return Err("a Django salt is 1 to 128 ASCII characters".into());
    }
    let hash = STANDARD
        .decode(hash)
        .ok()
        .filter(|h| h.len() == 32)
        .ok_or("a Django PBKDF2-SHA256 hash is 32 bytes in base64")?;
    Ok(Foreign::Django {
        iterations,
        salt: salt.into(),
        hash,
    })
}

/// PHC base64 (no padding); padded base64 accepted too.
fn decode_b64(s: &str) -> Option<Vec<u8>> {
    STANDARD_NO_PAD
        .decode(s)
        .ok()
        .or_else(|| STANDARD.decode(s).ok())
}

/// Whether `password` is the one `stored` (whose reading is `foreign`) was made from.
pub fn verify(password: &str, stored: &str, foreign: &Foreign) -> bool {
    match foreign {
        // bcrypt reads the first 72 bytes, as the system that made the hash did.
        Foreign::Bcrypt { sha256: false, .. } => bcrypt::verify(password, stored).unwrap_or(false),
        Foreign::Bcrypt { sha256: true, .. } => {
            use sha2::Digest as _;
            let hex: String = Sha256::digest(password.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let hash = stored.strip_prefix("bcrypt_sha256$").unwrap_or(stored);
            bcrypt::verify(hex, hash).unwrap_or(false)
        }
        Foreign::Argon2 { .. } => {
            use argon2::password_hash::PasswordVerifier as _;
            use argon2::password_hash::phc::PasswordHash;
            PasswordHash::new(argon2_phc(stored)).is_ok_and(|parsed| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        }
        Foreign::Scrypt {
            log_n,
            r,
            p,
            salt,
            hash,
        } => {
            let Ok(params) = scrypt::Params::new(*log_n, *r, *p) else {
                return false;
            };
            let mut out = vec![0u8; hash.len()];
            scrypt::scrypt(password.as_bytes(), salt, &params, &mut out).is_ok()
                && bool::from(out.ct_eq(hash))
        }
        Foreign::Django {
            iterations,
            salt,
            hash,
        } => {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(
                password.as_bytes(),
                salt.as_bytes(),
                *iterations,
                &mut out,
            );
            out.ct_eq(hash.as_slice()).into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_read_and_bounded() {
        let bcrypt = bcrypt::hash_with_result("pw", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        assert_eq!(
            parse(&bcrypt),
            Ok(Foreign::Bcrypt {
                cost: 4,
                sha256: false
            })
        );
        assert!(parse(&bcrypt).unwrap().weak_reason().is_some());
        assert!(verify("pw", &bcrypt, &parse(&bcrypt).unwrap()));
        assert!(!verify("pw2", &bcrypt, &parse(&bcrypt).unwrap()));
        let costly = format!("$2b$15${}", "a".repeat(53));
        assert!(parse(&costly).unwrap_err().contains("ceiling"));
        assert!(parse("$2b$10$short").is_err());
        assert!(parse("$2c$10$aaaa").is_err());
        // Django's own test vector (django/tests/auth_tests/test_hashers.py).
        let django = "pbkdf2_sha256$1500000$seasalt$P4UiMPVduVWIe/jw7RXKSTmAnMVmPWjbhKnLwLNTfKo=";
        let read = parse(django).unwrap();
        assert!(read.weak_reason().is_none());
        assert!(
            parse("pbkdf2_sha256$3000001$salt$P4UiMPVduVWIe/jw7RXKSTmAnMVmPWjbhKnLwLNTfKo=")
                .is_err()
        );
        assert!(parse("pbkdf2_sha256$1000$salt$AAAA").is_err());
        assert!(parse("md5$salt$abc").is_err());
        assert!(parse("$argon2d$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA").is_err());
        assert!(
            parse("$argon2id$v=19$m=262144,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
                .unwrap_err()
                .contains("ceiling")
        );
        assert!(parse("$scrypt$ln=18,r=8,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA").is_err());
        assert!(parse("$scrypt$ln=17,r=8,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA").is_ok());
    }
}
