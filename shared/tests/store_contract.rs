//! One contract, two stores: every test here runs against the embedded SQLite store and against
//! the DynamoDB store (on the moto server that scripts/test starts).

use std::sync::Arc;

use futures::future::join_all;
use serde_json::json;
use shared::config::Config;
use shared::store::dynamodb::DynamoStore;
use shared::store::sqlite::SqliteStore;
use shared::store::{
    ActivationOutcome, ActivationRecord, Session, StoreError, UserStore, UserUpdate,
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

async fn dynamodb() -> Subject {
    let endpoint = std::env::var("MOTO_ENDPOINT")
        .expect("MOTO_ENDPOINT is not set: run the tests with scripts/test, which starts moto");
    let table = format!("contract-{}", uuid::Uuid::new_v4());
    let config = Config::from_lookup(|k| match k {
        "STORE" => Some("dynamodb".into()),
        "TABLE_NAME" => Some(table.clone()),
        "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
        "AWS_REGION" => Some("us-east-1".into()),
        _ => None,
    })
    .unwrap();
    let sdk = shared::aws::sdk_config(&config).await;
    let store = DynamoStore::new(&sdk, table);
    store.create_table().await.unwrap();
    Subject {
        store: Arc::new(store),
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
            $(#[tokio::test] async fn $name() { super::$name(super::dynamodb().await.store).await })*
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
    login_failures_count_and_clear,
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
        expires_at: NOW + DAY,
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
        expires_at: NOW + DAY,
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
            expires_at: NOW + DAY,
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
        expires_at: NOW + DAY,
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
        expires_at: NOW + DAY,
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

async fn login_failures_count_and_clear(store: Arc<dyn UserStore>) {
    assert_eq!(store.login_failures("u:olive").await.unwrap(), None);
    for i in 1..=3 {
        let f = store
            .record_login_failure("u:olive", NOW + i)
            .await
            .unwrap();
        assert_eq!((f.count, f.last_failure), (i as u32, NOW + i));
    }
    let f = store.login_failures("u:olive").await.unwrap().unwrap();
    assert_eq!((f.count, f.last_failure), (3, NOW + 3));
    assert_eq!(
        store.login_failures("e:olive@example.com").await.unwrap(),
        None
    );
    store.clear_login_failures("u:olive").await.unwrap();
    assert_eq!(store.login_failures("u:olive").await.unwrap(), None);
    // Failures a day old are forgotten: counting starts again.
    store.record_login_failure("u:olive", NOW).await.unwrap();
    let f = store
        .record_login_failure("u:olive", NOW + DAY + 1)
        .await
        .unwrap();
    assert_eq!(f.count, 1);
}
