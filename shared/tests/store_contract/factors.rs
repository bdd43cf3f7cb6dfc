//! Second factors and the logins waiting for one.

use super::*;

contract!(
    a_factor_is_pending_then_on_and_each_step_counts_once,
    recovery_codes_work_once_and_go_with_the_factor_or_the_user,
    a_challenge_counts_its_attempts_and_is_spent_once,
    a_factor_is_removed_by_a_reset_only_until_it_signs_someone_in,
);

fn pending(user_id: &str, secret: &str, until: i64) -> TotpFactor {
    TotpFactor {
        user_id: user_id.into(),
        sealed_secret: secret.into(),
        enabled: false,
        pending_until: until,
        last_step: 0,
        recovery: vec![],
        signed_in: false,
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
    assert!(!store.use_step("u1", 5, false).await.unwrap(), "not on yet");
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
    assert!(!store.use_step("u1", 5, false).await.unwrap());
    let both = join_all((0..2).map(|_| store.use_step("u1", 6, false))).await;
    let won: Vec<bool> = both.into_iter().map(Result::unwrap).collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    assert!(!store.use_step("u1", 4, true).await.unwrap());
    assert!(store.use_step("u1", 8, false).await.unwrap());
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
        first_factor: "email".into(),
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
                got.first_factor.as_str(),
                got.epoch
            ),
            (attempt, "u1", "widgets", "email", 3)
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

/// A factor is "used to sign in" once a login's second step passes with it (a code with
/// `sign_in`, or a recovery code); until then a reset's conditional removal takes it (on or
/// pending), after it never does. A step-up's code (no `sign_in`) does not count.
async fn a_factor_is_removed_by_a_reset_only_until_it_signs_someone_in(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "sasha").await;
    assert!(!store.remove_unproven_factor("u1").await.unwrap(), "none");
    // Pending: removed.
    let start = store.start_factor(&pending("u1", "s", NOW + 600)).await;
    assert!(start.unwrap());
    assert!(store.remove_unproven_factor("u1").await.unwrap());
    assert_eq!(store.factor("u1").await.unwrap(), None);
    // On, and used for step-ups only: still removed.
    let start = store.start_factor(&pending("u1", "s", NOW + 600)).await;
    assert!(start.unwrap());
    assert!(store.enable_factor("u1", 1, &codes(2), NOW).await.unwrap());
    assert!(store.use_step("u1", 2, false).await.unwrap());
    let on = store.factor("u1").await.unwrap().unwrap();
    assert!(on.enabled && !on.signed_in, "{on:?}");
    assert!(store.remove_unproven_factor("u1").await.unwrap());
    assert_eq!(store.factor("u1").await.unwrap(), None);
    // On, and one sign-in with a code: kept.
    let start = store.start_factor(&pending("u1", "s", NOW + 600)).await;
    assert!(start.unwrap());
    assert!(store.enable_factor("u1", 1, &codes(2), NOW).await.unwrap());
    assert!(
        !store.use_step("u1", 1, true).await.unwrap(),
        "a refused step marks nothing"
    );
    assert!(!store.factor("u1").await.unwrap().unwrap().signed_in);
    assert!(store.use_step("u1", 3, true).await.unwrap());
    assert!(
        store.use_step("u1", 4, false).await.unwrap(),
        "a step-up after"
    );
    assert!(
        store.factor("u1").await.unwrap().unwrap().signed_in,
        "stays"
    );
    assert!(!store.remove_unproven_factor("u1").await.unwrap());
    assert!(store.factor("u1").await.unwrap().is_some());
    // A new factor after the owner removes this one starts unused again; a recovery code's
    // sign-in marks it.
    assert!(store.remove_factor("u1").await.unwrap());
    let start = store.start_factor(&pending("u1", "s", NOW + 600)).await;
    assert!(start.unwrap());
    assert!(store.enable_factor("u1", 1, &codes(2), NOW).await.unwrap());
    assert!(!store.use_recovery_code("u1", "mac7").await.unwrap());
    assert!(!store.factor("u1").await.unwrap().unwrap().signed_in);
    assert!(store.use_recovery_code("u1", "mac1").await.unwrap());
    assert!(store.factor("u1").await.unwrap().unwrap().signed_in);
    assert!(!store.remove_unproven_factor("u1").await.unwrap());
}
