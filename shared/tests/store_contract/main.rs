//! One contract, two stores: every test here runs against the embedded SQLite store and against
//! the DynamoDB store (on the moto server that scripts/test starts).

use std::sync::Arc;

use futures::future::join_all;
use serde_json::json;
use shared::config::Config;
use shared::store::dynamodb::DynamoStore;
use shared::store::sqlite::SqliteStore;
use shared::store::{
    ActivationOutcome, ActivationRecord, EmailChangeOutcome, EmailChangeRecord, LoginAttempt,
    LoginFailures, MfaChallenge, ResetRecord, ResetTokenState, Session, StoreError, TotpFactor,
    UserStore, UserUpdate,
};
use shared::user::{Role, UserRecord};

const DAY: i64 = 24 * 3600;
const NOW: i64 = 1_800_000_000;

struct Subject {
    store: Arc<dyn UserStore>,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("accounts.db")).unwrap();
    Subject {
        store: Arc::new(store),
        _dir: Some(dir),
    }
}

/// Whether the moto server is there. Plain `cargo test` has none: the DynamoDB tests are then
/// skipped, with one line (straight to the terminal, past the harness's capture) saying how to
/// run them; scripts/test sets `TEST_REQUIRE_ALL=1`, and there a missing one fails them.
fn moto_is_there() -> bool {
    use std::io::Write;
    static ONCE: std::sync::Once = std::sync::Once::new();
    if std::env::var_os("MOTO_ENDPOINT").is_some() {
        return true;
    }
    let why = "the DynamoDB store's tests skipped: MOTO_ENDPOINT is not set (scripts/test \
               starts a moto server and runs them)";
    assert!(
        std::env::var_os("TEST_REQUIRE_ALL").is_none(),
        "TEST_REQUIRE_ALL is set: {why}"
    );
    ONCE.call_once(|| {
        let _ = writeln!(std::io::stderr(), "note: {why}");
    });
    false
}

/// A fresh table on the moto server: the SDK configuration, the table's name, its store.
async fn moto_table(prefix: &str) -> (aws_config::SdkConfig, String, DynamoStore) {
    moto_table_at(&moto_endpoint(), prefix).await
}

fn moto_endpoint() -> String {
    std::env::var("MOTO_ENDPOINT")
        .expect("MOTO_ENDPOINT is not set: run the tests with scripts/test, which starts moto")
}

/// As [`moto_table`], through `endpoint` (a proxy in front of moto).
async fn moto_table_at(
    endpoint: &str,
    prefix: &str,
) -> (aws_config::SdkConfig, String, DynamoStore) {
    let endpoint = endpoint.to_string();
    let table = format!("{prefix}-{}", uuid::Uuid::new_v4());
    let config = Config::from_lookup(|k| match k {
        "STORE" => Some("dynamodb".into()),
        "TABLE_NAME" => Some(table.clone()),
        "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
        "AWS_REGION" => Some("us-east-1".into()),
        _ => None,
    })
    .unwrap();
    let sdk = shared::aws::sdk_config(&config).await;
    let store = DynamoStore::new(&sdk, table.clone());
    store.create_table().await.unwrap();
    (sdk, table, store)
}

async fn dynamodb() -> Subject {
    Subject {
        store: Arc::new(moto_table("contract").await.2),
        _dir: None,
    }
}

/// Each contract test, once per store.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite_store {
            $(#[tokio::test] async fn $name() { super::$name(super::sqlite().await.store).await })*
        }
        mod dynamodb_store {
            $(#[tokio::test] async fn $name() {
                if super::moto_is_there() {
                    super::$name(super::dynamodb().await.store).await
                }
            })*
        }
    };
}

fn user(id: &str, username: &str, email: &str) -> UserRecord {
    UserRecord {
        user_id: id.into(),
        username: username.into(),
        email: email.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        role: Role::User,
        activated: false,
        data: json!({"name": "N", "nested": {"a": [1, null, "ü"]}})
            .as_object()
            .unwrap()
            .clone(),
        created_at: NOW,
        updated_at: NOW,
        pending_until: Some(NOW + DAY),
        auth_epoch: 0,
    }
}

fn token(hash: &str, expires_at: i64) -> ActivationRecord {
    ActivationRecord {
        token_hash: hash.into(),
        expires_at,
    }
}

async fn create(store: &Arc<dyn UserStore>, id: &str, username: &str, email: &str) -> UserRecord {
    let u = user(id, username, email);
    store
        .create_user(&u, &token(&format!("t-{id}"), NOW + DAY), NOW)
        .await
        .unwrap();
    u
}

async fn activated(store: &Arc<dyn UserStore>, id: &str, username: &str) -> UserRecord {
    create(store, id, username, &format!("{username}@example.com")).await;
    match store.activate(&format!("t-{id}"), NOW + 1).await.unwrap() {
        ActivationOutcome::Activated(u) => u,
        other => panic!("{other:?}"),
    }
}

fn session(sid: &str, user_id: &str, epoch: i64, created_at: i64) -> Session {
    Session {
        session_id: sid.into(),
        user_id: user_id.into(),
        created_at,
        expires_at: created_at + DAY,
        epoch,
        refresh_gen: 0,
        refreshed_at: created_at,
    }
}

async fn live(store: &Arc<dyn UserStore>, user_id: &str, sid: &str, now: i64) -> bool {
    store
        .authenticate(user_id, sid, now)
        .await
        .unwrap()
        .is_some()
}

/// A reset token of the user `user_id` made by [`activated`] as `username`.
fn reset(hash: &str, user_id: &str, username: &str, epoch: i64, expires_at: i64) -> ResetRecord {
    ResetRecord {
        token_hash: hash.into(),
        user_id: user_id.into(),
        email: format!("{username}@example.com"),
        epoch,
        expires_at,
    }
}

/// An address change made under auth epoch 0.
fn change(hash: &str, user_id: &str, new_email: &str, expires_at: i64) -> EmailChangeRecord {
    EmailChangeRecord {
        token_hash: hash.into(),
        user_id: user_id.into(),
        new_email: new_email.into(),
        epoch: 0,
        expires_at,
    }
}

fn token_for(round: usize) -> ActivationRecord {
    token(&format!("act-{round}"), NOW + DAY)
}

/// Every username of every page, following the cursor from the start.
async fn all_pages(
    store: &Arc<dyn UserStore>,
    prefix: Option<&str>,
    limit: usize,
    now: i64,
) -> Vec<String> {
    let mut names = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..100 {
        let page = store
            .list_users(after.as_deref(), prefix, limit, now)
            .await
            .unwrap();
        assert!(page.users.len() <= limit);
        names.extend(page.users.into_iter().map(|u| u.username));
        match page.next_after {
            Some(next) => after = Some(next),
            None => return names,
        }
    }
    panic!("more than 100 pages");
}

// The contract by concern, as the store's traits are split (after the macro they use).
mod activations;
mod clients;
mod credentials;
mod email_codes;
mod events;
mod factors;
mod grants;
mod passkeys;
mod retries;
mod sessions;
mod throttles;
mod upkeep;
mod users;
