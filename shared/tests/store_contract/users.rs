//! The accounts themselves: created, found, listed, updated, deleted.

use super::*;

contract!(
    users_are_found_by_id_username_and_email_case_insensitively,
    names_are_unique_and_a_refused_user_leaves_nothing_behind,
    racing_creates_for_one_name_give_exactly_one_user,
    a_pending_account_expires_and_frees_its_names,
    updates_replace_data_and_deactivation_ends_sessions,
    deletion_frees_names_and_discard_spares_activated_users,
    users_are_listed_in_pages_by_username_and_filtered_by_address,
    an_imported_user_is_written_whole_or_not_at_all,
);

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

async fn updates_replace_data_and_deactivation_ends_sessions(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "liam").await;
    let s = Session {
        session_id: "s1".into(),
        user_id: "u1".into(),
        created_at: NOW,
        expires_at: NOW + DAY,
        epoch: 0,
        refresh_gen: 0,
        refreshed_at: NOW,
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
        refresh_gen: 0,
        refreshed_at: NOW,
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

/// An imported user: as given (activated, no window, no token), with both claims; a name held
/// by any account (a live pending one too) refuses it and leaves nothing; racing imports of
/// one user give one.
async fn an_imported_user_is_written_whole_or_not_at_all(store: Arc<dyn UserStore>) {
    create(&store, "p1", "pending", "pending@example.com").await;
    let imported = UserRecord {
        activated: true,
        pending_until: None,
        created_at: NOW - 1000,
        password_hash: "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234".into(),
        ..user("i1", "Imported", "Imported@Example.com")
    };
    store.import_user(&imported, NOW).await.unwrap();
    let found = store
        .find_user_by_email("imported@example.com", NOW + 10 * DAY)
        .await
        .unwrap();
    assert_eq!(
        found,
        Some(imported.clone()),
        "kept as given, and never expires"
    );
    assert!(
        store
            .activate("t-i1", NOW)
            .await
            .is_ok_and(|o| o == ActivationOutcome::Unknown)
    );
    for (id, name, mail, refused) in [
        (
            "i2",
            "IMPORTED",
            "other@example.com",
            StoreError::UsernameTaken,
        ),
        (
            "i3",
            "other",
            "imported@EXAMPLE.com",
            StoreError::EmailTaken,
        ),
        ("i4", "Pending", "x@example.com", StoreError::UsernameTaken),
    ] {
        let u = UserRecord {
            activated: true,
            pending_until: None,
            ..user(id, name, mail)
        };
        assert_eq!(store.import_user(&u, NOW).await, Err(refused), "{name}");
        assert_eq!(store.find_user_by_id(id, NOW).await.unwrap(), None);
    }
    assert_eq!(
        store
            .find_user_by_email("other@example.com", NOW)
            .await
            .unwrap(),
        None,
        "a refused import claims nothing"
    );
    // The same user from two runs at once: one write.
    let twins: Vec<UserRecord> = (0..6)
        .map(|i| UserRecord {
            activated: true,
            pending_until: None,
            ..user(&format!("t{i}"), "twin", "twin@example.com")
        })
        .collect();
    let results = join_all(twins.iter().map(|u| store.import_user(u, NOW))).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let winner = store
        .find_user_by_username("twin", NOW)
        .await
        .unwrap()
        .unwrap();
    for t in &twins {
        let found = store.find_user_by_id(&t.user_id, NOW).await.unwrap();
        assert_eq!(found.is_some(), t.user_id == winner.user_id);
    }
}
