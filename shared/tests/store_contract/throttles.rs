//! The throttles: mails to an address, password attempts of a login name.

use super::*;

contract!(
    login_attempts_are_counted_before_they_are_judged,
    attempts_racing_after_an_unlock_take_one_guess,
    the_mail_throttle_allows_one_a_minute_and_ten_a_day,
);

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
