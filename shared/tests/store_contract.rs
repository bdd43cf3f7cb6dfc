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
    LoginFailures, ResetRecord, ResetTokenState, Session, StoreError, UserStore, UserUpdate,
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
    let endpoint = std::env::var("MOTO_ENDPOINT")
        .expect("MOTO_ENDPOINT is not set: run the tests with scripts/test, which starts moto");
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

contract!(
    users_are_found_by_id_username_and_email_case_insensitively,
    names_are_unique_and_a_refused_user_leaves_nothing_behind,
    racing_creates_for_one_name_give_exactly_one_user,
    a_pending_account_expires_and_frees_its_names,
    activation_is_single_use_and_knows_expiry,
    racing_clicks_activate_once,
    resend_adds_a_token_only_to_a_waiting_account,
    sessions_live_with_their_user,
    updates_replace_data_and_deactivation_ends_sessions,
    deletion_frees_names_and_discard_spares_activated_users,
    login_attempts_are_counted_before_they_are_judged,
    attempts_racing_after_an_unlock_take_one_guess,
    sessions_are_listed_and_end_together,
    a_password_change_is_conditional_and_keeps_one_session,
    reset_tokens_work_once_and_die_with_the_epoch,
    racing_resets_use_a_token_once,
    a_reset_link_dies_when_the_address_changes,
    a_pending_address_change_dies_with_the_epoch,
    an_email_change_moves_the_claim_atomically,
    a_confirmation_racing_a_sign_up_leaves_one_owner,
    a_deletion_racing_an_address_change_frees_both_addresses,
    the_mail_throttle_allows_one_a_minute_and_ten_a_day,
    users_are_listed_in_pages_by_username_and_filtered_by_address,
);

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

async fn users_are_found_by_id_username_and_email_case_insensitively(store: Arc<dyn UserStore>) {
    let u = create(&store, "u1", "Alice", "Alice@Example.com").await;
    assert_eq!(
        store.find_user_by_id("u1", NOW).await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        store.find_user_by_username("aLICE", NOW).await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        store
            .find_user_by_email("alice@example.COM", NOW)
            .await
            .unwrap(),
        Some(u)
    );
    assert_eq!(store.find_user_by_username("bob", NOW).await.unwrap(), None);
    assert_eq!(
        store
            .find_user_by_email("bob@example.com", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.find_user_by_id("nope", NOW).await.unwrap(), None);
}

async fn names_are_unique_and_a_refused_user_leaves_nothing_behind(store: Arc<dyn UserStore>) {
    create(&store, "u1", "alice", "alice@example.com").await;
    let dup_name = user("u2", "ALICE", "other@example.com");
    assert_eq!(
        store
            .create_user(&dup_name, &token("t-u2", NOW + DAY), NOW)
            .await,
        Err(StoreError::UsernameTaken)
    );
    let dup_email = user("u3", "carol", "ALICE@example.com");
    assert_eq!(
        store
            .create_user(&dup_email, &token("t-u3", NOW + DAY), NOW)
            .await,
        Err(StoreError::EmailTaken)
    );
    // Nothing of the refused users was kept: their other name, id and token are free.
    assert_eq!(
        store
            .find_user_by_email("other@example.com", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.find_user_by_username("carol", NOW).await.unwrap(),
        None
    );
    assert_eq!(store.find_user_by_id("u3", NOW).await.unwrap(), None);
    assert_eq!(
        store.activate("t-u3", NOW).await.unwrap(),
        ActivationOutcome::Unknown
    );
    create(&store, "u4", "carol", "other@example.com").await;
}

async fn racing_creates_for_one_name_give_exactly_one_user(store: Arc<dyn UserStore>) {
    let by_name = (0..8).map(|i| {
        let store = store.clone();
        async move {
            let u = user(&format!("n{i}"), "racer", &format!("r{i}@example.com"));
            store
                .create_user(&u, &token(&format!("tn{i}"), NOW + DAY), NOW)
                .await
        }
    });
    let results = join_all(by_name).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(StoreError::UsernameTaken))
    );
    let by_email = (0..8).map(|i| {
        let store = store.clone();
        async move {
            let u = user(&format!("e{i}"), &format!("racer{i}"), "same@example.com");
            store
                .create_user(&u, &token(&format!("te{i}"), NOW + DAY), NOW)
                .await
        }
    });
    let results = join_all(by_email).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(StoreError::EmailTaken))
    );
}

async fn a_pending_account_expires_and_frees_its_names(store: Arc<dyn UserStore>) {
    create(&store, "u1", "dave", "dave@example.com").await;
    let later = NOW + DAY;
    assert!(
        store
            .find_user_by_username("dave", later - 1)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.find_user_by_username("dave", later).await.unwrap(),
        None
    );
    assert_eq!(store.find_user_by_id("u1", later).await.unwrap(), None);
    let again = UserRecord {
        pending_until: Some(later + DAY),
        ..user("u2", "Dave", "DAVE@example.com")
    };
    store
        .create_user(&again, &token("t-u2", later + DAY), later)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_user_by_username("dave", later)
            .await
            .unwrap()
            .unwrap()
            .user_id,
        "u2"
    );
    assert_eq!(
        store
            .find_user_by_email("dave@example.com", later)
            .await
            .unwrap()
            .unwrap()
            .user_id,
        "u2"
    );
    // The old link is expired (or gone), never an activation of the new account.
    let old = store.activate("t-u1", later).await.unwrap();
    assert!(
        matches!(old, ActivationOutcome::Expired | ActivationOutcome::Unknown),
        "{old:?}"
    );
    assert!(
        !store
            .find_user_by_id("u2", later)
            .await
            .unwrap()
            .unwrap()
            .activated
    );
}

async fn activation_is_single_use_and_knows_expiry(store: Arc<dyn UserStore>) {
    create(&store, "u1", "erin", "erin@example.com").await;
    let ActivationOutcome::Activated(u) = store.activate("t-u1", NOW + 5).await.unwrap() else {
        panic!("not activated");
    };
    assert!(u.activated && u.pending_until.is_none());
    assert_eq!(u.updated_at, NOW + 5);
    assert!(matches!(
        store.activate("t-u1", NOW + 6).await.unwrap(),
        ActivationOutcome::AlreadyActivated(_)
    ));
    // Activated accounts no longer expire.
    assert!(
        store
            .find_user_by_username("erin", NOW + 10 * DAY)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.activate("never", NOW).await.unwrap(),
        ActivationOutcome::Unknown
    );
    create(&store, "u2", "frank", "frank@example.com").await;
    assert_eq!(
        store.activate("t-u2", NOW + DAY).await.unwrap(),
        ActivationOutcome::Expired
    );
    assert!(
        !store
            .find_user_by_id("u2", NOW)
            .await
            .unwrap()
            .unwrap()
            .activated
    );
}

async fn racing_clicks_activate_once(store: Arc<dyn UserStore>) {
    create(&store, "u1", "gina", "gina@example.com").await;
    let clicks = (0..6).map(|_| {
        let store = store.clone();
        async move { store.activate("t-u1", NOW + 1).await.unwrap() }
    });
    let outcomes = join_all(clicks).await;
    let activated = outcomes
        .iter()
        .filter(|o| matches!(o, ActivationOutcome::Activated(_)))
        .count();
    assert_eq!(activated, 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(
        o,
        ActivationOutcome::Activated(_) | ActivationOutcome::AlreadyActivated(_)
    )));
}

async fn resend_adds_a_token_only_to_a_waiting_account(store: Arc<dyn UserStore>) {
    create(&store, "u1", "hank", "hank@example.com").await;
    assert!(
        store
            .add_activation_token("u1", &token("fresh", NOW + 2 * DAY), NOW + DAY - 10)
            .await
            .unwrap()
    );
    // The window moved with the new link: still there after the first link's expiry.
    assert!(
        store
            .find_user_by_username("hank", NOW + DAY + 10)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.activate("t-u1", NOW + DAY + 10).await.unwrap(),
        ActivationOutcome::Expired
    );
    assert!(matches!(
        store.activate("fresh", NOW + DAY + 10).await.unwrap(),
        ActivationOutcome::Activated(_)
    ));
    assert!(
        !store
            .add_activation_token("u1", &token("late", NOW + 3 * DAY), NOW + DAY + 20)
            .await
            .unwrap()
    );
    assert_eq!(
        store.activate("late", NOW + DAY + 30).await.unwrap(),
        ActivationOutcome::Unknown
    );
    assert!(
        !store
            .add_activation_token("nobody", &token("x", NOW + DAY), NOW)
            .await
            .unwrap()
    );
    // An account whose window has passed gets no new link.
    create(&store, "u2", "ivy", "ivy@example.com").await;
    assert!(
        !store
            .add_activation_token("u2", &token("y", NOW + 3 * DAY), NOW + DAY)
            .await
            .unwrap()
    );
}

async fn sessions_live_with_their_user(store: Arc<dyn UserStore>) {
    let u = activated(&store, "u1", "jack").await;
    let other = activated(&store, "u2", "kate").await;
    let s = Session {
        session_id: "s1".into(),
        user_id: u.user_id.clone(),
        created_at: NOW,
        expires_at: NOW + DAY,
        epoch: 0,
    };
    assert!(store.create_session(&s, NOW).await.unwrap());
    let (session, found) = store.authenticate("u1", "s1", NOW).await.unwrap().unwrap();
    assert_eq!((session, found.username.as_str()), (s.clone(), "jack"));
    assert!(
        store
            .authenticate(&other.user_id, "s1", NOW)
            .await
            .unwrap()
            .is_none(),
        "another user's"
    );
    assert!(
        store
            .authenticate("u1", "nope", NOW)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .authenticate("u1", "s1", NOW + DAY)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    let orphan = Session {
        session_id: "s9".into(),
        user_id: "nobody".into(),
        created_at: NOW,
        expires_at: NOW + DAY,
        epoch: 0,
    };
    assert!(
        !store.create_session(&orphan, NOW).await.unwrap(),
        "no session for a missing user"
    );
    assert!(
        store
            .authenticate("nobody", "s9", NOW)
            .await
            .unwrap()
            .is_none()
    );
    store.end_session("u1", "s1").await.unwrap();
    assert!(
        store.authenticate("u1", "s1", NOW).await.unwrap().is_none(),
        "ended"
    );
    for sid in ["s2", "s3"] {
        let s = Session {
            session_id: sid.into(),
            user_id: "u1".into(),
            created_at: NOW,
            expires_at: NOW + DAY,
            epoch: 0,
        };
        assert!(store.create_session(&s, NOW).await.unwrap());
    }
    assert!(store.delete_user("u1").await.unwrap());
    for sid in ["s2", "s3"] {
        assert!(
            store.authenticate("u1", sid, NOW).await.unwrap().is_none(),
            "user deleted"
        );
    }
}

async fn updates_replace_data_and_deactivation_ends_sessions(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "liam").await;
    let s = Session {
        session_id: "s1".into(),
        user_id: "u1".into(),
        created_at: NOW,
        expires_at: NOW + DAY,
        epoch: 0,
    };
    assert!(store.create_session(&s, NOW).await.unwrap());
    let data = json!({"z": 1, "a": {"deep": [true, null]}, "name": "Liam"})
        .as_object()
        .unwrap()
        .clone();
    let up = UserUpdate {
        data: data.clone(),
        role: Some(Role::Admin),
        activated: None,
    };
    let u = store
        .update_user("u1", &up, NOW + 7)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (u.data.clone(), u.role, u.updated_at),
        (data.clone(), Role::Admin, NOW + 7)
    );
    let stored = store.find_user_by_id("u1", NOW + 8).await.unwrap().unwrap();
    assert_eq!(stored, u);
    assert_eq!(
        stored.data.keys().collect::<Vec<_>>(),
        vec!["z", "a", "name"],
        "order kept"
    );
    assert!(
        store
            .authenticate("u1", "s1", NOW + 8)
            .await
            .unwrap()
            .is_some()
    );
    let off = UserUpdate {
        data,
        role: None,
        activated: Some(false),
    };
    assert!(
        !store
            .update_user("u1", &off, NOW + 9)
            .await
            .unwrap()
            .unwrap()
            .activated
    );
    assert!(
        store
            .authenticate("u1", "s1", NOW + 10)
            .await
            .unwrap()
            .is_none()
    );
    let s2 = Session {
        session_id: "s2".into(),
        user_id: "u1".into(),
        created_at: NOW,
        expires_at: NOW + DAY,
        epoch: 0,
    };
    assert!(
        !store.create_session(&s2, NOW + 10).await.unwrap(),
        "no session while deactivated"
    );
    // The spent link does not bring it back.
    assert!(matches!(
        store.activate("t-u1", NOW + 11).await.unwrap(),
        ActivationOutcome::AlreadyActivated(_)
    ));
    assert!(
        !store
            .find_user_by_id("u1", NOW + 12)
            .await
            .unwrap()
            .unwrap()
            .activated
    );
    assert_eq!(store.update_user("nobody", &up, NOW).await.unwrap(), None);
    let made = store
        .set_role("LIAM", Role::User, NOW + 13)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(made.role, Role::User);
    assert_eq!(
        store.set_role("nobody", Role::Admin, NOW).await.unwrap(),
        None
    );

    // An admin activating a pending account: it stops expiring.
    create(&store, "u2", "mia", "mia@example.com").await;
    let on = UserUpdate {
        data: Default::default(),
        role: None,
        activated: Some(true),
    };
    store
        .update_user("u2", &on, NOW + 1)
        .await
        .unwrap()
        .unwrap();
    let mia = store
        .find_user_by_username("mia", NOW + 5 * DAY)
        .await
        .unwrap()
        .unwrap();
    assert!(mia.activated);
}

async fn deletion_frees_names_and_discard_spares_activated_users(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "noah").await;
    assert!(store.delete_user("u1").await.unwrap());
    assert!(!store.delete_user("u1").await.unwrap());
    assert_eq!(
        store.find_user_by_username("noah", NOW).await.unwrap(),
        None
    );
    create(&store, "u2", "NOAH", "noah@example.com").await;

    store.discard_unactivated_user("u2").await.unwrap();
    assert_eq!(store.find_user_by_id("u2", NOW).await.unwrap(), None);
    create(&store, "u3", "noah", "noah@example.com").await;
    store.activate("t-u3", NOW).await.unwrap();
    store.discard_unactivated_user("u3").await.unwrap();
    assert!(
        store.find_user_by_id("u3", NOW).await.unwrap().is_some(),
        "activated: kept"
    );
}

async fn login_attempts_are_counted_before_they_are_judged(store: Arc<dyn UserStore>) {
    let key = "u:olive";
    let taken = |n: u32, at: i64| {
        LoginAttempt::Taken(LoginFailures {
            count: n,
            last_failure: at,
        })
    };
    // Five free attempts (each counted until a success clears them), then 1 s, 2 s, ...
    for i in 1..=5 {
        assert_eq!(
            store.take_login_attempt(key, NOW).await.unwrap(),
            taken(i, NOW)
        );
    }
    assert_eq!(
        store.take_login_attempt(key, NOW).await.unwrap(),
        LoginAttempt::Locked(1)
    );
    assert_eq!(
        store.take_login_attempt(key, NOW + 1).await.unwrap(),
        taken(6, NOW + 1)
    );
    assert_eq!(
        store.take_login_attempt(key, NOW + 2).await.unwrap(),
        LoginAttempt::Locked(1)
    );
    assert_eq!(
        store.take_login_attempt(key, NOW + 3).await.unwrap(),
        taken(7, NOW + 3)
    );
    // That attempt proved wrong two seconds later: the 4 s lock runs from then.
    store.record_failed_attempt(key, NOW + 5).await.unwrap();
    store.record_failed_attempt(key, NOW + 4).await.unwrap(); // never moves back
    assert_eq!(
        store.take_login_attempt(key, NOW + 8).await.unwrap(),
        LoginAttempt::Locked(1)
    );
    assert_eq!(
        store.take_login_attempt(key, NOW + 9).await.unwrap(),
        taken(8, NOW + 9)
    );
    store.record_failed_attempt("u:nobody", NOW).await.unwrap(); // nothing to move
    // Another name is its own.
    assert_eq!(
        store
            .take_login_attempt("e:olive@example.com", NOW + 3)
            .await
            .unwrap(),
        taken(1, NOW + 3)
    );
    store.clear_login_failures(key).await.unwrap();
    assert_eq!(
        store.take_login_attempt(key, NOW + 3).await.unwrap(),
        taken(1, NOW + 3)
    );
    // Failures a day old are forgotten: counting starts again.
    assert_eq!(
        store
            .take_login_attempt(key, NOW + 3 + DAY + 1)
            .await
            .unwrap(),
        taken(1, NOW + 3 + DAY + 1)
    );
}

/// The attack of the hardening issue: after a lock expires, ten guesses sent at once. Exactly
/// one may go on to be verified; the others find the name locked.
async fn attempts_racing_after_an_unlock_take_one_guess(store: Arc<dyn UserStore>) {
    let key = "u:racer";
    for _ in 0..5 {
        store.take_login_attempt(key, NOW).await.unwrap();
    }
    assert!(matches!(
        store.take_login_attempt(key, NOW).await.unwrap(),
        LoginAttempt::Locked(_)
    ));
    for round in 1..=3 {
        // Past the lock (1 s, then 2 s, then 4 s from the last attempt): ten at once.
        let at = NOW + 100 * round;
        let attempts = join_all((0..10).map(|_| store.take_login_attempt(key, at))).await;
        let taken = attempts
            .iter()
            .filter(|a| matches!(a, Ok(LoginAttempt::Taken(_))))
            .count();
        assert_eq!(taken, 1, "round {round}: {attempts:?}");
        assert!(
            attempts
                .iter()
                .all(|a| matches!(a, Ok(LoginAttempt::Taken(_)) | Ok(LoginAttempt::Locked(_)))),
            "{attempts:?}"
        );
    }
    // Below the free limit, ten at once take exactly the five free attempts.
    let fresh = "u:fresh";
    let attempts = join_all((0..10).map(|_| store.take_login_attempt(fresh, NOW))).await;
    let taken = attempts
        .iter()
        .filter(|a| matches!(a, Ok(LoginAttempt::Taken(_))))
        .count();
    assert_eq!(taken, 5, "{attempts:?}");
}

fn session(sid: &str, user_id: &str, epoch: i64, created_at: i64) -> Session {
    Session {
        session_id: sid.into(),
        user_id: user_id.into(),
        created_at,
        expires_at: created_at + DAY,
        epoch,
    }
}

async fn live(store: &Arc<dyn UserStore>, user_id: &str, sid: &str, now: i64) -> bool {
    store
        .authenticate(user_id, sid, now)
        .await
        .unwrap()
        .is_some()
}

async fn sessions_are_listed_and_end_together(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "mona").await;
    activated(&store, "u2", "ned").await;
    for (sid, at) in [("s2", NOW + 2), ("s1", NOW + 1)] {
        assert!(
            store
                .create_session(&session(sid, "u1", 0, at), at)
                .await
                .unwrap()
        );
    }
    assert!(
        store
            .create_session(&session("s3", "u2", 0, NOW), NOW)
            .await
            .unwrap()
    );
    let listed = store.list_sessions("u1", 0, NOW + 5).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| s.session_id.as_str()).collect();
    assert_eq!(ids, ["s1", "s2"], "the user's own, oldest first");
    assert_eq!(listed[0], session("s1", "u1", 0, NOW + 1));
    assert!(
        store
            .list_sessions("u1", 0, NOW + 2 + DAY)
            .await
            .unwrap()
            .is_empty(),
        "expired"
    );

    // One write ends them all but the one kept.
    assert!(
        store
            .end_all_sessions("u1", Some("s2"), NOW + 5)
            .await
            .unwrap()
    );
    assert!(!live(&store, "u1", "s1", NOW + 5).await);
    assert!(live(&store, "u1", "s2", NOW + 5).await);
    assert_eq!(
        store
            .find_user_by_id("u1", NOW)
            .await
            .unwrap()
            .unwrap()
            .auth_epoch,
        1
    );
    let ids: Vec<String> = store
        .list_sessions("u1", 1, NOW + 5)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.session_id)
        .collect();
    assert_eq!(ids, ["s2"]);
    // A login that read the user before the change cannot add a session after it.
    assert!(
        !store
            .create_session(&session("s4", "u1", 0, NOW + 6), NOW + 6)
            .await
            .unwrap()
    );
    assert!(
        store
            .create_session(&session("s5", "u1", 1, NOW + 6), NOW + 6)
            .await
            .unwrap()
    );
    assert!(store.end_all_sessions("u1", None, NOW + 7).await.unwrap());
    for sid in ["s2", "s5"] {
        assert!(!live(&store, "u1", sid, NOW + 7).await, "{sid}");
    }
    assert!(
        store
            .list_sessions("u1", 2, NOW + 7)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        live(&store, "u2", "s3", NOW + 7).await,
        "another user's stays"
    );
    assert!(!store.end_all_sessions("nobody", None, NOW).await.unwrap());
}

async fn a_password_change_is_conditional_and_keeps_one_session(store: Arc<dyn UserStore>) {
    let u = activated(&store, "u1", "olga").await;
    for sid in ["s1", "s2"] {
        assert!(
            store
                .create_session(&session(sid, "u1", 0, NOW), NOW)
                .await
                .unwrap()
        );
    }
    assert!(
        !store
            .change_password("u1", "not-the-hash", "new-hash", "s1", NOW + 1)
            .await
            .unwrap(),
        "only while the hash is the one read"
    );
    assert!(
        live(&store, "u1", "s2", NOW + 1).await,
        "a refused change ends nothing"
    );
    assert!(
        store
            .change_password("u1", &u.password_hash, "new-hash", "s1", NOW + 1)
            .await
            .unwrap()
    );
    let after = store.find_user_by_id("u1", NOW + 1).await.unwrap().unwrap();
    assert_eq!(after.password_hash, "new-hash");
    assert_eq!(after.updated_at, NOW + 1);
    assert!(
        live(&store, "u1", "s1", NOW + 1).await,
        "the caller's session goes on"
    );
    assert!(
        !live(&store, "u1", "s2", NOW + 1).await,
        "every other one ends"
    );
    assert!(
        !store
            .change_password("u1", &u.password_hash, "x", "s1", NOW + 2)
            .await
            .unwrap()
    );
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

async fn reset_tokens_work_once_and_die_with_the_epoch(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "pia").await;
    assert!(
        store
            .create_session(&session("s1", "u1", 0, NOW), NOW)
            .await
            .unwrap()
    );
    for h in ["r1", "r2"] {
        store
            .add_reset_token(&reset(h, "u1", "pia", 0, NOW + 3600), NOW)
            .await
            .unwrap();
    }
    let valid = |s: ResetTokenState| matches!(s, ResetTokenState::Valid(u) if u.user_id == "u1");
    assert!(valid(store.reset_token("r1", NOW).await.unwrap()));
    assert!(
        valid(store.reset_token("r2", NOW + 3599).await.unwrap()),
        "a newer one leaves the older valid"
    );
    assert_eq!(
        store.reset_token("r1", NOW + 3600).await.unwrap(),
        ResetTokenState::Expired
    );
    assert_eq!(
        store.reset_token("nope", NOW).await.unwrap(),
        ResetTokenState::Unknown
    );
    assert_eq!(
        store.reset_password("r1", "h", NOW + 3600).await.unwrap(),
        ResetTokenState::Expired,
        "an expired token changes nothing"
    );

    let ResetTokenState::Valid(after) = store
        .reset_password("r2", "reset-hash", NOW + 10)
        .await
        .unwrap()
    else {
        panic!("r2 is valid");
    };
    assert_eq!(
        (after.password_hash.as_str(), after.auth_epoch),
        ("reset-hash", 1)
    );
    let stored = store
        .find_user_by_id("u1", NOW + 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, *after);
    assert!(
        !live(&store, "u1", "s1", NOW + 10).await,
        "every session ends"
    );
    for h in ["r1", "r2"] {
        assert_eq!(
            store.reset_token(h, NOW + 10).await.unwrap(),
            ResetTokenState::Unknown,
            "{h}"
        );
        assert_eq!(
            store.reset_password(h, "again", NOW + 10).await.unwrap(),
            ResetTokenState::Unknown,
            "{h}"
        );
    }
    assert_eq!(
        store
            .find_user_by_id("u1", NOW)
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "reset-hash"
    );

    // A token of the current epoch works; one made before "log out everywhere" does not.
    store
        .add_reset_token(&reset("r3", "u1", "pia", 1, NOW + 3600), NOW + 20)
        .await
        .unwrap();
    assert!(store.end_all_sessions("u1", None, NOW + 21).await.unwrap());
    assert_eq!(
        store.reset_token("r3", NOW + 22).await.unwrap(),
        ResetTokenState::Unknown
    );
}

async fn racing_resets_use_a_token_once(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "quin").await;
    store
        .add_reset_token(&reset("r1", "u1", "quin", 0, NOW + 3600), NOW)
        .await
        .unwrap();
    let outcomes = join_all((0..6).map(|i| {
        let store = store.clone();
        async move {
            store
                .reset_password("r1", &format!("hash-{i}"), NOW + 1)
                .await
                .unwrap()
        }
    }))
    .await;
    let winners: Vec<String> = outcomes
        .iter()
        .filter_map(|o| match o {
            ResetTokenState::Valid(u) => Some(u.password_hash.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let stored = store.find_user_by_id("u1", NOW + 1).await.unwrap().unwrap();
    assert_eq!(stored.password_hash, winners[0]);
    assert_eq!(stored.auth_epoch, 1);
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

async fn an_email_change_moves_the_claim_atomically(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "rita").await;
    activated(&store, "u2", "sam").await;
    assert!(
        store
            .create_session(&session("s1", "u1", 0, NOW), NOW)
            .await
            .unwrap()
    );
    store
        .add_email_change(&change("e1", "u1", "Rita.New@Example.com", NOW + DAY), NOW)
        .await
        .unwrap();
    match store.email_change("e1", NOW + 1).await.unwrap() {
        EmailChangeOutcome::Changed {
            user,
            old_email,
            new_email,
        } => {
            assert_eq!(
                (user.email.as_str(), old_email.as_str()),
                ("rita@example.com", "rita@example.com")
            );
            assert_eq!(new_email, "Rita.New@Example.com");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store
            .find_user_by_id("u1", NOW)
            .await
            .unwrap()
            .unwrap()
            .email,
        "rita@example.com",
        "a lookup changes nothing"
    );
    match store.confirm_email_change("e1", NOW + 2).await.unwrap() {
        EmailChangeOutcome::Changed {
            user, old_email, ..
        } => {
            assert_eq!(
                (user.email.as_str(), old_email.as_str()),
                ("Rita.New@Example.com", "rita@example.com")
            );
        }
        other => panic!("{other:?}"),
    }
    let by_new = store
        .find_user_by_email("rita.new@example.com", NOW + 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (by_new.user_id.as_str(), by_new.updated_at),
        ("u1", NOW + 2)
    );
    assert_eq!(
        store
            .find_user_by_email("rita@example.com", NOW + 2)
            .await
            .unwrap(),
        None
    );
    assert!(live(&store, "u1", "s1", NOW + 2).await, "sessions stay");
    assert!(
        matches!(store.confirm_email_change("e1", NOW + 3).await.unwrap(), EmailChangeOutcome::AlreadyConfirmed(u) if u.user_id == "u1")
    );
    // The old address is free again.
    create(&store, "u3", "tom", "rita@example.com").await;

    // Held by another account: nothing changes, the token stays unused.
    store
        .add_email_change(&change("e2", "u1", "SAM@example.com", NOW + DAY), NOW)
        .await
        .unwrap();
    assert_eq!(
        store.email_change("e2", NOW + 4).await.unwrap(),
        EmailChangeOutcome::EmailTaken
    );
    assert_eq!(
        store.confirm_email_change("e2", NOW + 4).await.unwrap(),
        EmailChangeOutcome::EmailTaken
    );
    assert_eq!(
        store
            .find_user_by_id("u1", NOW)
            .await
            .unwrap()
            .unwrap()
            .email,
        "Rita.New@Example.com"
    );
    assert_eq!(
        store
            .find_user_by_email("sam@example.com", NOW)
            .await
            .unwrap()
            .unwrap()
            .user_id,
        "u2"
    );

    store
        .add_email_change(&change("e3", "u1", "rita3@example.com", NOW + 10), NOW)
        .await
        .unwrap();
    assert_eq!(
        store.confirm_email_change("e3", NOW + 10).await.unwrap(),
        EmailChangeOutcome::Expired
    );
    assert_eq!(
        store.confirm_email_change("nope", NOW).await.unwrap(),
        EmailChangeOutcome::Unknown
    );
    assert_eq!(
        store
            .find_user_by_email("rita3@example.com", NOW + 10)
            .await
            .unwrap(),
        None
    );
}

async fn a_confirmation_racing_a_sign_up_leaves_one_owner(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "uma").await;
    for round in 0..4 {
        let address = format!("contested{round}@example.com");
        let token = format!("e{round}");
        store
            .add_email_change(&change(&token, "u1", &address, NOW + DAY), NOW)
            .await
            .unwrap();
        let newcomer = user(&format!("n{round}"), &format!("newbie{round}"), &address);
        let activation = token_for(round);
        let (confirmed, created) = tokio::join!(
            store.confirm_email_change(&token, NOW + 1),
            store.create_user(&newcomer, &activation, NOW + 1)
        );
        let owner = store
            .find_user_by_email(&address, NOW + 1)
            .await
            .unwrap()
            .expect("never neither");
        match (confirmed.unwrap(), created) {
            (EmailChangeOutcome::Changed { .. }, Err(StoreError::EmailTaken)) => {
                assert_eq!(owner.user_id, "u1")
            }
            (EmailChangeOutcome::EmailTaken, Ok(())) => assert_eq!(owner.user_id, newcomer.user_id),
            other => panic!("round {round}: never both: {other:?}"),
        }
        // Back to the account's first address for the next round, when it moved.
        if owner.user_id == "u1" {
            let back = format!("b{round}");
            store
                .add_email_change(
                    &change(&back, "u1", &format!("uma{round}@example.com"), NOW + DAY),
                    NOW,
                )
                .await
                .unwrap();
            assert!(matches!(
                store.confirm_email_change(&back, NOW + 2).await.unwrap(),
                EmailChangeOutcome::Changed { .. }
            ));
        }
    }
}

fn token_for(round: usize) -> ActivationRecord {
    token(&format!("act-{round}"), NOW + DAY)
}

async fn the_mail_throttle_allows_one_a_minute_and_ten_a_day(store: Arc<dyn UserStore>) {
    let take = |email: &'static str, at: i64| {
        let store = store.clone();
        async move { store.take_mail_allowance(email, at).await.unwrap() }
    };
    assert!(take("vic@example.com", NOW).await);
    assert!(
        !take("VIC@example.com", NOW + 59).await,
        "the same address, within the minute"
    );
    assert!(take("other@example.com", NOW + 59).await, "another address");
    for i in 1..10 {
        assert!(
            take("vic@example.com", NOW + 60 * i).await,
            "mail {}",
            i + 1
        );
    }
    assert!(
        !take("vic@example.com", NOW + 60 * 10).await,
        "the 11th within the day"
    );
    assert!(!take("vic@example.com", NOW + DAY - 1).await);
    assert!(take("vic@example.com", NOW + DAY).await, "a new day");
    // A mail that could not be sent gives its allowance back; only the latest can be.
    assert!(take("xan@example.com", NOW).await);
    store
        .give_back_mail_allowance("xan@example.com", NOW)
        .await
        .unwrap();
    assert!(take("xan@example.com", NOW + 1).await, "given back");
    store
        .give_back_mail_allowance("xan@example.com", NOW)
        .await
        .unwrap();
    assert!(
        !take("xan@example.com", NOW + 2).await,
        "a stale give-back does nothing"
    );
    // At once: exactly one of many.
    let at_once = join_all((0..6).map(|_| take("wes@example.com", NOW))).await;
    assert_eq!(at_once.iter().filter(|a| **a).count(), 1, "{at_once:?}");
}

async fn a_deletion_racing_an_address_change_frees_both_addresses(store: Arc<dyn UserStore>) {
    // The deletion starts a little later each round, so that in some round the confirmation
    // lands between the deletion's read of the user and its write.
    for round in 0..10u64 {
        let id = format!("d{round}");
        let name = format!("doomed{round}");
        activated(&store, &id, &name).await;
        let new_address = format!("moved{round}@example.com");
        let token = format!("m{round}");
        store
            .add_email_change(&change(&token, &id, &new_address, NOW + DAY), NOW)
            .await
            .unwrap();
        let (confirmed, deleted) =
            tokio::join!(store.confirm_email_change(&token, NOW + 2), async {
                tokio::time::sleep(std::time::Duration::from_millis(round * 2)).await;
                store.delete_user(&id).await
            });
        confirmed.unwrap();
        assert!(deleted.unwrap(), "round {round}");
        assert_eq!(store.find_user_by_id(&id, NOW + 2).await.unwrap(), None);
        // Whichever came first, neither address is held by the deleted account.
        for (i, address) in [format!("{name}@example.com"), new_address]
            .iter()
            .enumerate()
        {
            let again = user(
                &format!("n{round}-{i}"),
                &format!("again{round}x{i}"),
                address,
            );
            let activation = token_for(round as usize * 10 + i);
            store
                .create_user(&again, &activation, NOW + 3)
                .await
                .unwrap_or_else(|e| panic!("round {round}: {address} still held: {e:?}"));
        }
    }
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

async fn users_are_listed_in_pages_by_username_and_filtered_by_address(store: Arc<dyn UserStore>) {
    assert!(all_pages(&store, None, 5, NOW).await.is_empty());
    // Created out of order, in mixed case; one waiting, one whose window will have passed.
    let mut expected = Vec::new();
    for (i, name) in [
        "mila", "Anna", "zed", "bob", "Carl", "dora", "eve", "Fay", "gus", "hal", "ida", "jo",
    ]
    .iter()
    .enumerate()
    {
        activated(&store, &format!("l{i}"), name).await;
        expected.push(name.to_string());
    }
    create(&store, "waiting", "kim", "kim@other.example").await;
    expected.push("kim".into());
    let mut late = user("late", "lou", "lou@example.com");
    late.pending_until = Some(NOW + 10);
    store
        .create_user(&late, &token("t-late", NOW + 10), NOW)
        .await
        .unwrap();
    expected.sort_by_key(|n| n.to_lowercase());
    let now = NOW + 100; // lou's window has passed
    for limit in [1, 3, 5, 13, 100] {
        assert_eq!(
            all_pages(&store, None, limit, now).await,
            expected,
            "limit {limit}"
        );
    }
    // Exactly `limit` users left: the page says there is no next one, or the next is empty.
    let page = store.list_users(None, None, 13, now).await.unwrap();
    assert_eq!(page.users.len(), 13);
    assert!(page.next_after.is_none(), "13 users, a page of 13");
    // After a username: strictly after it.
    let page = store.list_users(Some("hal"), None, 2, now).await.unwrap();
    let names: Vec<&str> = page.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["ida", "jo"]);
    assert_eq!(page.next_after.as_deref(), Some("jo"));
    // By address prefix, case-insensitively; a % or _ is itself.
    assert_eq!(all_pages(&store, Some("KIM@"), 5, now).await, ["kim"]);
    assert_eq!(all_pages(&store, Some("f"), 1, now).await, ["Fay"]);
    assert!(all_pages(&store, Some("%"), 5, now).await.is_empty());
    assert!(all_pages(&store, Some("_"), 5, now).await.is_empty());
    // An address change moves the user under its new address.
    store
        .add_email_change(
            &EmailChangeRecord {
                token_hash: "c-fay".into(),
                user_id: "l7".into(),
                new_email: "xfay@elsewhere.example".into(),
                epoch: 0,
                expires_at: now + DAY,
            },
            now,
        )
        .await
        .unwrap();
    store.confirm_email_change("c-fay", now).await.unwrap();
    assert!(all_pages(&store, Some("fay@"), 5, now).await.is_empty());
    assert_eq!(all_pages(&store, Some("xfay@"), 5, now).await, ["Fay"]);
}

/// DynamoDB only: user items written before the listing index existed are indexed by the
/// backfill, once (a second run finds nothing to do).
#[tokio::test]
async fn the_backfill_indexes_user_items_written_before_the_listing_index() {
    if !moto_is_there() {
        return;
    }
    let (sdk, table, dynamo) = moto_table("backfill").await;
    let store: Arc<dyn UserStore> = Arc::new(dynamo);
    for (i, name) in ["old1", "old2", "new1"].iter().enumerate() {
        activated(&store, &format!("b{i}"), name).await;
    }
    // As an older release wrote them: without the index's attributes.
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    for id in ["b0", "b1"] {
        client
            .update_item()
            .table_name(&table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{id}")),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("USER".into()),
            )
            .update_expression("REMOVE lpk, ukey, ekey")
            .send()
            .await
            .unwrap();
    }
    assert_eq!(all_pages(&store, None, 10, NOW).await, ["new1"]);
    let dynamo = DynamoStore::new(&sdk, table.clone());
    assert_eq!(dynamo.backfill_user_index().await.unwrap(), 2);
    assert_eq!(
        all_pages(&store, None, 10, NOW).await,
        ["new1", "old1", "old2"]
    );
    assert_eq!(all_pages(&store, Some("old2@"), 10, NOW).await, ["old2"]);
    assert_eq!(dynamo.backfill_user_index().await.unwrap(), 0);
}

/// A reset link mailed to the old address does not work once the address has changed.
async fn a_reset_link_dies_when_the_address_changes(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "vic").await;
    store
        .add_reset_token(&reset("r-old", "u1", "vic", 0, NOW + 3600), NOW)
        .await
        .unwrap();
    store
        .add_email_change(&change("c1", "u1", "vic@new.example", NOW + DAY), NOW)
        .await
        .unwrap();
    assert!(matches!(
        store.confirm_email_change("c1", NOW + 1).await.unwrap(),
        EmailChangeOutcome::Changed { .. }
    ));
    assert_eq!(
        store.reset_token("r-old", NOW + 2).await.unwrap(),
        ResetTokenState::Unknown
    );
    assert_eq!(
        store.reset_password("r-old", "h", NOW + 2).await.unwrap(),
        ResetTokenState::Unknown
    );
    let stored = store.find_user_by_id("u1", NOW + 2).await.unwrap().unwrap();
    assert_ne!(stored.password_hash, "h");
    // A link mailed to the new address works.
    let mut fresh = reset("r-new", "u1", "vic", 0, NOW + 3600);
    fresh.email = "vic@new.example".into();
    store.add_reset_token(&fresh, NOW + 3).await.unwrap();
    assert!(matches!(
        store.reset_token("r-new", NOW + 4).await.unwrap(),
        ResetTokenState::Valid(_)
    ));
}

/// A change of address waiting for its link is cancelled by whatever moves the auth epoch on:
/// ending every session, a password change, a reset.
async fn a_pending_address_change_dies_with_the_epoch(store: Arc<dyn UserStore>) {
    let u = activated(&store, "u1", "wes").await;
    for (round, how) in ["end all", "change", "reset"].into_iter().enumerate() {
        let epoch = round as i64;
        let token = format!("c-{round}");
        let mut c = change(
            &token,
            "u1",
            &format!("thief{round}@evil.example"),
            NOW + DAY,
        );
        c.epoch = epoch;
        store.add_email_change(&c, NOW).await.unwrap();
        assert!(
            store
                .has_pending_email_change("u1", epoch, NOW + 1)
                .await
                .unwrap()
        );
        assert!(
            !store
                .has_pending_email_change("u1", epoch + 1, NOW + 1)
                .await
                .unwrap()
        );
        assert!(
            !store
                .has_pending_email_change("u2", epoch, NOW + 1)
                .await
                .unwrap()
        );
        match how {
            "end all" => assert!(store.end_all_sessions("u1", None, NOW + 2).await.unwrap()),
            "change" => {
                let hash = store
                    .find_user_by_id("u1", NOW)
                    .await
                    .unwrap()
                    .unwrap()
                    .password_hash;
                assert!(
                    store
                        .create_session(&session("keep", "u1", epoch, NOW + 1), NOW + 1)
                        .await
                        .unwrap()
                );
                assert!(
                    store
                        .change_password("u1", &hash, "new-hash", "keep", NOW + 2)
                        .await
                        .unwrap()
                );
            }
            _ => {
                store
                    .add_reset_token(&reset("r", "u1", "wes", epoch, NOW + 3600), NOW)
                    .await
                    .unwrap();
                assert!(matches!(
                    store
                        .reset_password("r", "reset-hash", NOW + 2)
                        .await
                        .unwrap(),
                    ResetTokenState::Valid(_)
                ));
            }
        }
        assert!(
            !store
                .has_pending_email_change("u1", epoch + 1, NOW + 3)
                .await
                .unwrap()
        );
        assert_eq!(
            store.email_change(&token, NOW + 3).await.unwrap(),
            EmailChangeOutcome::Unknown,
            "{how}"
        );
        assert_eq!(
            store.confirm_email_change(&token, NOW + 3).await.unwrap(),
            EmailChangeOutcome::Unknown,
            "{how}"
        );
        let stored = store.find_user_by_id("u1", NOW + 3).await.unwrap().unwrap();
        assert_eq!(stored.email, u.email, "{how}");
        assert_eq!(stored.auth_epoch, epoch + 1, "{how}");
        assert!(
            store
                .find_user_by_email(&format!("thief{round}@evil.example"), NOW + 3)
                .await
                .unwrap()
                .is_none()
        );
    }
}

/// DynamoDB only: a user whose address was claimed under the key of older releases (before
/// NFKC) is found by its address until the backfill moves the claim, and after it; then its
/// ASCII twin is taken.
#[tokio::test]
async fn the_backfill_moves_address_claims_to_their_nfkc_key() {
    if !moto_is_there() {
        return;
    }
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    let (sdk, table, dynamo) = moto_table("rekey").await;
    let store: Arc<dyn UserStore> = Arc::new(dynamo);
    let wide = "ＫＡＴＥ@example.com";
    create(&store, "k1", "kate", wide).await;
    store.activate("t-k1", NOW + 1).await.unwrap();
    // As an older release wrote it: the claim and `ekey` under the lowercased address.
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let legacy = wide.to_lowercase();
    let claim_key = |k: &str| {
        [
            ("pk".to_string(), Av::S(format!("EMAIL#{k}"))),
            ("sk".to_string(), Av::S("CLAIM".into())),
        ]
    };
    client
        .delete_item()
        .table_name(&table)
        .set_key(Some(claim_key("kate@example.com").into()))
        .send()
        .await
        .unwrap();
    let mut item: std::collections::HashMap<String, Av> = claim_key(&legacy).into();
    item.insert("user_id".into(), Av::S("k1".into()));
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    client
        .update_item()
        .table_name(&table)
        .key("pk", Av::S("USER#k1".into()))
        .key("sk", Av::S("USER".into()))
        .update_expression("SET ekey = :e")
        .expression_attribute_values(":e", Av::S(legacy.clone()))
        .send()
        .await
        .unwrap();
    let found = |address: &'static str| {
        let store = store.clone();
        async move {
            store
                .find_user_by_email(address, NOW + 2)
                .await
                .unwrap()
                .map(|u| u.user_id)
        }
    };
    assert_eq!(
        found(wide).await.as_deref(),
        Some("k1"),
        "by the key of then"
    );
    let dynamo = DynamoStore::new(&sdk, table.clone());
    assert_eq!(dynamo.backfill_user_index().await.unwrap(), 1);
    assert_eq!(found(wide).await.as_deref(), Some("k1"));
    assert_eq!(found("kate@example.com").await.as_deref(), Some("k1"));
    assert_eq!(
        store
            .create_user(
                &user("k2", "kate2", "kate@example.com"),
                &token("t-k2", NOW + DAY),
                NOW + 2
            )
            .await,
        Err(StoreError::EmailTaken)
    );
    assert_eq!(dynamo.backfill_user_index().await.unwrap(), 0);
}

/// SQLite only: a store file of schema 2 (addresses keyed lowercased) opens with its keys
/// written anew after NFKC, so the ASCII twin of a fullwidth address is taken.
#[tokio::test]
async fn an_older_store_file_rekeys_its_addresses_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.db");
    {
        let store: Arc<dyn UserStore> = Arc::new(SqliteStore::open(&path).unwrap());
        create(&store, "k1", "kate", "ＫＡＴＥ@example.com").await;
    }
    {
        // Back to schema 2, as an older release left it.
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(
            "UPDATE users SET email_key = 'ｋａｔｅ@example.com'; \
             ALTER TABLE email_changes DROP COLUMN epoch; \
             ALTER TABLE reset_tokens DROP COLUMN email; PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let store: Arc<dyn UserStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let found = store
        .find_user_by_email("kate@example.com", NOW)
        .await
        .unwrap();
    assert_eq!(found.map(|u| u.user_id).as_deref(), Some("k1"));
    assert_eq!(
        store
            .create_user(
                &user("k2", "kate2", "kate@example.com"),
                &token("t-k2", NOW + DAY),
                NOW
            )
            .await,
        Err(StoreError::EmailTaken)
    );
}

/// SQLite only: what anyone's requests store is swept within a day of its end: link tokens a
/// day past their validity (used or not), accounts a day past their activation window.
#[tokio::test]
async fn the_sqlite_sweep_drops_what_outlived_its_use_within_a_day() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.db");
    let store: Arc<dyn UserStore> = Arc::new(SqliteStore::open(&path).unwrap());
    activated(&store, "u1", "xena").await;
    create(&store, "u2", "yuri", "yuri@example.com").await; // never activated
    store
        .add_reset_token(&reset("r1", "u1", "xena", 0, NOW + 3600), NOW)
        .await
        .unwrap();
    store
        .add_email_change(&change("c1", "u1", "xena@new.example", NOW + DAY), NOW)
        .await
        .unwrap();
    let count = |table: &str| -> i64 {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(
        (
            count("reset_tokens"),
            count("email_changes"),
            count("activation_tokens")
        ),
        (1, 1, 2)
    );
    // Two days on, the next write that stores a token sweeps.
    let later = NOW + 2 * DAY + 1;
    store
        .add_reset_token(&reset("r2", "u1", "xena", 0, later + 3600), later)
        .await
        .unwrap();
    assert_eq!(count("reset_tokens"), 1, "only the new one");
    assert_eq!(count("email_changes"), 0);
    assert_eq!(count("activation_tokens"), 0, "used and expired ones");
    assert_eq!(count("users"), 1, "the account never activated is gone");
}

/// DynamoDB only: a link token's TTL is at most a day past its validity, used or not.
#[tokio::test]
async fn dynamodb_link_tokens_expire_by_ttl_a_day_after_their_end() {
    if !moto_is_there() {
        return;
    }
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    let (sdk, table, dynamo) = moto_table("ttl").await;
    let store: Arc<dyn UserStore> = Arc::new(dynamo);
    activated(&store, "u1", "zack").await;
    store
        .add_reset_token(&reset("r1", "u1", "zack", 0, NOW + 3600), NOW)
        .await
        .unwrap();
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let ttl = |pk: &'static str| {
        let client = client.clone();
        let table = table.clone();
        async move {
            let item = client
                .get_item()
                .table_name(table)
                .key("pk", Av::S(pk.into()))
                .key("sk", Av::S("TOKEN".into()))
                .send()
                .await
                .unwrap()
                .item
                .unwrap();
            item["expires_at"].as_n().unwrap().parse::<i64>().unwrap()
        }
    };
    assert!(ttl("RESET#r1").await <= NOW + 3600 + DAY);
    // The activation token, used at NOW + 1.
    assert!(ttl("ACTIVATION#t-u1").await <= NOW + 1 + DAY);
}
