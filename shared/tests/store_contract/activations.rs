//! The activation links of accounts waiting to be activated.

use super::*;

contract!(
    activation_is_single_use_and_knows_expiry,
    racing_clicks_activate_once,
    resend_adds_a_token_only_to_a_waiting_account,
);

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
