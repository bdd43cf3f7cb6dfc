//! Changes of password and address: by the owner, by a reset link, by a confirmation link.

use super::*;

contract!(
    a_password_change_is_conditional_and_keeps_one_session,
    reset_tokens_work_once_and_die_with_the_epoch,
    racing_resets_use_a_token_once,
    a_reset_link_dies_when_the_address_changes,
    a_pending_address_change_dies_with_the_epoch,
    an_email_change_moves_the_claim_atomically,
    a_confirmation_racing_a_sign_up_leaves_one_owner,
    a_deletion_racing_an_address_change_frees_both_addresses,
    a_rehash_is_conditional_and_ends_nothing,
);

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

/// An imported hash replaced at the first login: only while it is the one read (a change of
/// password that came first wins), and nothing else moves (sessions, epoch, updated_at).
async fn a_rehash_is_conditional_and_ends_nothing(store: Arc<dyn UserStore>) {
    let u = activated(&store, "u1", "rhea").await;
    assert!(
        store
            .create_session(&session("s1", "u1", 0, NOW), NOW)
            .await
            .unwrap()
    );
    assert!(
        !store
            .rehash_password("u1", "not-the-hash", "argon2id-hash")
            .await
            .unwrap(),
        "only while the hash is the one read"
    );
    assert!(
        !store
            .rehash_password("nobody", &u.password_hash, "argon2id-hash")
            .await
            .unwrap()
    );
    assert!(
        store
            .rehash_password("u1", &u.password_hash, "argon2id-hash")
            .await
            .unwrap()
    );
    let after = store.find_user_by_id("u1", NOW).await.unwrap().unwrap();
    assert_eq!(after.password_hash, "argon2id-hash");
    assert_eq!(
        (after.auth_epoch, after.updated_at),
        (u.auth_epoch, u.updated_at)
    );
    assert!(live(&store, "u1", "s1", NOW).await, "the session goes on");
    // A change of password came first: the rehash of the old one finds another hash.
    assert!(
        store
            .change_password("u1", "argon2id-hash", "changed", "s1", NOW + 1)
            .await
            .unwrap()
    );
    assert!(
        !store
            .rehash_password("u1", "argon2id-hash", "stale")
            .await
            .unwrap()
    );
    let after = store.find_user_by_id("u1", NOW + 1).await.unwrap().unwrap();
    assert_eq!(after.password_hash, "changed");
}
