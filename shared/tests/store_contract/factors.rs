//! Second factors and the logins waiting for one.

use super::*;

contract!(
    a_factor_is_pending_then_on_and_each_step_counts_once,
    recovery_codes_work_once_and_go_with_the_factor_or_the_user,
    a_challenge_counts_its_attempts_and_is_spent_once,
);

fn pending(user_id: &str, secret: &str, until: i64) -> TotpFactor {
    TotpFactor {
        user_id: user_id.into(),
        sealed_secret: secret.into(),
        enabled: false,
        pending_until: until,
        last_step: 0,
        recovery: vec![],
    }
}

fn codes(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("mac{i}")).collect()
}

async fn a_factor_is_pending_then_on_and_each_step_counts_once(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "paula").await;
    assert_eq!(store.factor("u1").await.unwrap(), None);
    assert!(
        !store
            .start_factor(&pending("nobody", "s", NOW + 600))
            .await
            .unwrap(),
        "no factor for a missing user"
    );
    assert!(
        store
            .start_factor(&pending("u1", "s1", NOW + 600))
            .await
            .unwrap()
    );
    // A new enrolment replaces a pending factor.
    assert!(
        store
            .start_factor(&pending("u1", "s2", NOW + 700))
            .await
            .unwrap()
    );
    assert_eq!(
        store.factor("u1").await.unwrap(),
        Some(pending("u1", "s2", NOW + 700))
    );
    assert!(!store.use_step("u1", 5).await.unwrap(), "not on yet");
    assert!(
        !store
            .enable_factor("u1", 5, &codes(10), NOW + 700)
            .await
            .unwrap(),
        "expired"
    );
    // Two proofs of one pending factor at once: one turns it on.
    let ten = codes(10);
    let both = join_all((0..2).map(|_| store.enable_factor("u1", 5, &ten, NOW))).await;
    let won: Vec<bool> = both.into_iter().map(Result::unwrap).collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let on = store.factor("u1").await.unwrap().unwrap();
    assert!(on.enabled);
    assert_eq!((on.last_step, on.recovery.len()), (5, 10));
    assert!(
        !store
            .start_factor(&pending("u1", "s3", NOW + 600))
            .await
            .unwrap(),
        "an enabled factor is not replaced by an enrolment"
    );
    // A step is accepted once, and never one at or before the last.
    assert!(!store.use_step("u1", 5).await.unwrap());
    let both = join_all((0..2).map(|_| store.use_step("u1", 6))).await;
    let won: Vec<bool> = both.into_iter().map(Result::unwrap).collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    assert!(!store.use_step("u1", 4).await.unwrap());
    assert!(store.use_step("u1", 8).await.unwrap());
    assert!(store.remove_factor("u1").await.unwrap());
    assert!(!store.remove_factor("u1").await.unwrap());
    assert_eq!(store.factor("u1").await.unwrap(), None);
}

async fn recovery_codes_work_once_and_go_with_the_factor_or_the_user(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "quinn").await;
    assert!(
        store
            .start_factor(&pending("u1", "s", NOW + 600))
            .await
            .unwrap()
    );
    assert!(
        !store.use_recovery_code("u1", "mac0").await.unwrap(),
        "not on yet"
    );
    assert!(store.enable_factor("u1", 1, &codes(2), NOW).await.unwrap());
    let both = join_all((0..2).map(|_| store.use_recovery_code("u1", "mac0"))).await;
    let won: Vec<bool> = both.into_iter().map(Result::unwrap).collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    assert!(!store.use_recovery_code("u1", "mac9").await.unwrap());
    assert!(store.use_recovery_code("u1", "mac1").await.unwrap());
    assert!(
        store
            .factor("u1")
            .await
            .unwrap()
            .unwrap()
            .recovery
            .is_empty()
    );
    assert!(
        !store.use_recovery_code("u1", "mac1").await.unwrap(),
        "all used"
    );
    assert!(store.set_recovery_codes("u1", &codes(3)).await.unwrap());
    assert!(store.use_recovery_code("u1", "mac2").await.unwrap());
    // The user's deletion takes the factor with it.
    assert!(store.delete_user("u1").await.unwrap());
    assert_eq!(store.factor("u1").await.unwrap(), None);
}

async fn a_challenge_counts_its_attempts_and_is_spent_once(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "rhea").await;
    let c = MfaChallenge {
        token_hash: "h1".into(),
        user_id: "u1".into(),
        scope: "widgets".into(),
        epoch: 3,
        expires_at: NOW + 300,
        attempts: 0,
    };
    store.create_challenge(&c).await.unwrap();
    for attempt in 1..=5 {
        let got = store.attempt_challenge("h1", NOW).await.unwrap().unwrap();
        assert_eq!(
            (
                got.attempts,
                got.user_id.as_str(),
                got.scope.as_str(),
                got.epoch
            ),
            (attempt, "u1", "widgets", 3)
        );
    }
    assert_eq!(
        store.attempt_challenge("h1", NOW).await.unwrap(),
        None,
        "no sixth"
    );
    assert_eq!(store.attempt_challenge("nope", NOW).await.unwrap(), None);
    store
        .create_challenge(&MfaChallenge {
            token_hash: "h2".into(),
            ..c.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        store.attempt_challenge("h2", NOW + 300).await.unwrap(),
        None,
        "expired"
    );
    store
        .create_challenge(&MfaChallenge {
            token_hash: "h3".into(),
            ..c
        })
        .await
        .unwrap();
    let both = join_all((0..2).map(|_| store.spend_challenge("h3"))).await;
    let won: Vec<bool> = both.into_iter().map(Result::unwrap).collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    assert_eq!(
        store.attempt_challenge("h3", NOW).await.unwrap(),
        None,
        "spent"
    );
}
