//! Passwords: argon2id (m = 19456 KiB, t = 2, p = 1, OWASP's recommendation) as PHC strings,
//! hashed on a fixed pool of worker threads that reuse their argon2 memory (so a burst of
//! logins neither stalls the executor nor takes 19 MiB per request), and a strength check.

use std::sync::{Arc, Mutex, OnceLock, mpsc};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A hash of a random password nobody knows, with the same parameters as real hashes: verified
/// when the login name is unknown, so that case costs what a wrong password costs. Not a secret.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Dj3Rha5wM1d7kkxWJLAlIQ$j2cwM9rdKvAeEQm9vYbRgaEZTuWsBHYBIZHb6R6H1b0";

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes synchronously. Prefer [`Hasher::hash`] in async code.
pub fn hash_blocking(password: &str) -> Result<String, ApiError> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("argon2 hash: {e}")))
}

/// Verifies synchronously; a malformed stored hash counts as a mismatch (and is logged).
pub fn verify_blocking(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "stored password hash is not a valid PHC string");
            false
        }
    }
}

/// The PHC prefix of every hash this service makes.
const PHC_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";
const SALT_BYTES: usize = 16;
const OUTPUT_BYTES: usize = 32;

/// Hashes into `blocks` (the 19 MiB of argon2 memory, allocated once per worker and reused).
fn hash_with(password: &str, blocks: &mut [Block]) -> Result<String, ApiError> {
    let mut salt = [0u8; SALT_BYTES];
    getrandom::fill(&mut salt).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    let mut out = [0u8; OUTPUT_BYTES];
    argon2()
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
        .map_err(|e| ApiError::Internal(format!("argon2 hash: {e}")))?;
    Ok(format!(
        "{PHC_PREFIX}{}${}",
        B64.encode(salt),
        B64.encode(out)
    ))
}

/// Whether `stored` is a hash this service makes (argon2id at its parameters): anything else
/// (an imported hash) is replaced at the next right password.
pub fn is_current(stored: &str) -> bool {
    stored.starts_with(PHC_PREFIX)
}

/// Verifies `password` against any stored hash: this service's own into `blocks`; an imported
/// one ([`crate::foreign_hash`]) with its algorithm, and then the dummy hash as well, so that
/// no check, right or wrong, of any kind costs less than an argon2id check. An account without
/// a password ([`crate::foreign_hash::NO_PASSWORD`]) or with a hash that cannot be read costs
/// the same and matches nothing.
fn verify_stored(password: &str, stored: &str, blocks: &mut [Block]) -> bool {
    if is_current(stored) {
        return verify_with(password, stored, blocks);
    }
    let matched = match crate::foreign_hash::parse(stored) {
        Ok(foreign) => crate::foreign_hash::verify(password, stored, &foreign),
        Err(why) => {
            if stored != crate::foreign_hash::NO_PASSWORD {
                tracing::error!(why = %why, "a stored password hash cannot be read");
            }
            false
        }
    };
    let _ = verify_with(password, DUMMY_HASH, blocks);
    matched
}

/// Verifies into `blocks` a hash with this service's parameters; any other valid PHC string
/// goes through the allocating path.
fn verify_with(password: &str, phc: &str, blocks: &mut [Block]) -> bool {
    let parts = phc
        .strip_prefix(PHC_PREFIX)
        .and_then(|rest| rest.split_once('$'))
        .and_then(|(salt, hash)| Some((B64.decode(salt).ok()?, B64.decode(hash).ok()?)));
    let Some((salt, expected)) = parts.filter(|(_, h)| h.len() == OUTPUT_BYTES) else {
        return verify_blocking(password, phc);
    };
    let mut out = [0u8; OUTPUT_BYTES];
    if argon2()
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
        .is_err()
    {
        return false;
    }
    out.ct_eq(expected.as_slice()).into()
}

type Job = Box<dyn FnOnce(&mut [Block]) + Send>;

/// Runs argon2 off the async executor on a fixed pool of threads, one per core, each owning its
/// 19 MiB of argon2 memory for good: no allocation (and no page faults) per hash, memory bounded
/// at one block set per core however many logins queue up, and the queue itself bounds how
/// many hashes run at once. The threads start with the first hash: a function that never
/// hashes never starts them (nor links their code).
#[derive(Clone, Default)]
pub struct Hasher {
    jobs: Arc<OnceLock<Mutex<mpsc::Sender<Job>>>>,
}

fn start_workers() -> Mutex<mpsc::Sender<Job>> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..cores {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                let mut blocks: Vec<Block> = Vec::new();
                loop {
                    // The lock is held only while waiting for a job, not while hashing.
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return }; // every Hasher dropped
                    if blocks.is_empty() {
                        blocks = vec![Block::new(); argon2().params().block_count()];
                    }
                    job(&mut blocks);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start an argon2 worker");
        }
    }
    Mutex::new(tx)
}

impl Hasher {
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |blocks| {
            let _ = done.send(f(blocks));
        });
        self.jobs
            .get_or_init(start_workers)
            .lock()
            .map_err(|_| ApiError::Internal("hasher poisoned".into()))?
            .send(job)
            .map_err(|_| ApiError::Internal("no argon2 worker".into()))?;
        result
            .await
            .map_err(|_| ApiError::Internal("argon2 worker gone".into()))
    }

    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let password = password.to_string();
        self.run(move |blocks| hash_with(&password, blocks)).await?
    }

    /// Checks `password`'s strength ([`weakness`], with the account's `username` and `email`)
    /// and, when it is strong enough, hashes it: both on a hashing thread, in one job, so
    /// zxcvbn's matching (and, on a cold start, the building of its dictionaries) stays off the
    /// async executor too. A weak password is `ApiError::WeakPassword`, with no hash computed.
    pub async fn hash_if_strong(
        &self,
        password: &str,
        username: &str,
        email: &str,
    ) -> Result<String, ApiError> {
        let (password, username, email) = (
            password.to_string(),
            username.to_string(),
            email.to_string(),
        );
        self.run(move |blocks| {
            let started = std::time::Instant::now();
            let weak = weakness(&password, &username, &email);
            let checked = started.elapsed();
            let hashed = match weak {
                Some(why) => Err(ApiError::WeakPassword(why)),
                None => hash_with(&password, blocks),
            };
            tracing::debug!(
                check_ms = crate::telemetry::ms(checked),
                hash_ms = crate::telemetry::ms(started.elapsed() - checked),
                "password checked and hashed"
            );
            hashed
        })
        .await?
    }

    /// Verifies `password` against the stored hash `phc` (this service's own or an imported
    /// one: [`verify_stored`]), or against [`DUMMY_HASH`] when there is no user, so both cases
    /// take the same time. Always `false` without a user.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool, ApiError> {
        let password = password.to_string();
        let (phc, real) = match phc {
            Some(p) => (p.to_string(), true),
            None => (DUMMY_HASH.to_string(), false),
        };
        let matched = self
            .run(move |blocks| verify_stored(&password, &phc, blocks))
            .await?;
        Ok(matched && real)
    }
}

/// Why a password is refused, or `None` when it is strong enough. Checks the length bounds
/// (counted in characters), then zxcvbn (score 3 or more: over 10^10 guesses) with the username
/// and the email's local part as known words, and refuses outright a password that contains
/// either of them.
pub fn weakness(password: &str, username: &str, email: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Some(format!("use at least {MIN_PASSWORD_CHARS} characters."));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Some(format!("use at most {MAX_PASSWORD_CHARS} characters."));
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    let name = username.to_lowercase();
    for word in [&name, &local] {
        if word.chars().count() >= 3 && lower.contains(word.as_str()) {
            return Some("it must not contain your username or email address.".into());
        }
    }
    // zxcvbn's matching grows quickly with length; past 100 characters the prefix decides.
    let probe: String = password.chars().take(100).collect();
    let entropy = zxcvbn::zxcvbn(&probe, &[&name, &local, &email.to_lowercase()]);
    if (entropy.score() as u8) < (zxcvbn::Score::Three as u8) {
        let hint = entropy
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| format!("{w}."))
            .unwrap_or_else(|| "it is too easy to guess.".into());
        return Some(hint);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_the_owasp_parameters_and_verify() {
        let h = hash_blocking("correct horse battery staple").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_blocking("correct horse battery staple", &h));
        assert!(!verify_blocking("correct horse battery stapler", &h));
        assert!(!verify_blocking("x", "not a phc string"));
    }

    #[test]
    fn the_dummy_hash_has_the_real_parameters() {
        let real = hash_blocking("anything at all").unwrap();
        let prefix = |s: &str| s.splitn(5, '$').take(4).collect::<Vec<_>>().join("$");
        assert_eq!(prefix(DUMMY_HASH), prefix(&real));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[tokio::test]
    async fn the_pool_and_the_crate_agree_both_ways() {
        let h = Hasher::default();
        let ours = h.hash("correct horse battery staple").await.unwrap();
        assert!(ours.starts_with(PHC_PREFIX));
        assert!(PasswordHash::new(&ours).is_ok());
        assert!(verify_blocking("correct horse battery staple", &ours));
        assert!(!verify_blocking("correct horse battery stapler", &ours));
        let theirs = hash_blocking("correct horse battery staple").unwrap();
        let real = Some(theirs.as_str());
        assert!(
            h.verify("correct horse battery staple", real)
                .await
                .unwrap()
        );
        assert!(
            !h.verify("correct horse battery stapler", real)
                .await
                .unwrap()
        );
        assert_ne!(
            h.hash("same").await.unwrap(),
            h.hash("same").await.unwrap(),
            "salted"
        );
        // Other parameters take the allocating path, and still verify.
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw-other-params")
        .unwrap()
        .to_string();
        assert!(h.verify("pw-other-params", Some(&other)).await.unwrap());
        assert!(
            !h.verify(
                "pw-other-params",
                Some("$argon2id$v=19$m=19456,t=2,p=1$bad$bad")
            )
            .await
            .unwrap()
        );
    }

    #[tokio::test]
    async fn verify_without_a_user_is_always_false() {
        let h = Hasher::default();
        assert!(!h.verify("whatever", None).await.unwrap());
    }

    #[test]
    fn long_passwords_are_not_truncated() {
        let long: String = "x".repeat(255) + "a";
        let h = hash_blocking(&long).unwrap();
        assert!(verify_blocking(&long, &h));
        assert!(!verify_blocking(&("x".repeat(255) + "b"), &h));
    }

    #[test]
    fn weak_passwords_are_named() {
        assert!(weakness("short", "alice", "alice@example.com").is_some());
        assert!(weakness("password", "alice", "alice@example.com").is_some());
        assert!(weakness("password123", "alice", "alice@example.com").is_some());
        assert!(weakness("Alice-2026-rocks!!", "alice", "a@example.com").is_some());
        assert!(weakness("wonderland.liddell!", "bob", "liddell@example.com").is_some());
        assert!(weakness(&"y".repeat(257), "alice", "alice@example.com").is_some());
        assert_eq!(
            weakness("correct horse battery staple", "alice", "alice@example.com"),
            None
        );
        assert_eq!(weakness("Zq8#vL2!mWp4", "alice", "alice@example.com"), None);
        let long: String = (0..256)
            .map(|i| char::from(b'!' + (i * 7 % 90) as u8))
            .collect();
        assert_eq!(weakness(&long, "alice", "alice@example.com"), None);
    }
}
