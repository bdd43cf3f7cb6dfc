//! Mailed sign-in codes: one an account (a new one replaces the last and its tries), tries
//! counted before any comparison and never past the limit (also when they race), spent once and
//! only for the code named, unexpired only, gone with their user.

use super::*;
use shared::store::{EMAIL_CODE_TTL_SECS, EmailCode, MAX_EMAIL_CODE_ATTEMPTS};

contract!(
    a_new_code_replaces_the_last_and_its_tries,
    racing_tries_take_no_more_than_the_limit,
    a_code_is_spent_once_and_only_while_unexpired,
    a_code_goes_with_its_user,
);

fn code(user_id: &str, link: &str, at: i64) -> EmailCode {
    EmailCode {
        user_id: user_id.into(),
        code_mac: format!("mac-of-{link}"),
        link_hash: link.into(),
        created_at: at,
        expires_at: at + EMAIL_CODE_TTL_SECS,
        attempts: 0,
    }
}

async fn a_new_code_replaces_the_last_and_its_tries(store: Arc<dyn UserStore>) {
    create(&store, "u1", "ann", "ann@example.com").await;
    assert_eq!(store.email_code("u1", NOW).await.unwrap(), None);
    store.put_email_code(&code("u1", "l1", NOW)).await.unwrap();
    assert_eq!(
        store.email_code("u1", NOW).await.unwrap(),
        Some(code("u1", "l1", NOW))
    );
    let tried = store.attempt_email_code("u1", NOW).await.unwrap().unwrap();
    assert_eq!((tried.link_hash.as_str(), tried.attempts), ("l1", 1));
    store
        .put_email_code(&code("u1", "l2", NOW + 60))
        .await
        .unwrap();
    let tried = store
        .attempt_email_code("u1", NOW + 60)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((tried.link_hash.as_str(), tried.attempts), ("l2", 1));
    // The old code's link names nothing now.
    assert!(!store.spend_email_code("u1", "l1").await.unwrap());
    assert_eq!(store.attempt_email_code("u2", NOW).await.unwrap(), None);
}

async fn racing_tries_take_no_more_than_the_limit(store: Arc<dyn UserStore>) {
    create(&store, "u1", "ann", "ann@example.com").await;
    store.put_email_code(&code("u1", "l1", NOW)).await.unwrap();
    let tries = join_all((0..12).map(|_| store.attempt_email_code("u1", NOW + 1))).await;
    let taken = tries.iter().filter(|t| matches!(t, Ok(Some(_)))).count() as i64;
    assert_eq!(taken, MAX_EMAIL_CODE_ATTEMPTS, "{tries:?}");
    assert_eq!(store.attempt_email_code("u1", NOW + 2).await.unwrap(), None);
}

async fn a_code_is_spent_once_and_only_while_unexpired(store: Arc<dyn UserStore>) {
    create(&store, "u1", "ann", "ann@example.com").await;
    store.put_email_code(&code("u1", "l1", NOW)).await.unwrap();
    let spent = join_all((0..6).map(|_| store.spend_email_code("u1", "l1"))).await;
    assert_eq!(
        spent.iter().filter(|s| matches!(s, Ok(true))).count(),
        1,
        "{spent:?}"
    );
    assert_eq!(store.email_code("u1", NOW).await.unwrap(), None);
    assert_eq!(store.attempt_email_code("u1", NOW).await.unwrap(), None);
    // An expired code is no code, to read or to try.
    store.put_email_code(&code("u1", "l2", NOW)).await.unwrap();
    let later = NOW + EMAIL_CODE_TTL_SECS;
    assert_eq!(store.email_code("u1", later).await.unwrap(), None);
    assert_eq!(store.attempt_email_code("u1", later).await.unwrap(), None);
}

async fn a_code_goes_with_its_user(store: Arc<dyn UserStore>) {
    create(&store, "u1", "ann", "ann@example.com").await;
    store.put_email_code(&code("u1", "l1", NOW)).await.unwrap();
    assert!(store.delete_user("u1").await.unwrap());
    assert_eq!(store.email_code("u1", NOW).await.unwrap(), None);
}
