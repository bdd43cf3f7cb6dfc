//! Passkeys (added up to the limit and never twice, found by credential id, renamed, removed,
//! gone with their user; a use moves the counter forward only) and ceremonies (spent once,
//! also when answers race; an expired one is no ceremony).

use super::*;
use shared::store::{
    CEREMONY_TTL_SECS, Ceremony, MAX_PASSKEYS, PasskeyAdded, PasskeyRecord, PasskeyUse,
};

contract!(
    passkeys_are_added_up_to_the_limit_found_renamed_and_removed,
    a_use_moves_the_counter_forward_only,
    passkeys_go_with_their_user,
    a_ceremony_is_spent_once_and_only_while_unexpired,
);

fn passkey(id: &str, user_id: &str, credential_id: &str, at: i64) -> PasskeyRecord {
    PasskeyRecord {
        id: id.into(),
        user_id: user_id.into(),
        credential_id: credential_id.into(),
        name: format!("Key {id} ü"),
        credential: format!(r#"{{"cred":"{credential_id}"}}"#),
        counter: 0,
        created_at: at,
        last_used_at: None,
    }
}

async fn passkeys_are_added_up_to_the_limit_found_renamed_and_removed(store: Arc<dyn UserStore>) {
    create(&store, "u1", "ann", "ann@example.com").await;
    create(&store, "u2", "bob", "bob@example.com").await;
    let first = passkey("p0", "u1", "cred-0", NOW);
    assert_eq!(
        store.add_passkey(&first).await.unwrap(),
        PasskeyAdded::Added
    );
    assert_eq!(
        store
            .add_passkey(&passkey("px", "u2", "cred-0", NOW))
            .await
            .unwrap(),
        PasskeyAdded::Taken,
        "a credential id held by another account"
    );
    assert_eq!(
        store
            .add_passkey(&passkey("py", "gone", "cred-y", NOW))
            .await
            .unwrap(),
        PasskeyAdded::NoUser
    );
    // The rest of the ten at once, and two more: exactly ten are kept.
    let more: Vec<_> = (1..MAX_PASSKEYS + 2)
        .map(|i| passkey(&format!("p{i}"), "u1", &format!("cred-{i}"), NOW + i as i64))
        .collect();
    let added = join_all(more.iter().map(|p| store.add_passkey(p))).await;
    let kept = added
        .iter()
        .filter(|a| matches!(a, Ok(PasskeyAdded::Added)))
        .count();
    assert_eq!(kept, MAX_PASSKEYS - 1, "{added:?}");
    assert!(
        added
            .iter()
            .all(|a| matches!(a, Ok(PasskeyAdded::Added | PasskeyAdded::Full))),
        "{added:?}"
    );
    let listed = store.passkeys("u1").await.unwrap();
    assert_eq!(listed.len(), MAX_PASSKEYS);
    assert_eq!(listed[0], first, "oldest first, as written");
    assert!(store.passkeys("u2").await.unwrap().is_empty());
    assert_eq!(
        store.passkey_by_credential("cred-0").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.passkey_by_credential("cred-none").await.unwrap(),
        None
    );
    // Renamed by its owner only.
    assert!(!store.rename_passkey("u2", "p0", "Mine").await.unwrap());
    assert!(store.rename_passkey("u1", "p0", "Laptop").await.unwrap());
    assert_eq!(store.passkeys("u1").await.unwrap()[0].name, "Laptop");
    assert!(!store.rename_passkey("u1", "nope", "X").await.unwrap());
    // Removed by its owner only; its credential id and its place free again.
    assert!(!store.remove_passkey("u2", "p0").await.unwrap());
    assert!(store.remove_passkey("u1", "p0").await.unwrap());
    assert!(!store.remove_passkey("u1", "p0").await.unwrap(), "once");
    assert_eq!(store.passkey_by_credential("cred-0").await.unwrap(), None);
    assert_eq!(store.passkeys("u1").await.unwrap().len(), MAX_PASSKEYS - 1);
    assert_eq!(
        store
            .add_passkey(&passkey("pz", "u2", "cred-0", NOW))
            .await
            .unwrap(),
        PasskeyAdded::Added,
        "the credential id is free again"
    );
    assert_eq!(
        store
            .add_passkey(&passkey("pw", "u1", "cred-w", NOW + 100))
            .await
            .unwrap(),
        PasskeyAdded::Added,
        "a place is free again"
    );
}

async fn a_use_moves_the_counter_forward_only(store: Arc<dyn UserStore>) {
    create(&store, "u1", "ann", "ann@example.com").await;
    let counting = passkey("p1", "u1", "cred-1", NOW);
    store.add_passkey(&counting).await.unwrap();
    let used = |counter: u32, at: i64| {
        let store = store.clone();
        async move {
            store
                .use_passkey("u1", "p1", counter, &format!("record {counter}"), at)
                .await
                .unwrap()
        }
    };
    assert_eq!(used(5, NOW + 1).await, PasskeyUse::Recorded);
    let kept = store
        .passkey_by_credential("cred-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.counter, kept.credential.as_str(), kept.last_used_at),
        (5, "record 5", Some(NOW + 1))
    );
    assert_eq!(
        used(5, NOW + 2).await,
        PasskeyUse::CounterRegressed,
        "equal"
    );
    assert_eq!(used(3, NOW + 2).await, PasskeyUse::CounterRegressed, "back");
    assert_eq!(used(0, NOW + 2).await, PasskeyUse::CounterRegressed, "to 0");
    let kept = store
        .passkey_by_credential("cred-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((kept.counter, kept.last_used_at), (5, Some(NOW + 1)));
    // Two uses at once with the same counter (a replay racing the first): one is recorded.
    let raced = join_all([used(9, NOW + 3), used(9, NOW + 3)]).await;
    assert_eq!(
        raced.iter().filter(|u| **u == PasskeyUse::Recorded).count(),
        1,
        "{raced:?}"
    );
    // An authenticator that keeps no counter (0 each time).
    store
        .add_passkey(&passkey("p2", "u1", "cred-2", NOW))
        .await
        .unwrap();
    for at in [NOW + 4, NOW + 5] {
        assert_eq!(
            store.use_passkey("u1", "p2", 0, "r", at).await.unwrap(),
            PasskeyUse::Recorded
        );
    }
    assert_eq!(
        store.use_passkey("u1", "nope", 1, "r", NOW).await.unwrap(),
        PasskeyUse::Gone
    );
}

async fn passkeys_go_with_their_user(store: Arc<dyn UserStore>) {
    create(&store, "u1", "ann", "ann@example.com").await;
    store
        .add_passkey(&passkey("p1", "u1", "cred-1", NOW))
        .await
        .unwrap();
    // A reset or "end all sessions" keeps them.
    store.end_all_sessions("u1", None, NOW).await.unwrap();
    assert_eq!(store.passkeys("u1").await.unwrap().len(), 1);
    assert!(store.delete_user("u1").await.unwrap());
    assert!(store.passkeys("u1").await.unwrap().is_empty());
    assert_eq!(store.passkey_by_credential("cred-1").await.unwrap(), None);
    // Its credential id is free for another account.
    create(&store, "u9", "cat", "cat@example.com").await;
    assert_eq!(
        store
            .add_passkey(&passkey("p9", "u9", "cred-1", NOW))
            .await
            .unwrap(),
        PasskeyAdded::Added
    );
}

async fn a_ceremony_is_spent_once_and_only_while_unexpired(store: Arc<dyn UserStore>) {
    let ceremony = |hash: &str, bound_to: &str| Ceremony {
        key_hash: hash.into(),
        bound_to: bound_to.into(),
        state: r#"{"state":"ü"}"#.into(),
        expires_at: NOW + CEREMONY_TTL_SECS,
    };
    store.put_ceremony(&ceremony("h1", "login:")).await.unwrap();
    // Replaced by one of the same key.
    store
        .put_ceremony(&ceremony("h1", "register:u1"))
        .await
        .unwrap();
    let taken = store.take_ceremony("h1", NOW + 1).await.unwrap();
    assert_eq!(taken, Some(ceremony("h1", "register:u1")));
    assert_eq!(
        store.take_ceremony("h1", NOW + 1).await.unwrap(),
        None,
        "once"
    );
    assert_eq!(store.take_ceremony("h0", NOW).await.unwrap(), None);
    // Expired: no ceremony (and spent all the same).
    store.put_ceremony(&ceremony("h2", "login:")).await.unwrap();
    assert_eq!(
        store
            .take_ceremony("h2", NOW + CEREMONY_TTL_SECS)
            .await
            .unwrap(),
        None
    );
    // Answers at once: one gets it.
    store.put_ceremony(&ceremony("h3", "login:")).await.unwrap();
    let raced = join_all((0..6).map(|_| store.take_ceremony("h3", NOW + 1))).await;
    assert_eq!(
        raced.iter().filter(|t| matches!(t, Ok(Some(_)))).count(),
        1,
        "{raced:?}"
    );
}
