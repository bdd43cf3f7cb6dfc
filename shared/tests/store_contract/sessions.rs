//! Sessions: made at login, checked on every authenticated request, ended.

use super::*;

contract!(
    sessions_live_with_their_user,
    sessions_are_listed_and_end_together,
    a_session_rotates_once_per_generation,
);

async fn sessions_live_with_their_user(store: Arc<dyn UserStore>) {
    let u = activated(&store, "u1", "jack").await;
    let other = activated(&store, "u2", "kate").await;
    let s = Session {
        session_id: "s1".into(),
        user_id: u.user_id.clone(),
        created_at: NOW,
        expires_at: NOW + DAY,
        epoch: 0,
        refresh_gen: 0,
        refreshed_at: NOW,
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
        refresh_gen: 0,
        refreshed_at: NOW,
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
            refresh_gen: 0,
            refreshed_at: NOW,
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

async fn a_session_rotates_once_per_generation(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "olga").await;
    let s = session("s1", "u1", 0, NOW);
    assert!(store.create_session(&s, NOW).await.unwrap());
    let (read, _) = store.authenticate("u1", "s1", NOW).await.unwrap().unwrap();
    assert_eq!((read.refresh_gen, read.refreshed_at), (0, NOW));

    // The generation moves on once, from the one read; the end moves with it.
    assert!(
        store
            .rotate_session(&read, NOW + 10, NOW + 3 * DAY)
            .await
            .unwrap()
    );
    assert!(
        !store
            .rotate_session(&read, NOW + 11, NOW + 3 * DAY)
            .await
            .unwrap(),
        "generation 0 is spent"
    );
    let (now, _) = store
        .authenticate("u1", "s1", NOW + 20)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (now.refresh_gen, now.refreshed_at, now.expires_at),
        (1, NOW + 10, NOW + 3 * DAY)
    );
    assert!(
        live(&store, "u1", "s1", NOW + 2 * DAY).await,
        "the end moved past the first one"
    );
    let listed = store.list_sessions("u1", 0, NOW + 20).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&now));

    // Eight at once from one read: exactly one wins.
    let won = join_all((0..8).map(|_| store.rotate_session(&now, NOW + 30, NOW + 4 * DAY))).await;
    let won: Vec<bool> = won.into_iter().map(Result::unwrap).collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let (after, _) = store
        .authenticate("u1", "s1", NOW + 31)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.refresh_gen, 2);

    // Not once the session has ended: expired, its epoch moved on, or deleted.
    assert!(
        !store
            .rotate_session(&after, NOW + 4 * DAY, NOW + 5 * DAY)
            .await
            .unwrap(),
        "expired"
    );
    assert!(store.end_all_sessions("u1", None, NOW + 40).await.unwrap());
    assert!(
        !store
            .rotate_session(&after, NOW + 41, NOW + 5 * DAY)
            .await
            .unwrap(),
        "every session ended"
    );
    let s2 = session("s2", "u1", 1, NOW + 50);
    assert!(store.create_session(&s2, NOW + 50).await.unwrap());
    store.end_session("u1", "s2").await.unwrap();
    assert!(
        !store
            .rotate_session(&s2, NOW + 51, NOW + 5 * DAY)
            .await
            .unwrap(),
        "logged out"
    );
    assert!(
        store
            .authenticate("u1", "s2", NOW + 52)
            .await
            .unwrap()
            .is_none(),
        "a failed rotation makes nothing"
    );
}
