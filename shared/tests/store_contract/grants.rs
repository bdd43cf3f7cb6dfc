//! Authorization codes (redeemed once, also when redemptions race; a second redemption names
//! the sign-in of the first) and consents (given, widened, listed, withdrawn, gone with their
//! user).

use super::*;
use shared::store::{AuthorizationCode, CODE_TTL_SECS, CodeRedeemed, SPENT_CODE_KEEP_SECS};

contract!(
    a_code_is_redeemed_once_and_a_second_redemption_names_the_first_sign_in,
    codes_redeemed_at_once_are_redeemed_once,
    a_consent_is_given_widened_listed_withdrawn_and_goes_with_its_user,
);

fn code(hash: &str, user_id: &str) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: hash.into(),
        client_id: "client-1".into(),
        redirect_uri: "https://app.example.com/cb?x=ü".into(),
        user_id: user_id.into(),
        epoch: 0,
        scope: "openid email".into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        auth_time: NOW - 30,
        amr: vec!["pwd".into(), "otp".into()],
        expires_at: NOW + CODE_TTL_SECS,
    }
}

async fn a_code_is_redeemed_once_and_a_second_redemption_names_the_first_sign_in(
    store: Arc<dyn UserStore>,
) {
    activated(&store, "u1", "paula").await;
    let kept = code("h1", "u1");
    store.add_code(&kept).await.unwrap();
    assert_eq!(
        store.redeem_code("h-none", "s0", NOW).await.unwrap(),
        CodeRedeemed::Unknown
    );
    assert_eq!(
        store.redeem_code("h1", "s1", NOW + 5).await.unwrap(),
        CodeRedeemed::Redeemed(kept.clone())
    );
    let spent = CodeRedeemed::Spent {
        user_id: "u1".into(),
        session_id: "s1".into(),
    };
    assert_eq!(store.redeem_code("h1", "s2", NOW + 6).await.unwrap(), spent);
    // Known for what it is past its expiry too, while it is kept.
    let later = NOW + CODE_TTL_SECS + SPENT_CODE_KEEP_SECS - 1;
    assert_eq!(store.redeem_code("h1", "s3", later).await.unwrap(), spent);

    // Unredeemed past its expiry, it does nothing, and stays unredeemed.
    store.add_code(&code("h2", "u1")).await.unwrap();
    let expired = NOW + CODE_TTL_SECS;
    assert_eq!(
        store.redeem_code("h2", "s4", expired).await.unwrap(),
        CodeRedeemed::Unknown
    );
    assert_eq!(
        store.redeem_code("h2", "s5", expired + 1).await.unwrap(),
        CodeRedeemed::Unknown
    );
}

async fn codes_redeemed_at_once_are_redeemed_once(store: Arc<dyn UserStore>) {
    activated(&store, "u1", "paula").await;
    store.add_code(&code("h1", "u1")).await.unwrap();
    let sids: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
    let outcomes = join_all(sids.iter().map(|sid| store.redeem_code("h1", sid, NOW)))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect::<Vec<_>>();
    let winners: Vec<usize> = (0..outcomes.len())
        .filter(|&i| matches!(outcomes[i], CodeRedeemed::Redeemed(_)))
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let winner = &sids[winners[0]];
    for (i, o) in outcomes.iter().enumerate() {
        if i != winners[0] {
            assert_eq!(
                *o,
                CodeRedeemed::Spent {
                    user_id: "u1".into(),
                    session_id: winner.clone()
                },
                "{outcomes:?}"
            );
        }
    }
}

async fn a_consent_is_given_widened_listed_withdrawn_and_goes_with_its_user(
    store: Arc<dyn UserStore>,
) {
    activated(&store, "u1", "paula").await;
    let scopes = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(store.consent("u1", "app-b").await.unwrap(), None);
    assert!(store.list_consents("u1").await.unwrap().is_empty());
    assert!(
        store
            .give_consent("u1", "app-b", &scopes(&["profile", "openid"]), NOW)
            .await
            .unwrap()
    );
    let given = store.consent("u1", "app-b").await.unwrap().unwrap();
    assert_eq!(given.scopes, scopes(&["openid", "profile"]));
    assert_eq!((given.client_id.as_str(), given.granted_at), ("app-b", NOW));
    // Widened, never narrowed: what was allowed stays allowed.
    assert!(
        store
            .give_consent("u1", "app-b", &scopes(&["email", "openid"]), NOW + 10)
            .await
            .unwrap()
    );
    let widened = store.consent("u1", "app-b").await.unwrap().unwrap();
    assert_eq!(widened.scopes, scopes(&["email", "openid", "profile"]));
    assert_eq!(widened.granted_at, NOW + 10);
    // Two given at once both count.
    let (openid, widgets) = (scopes(&["openid"]), scopes(&["widgets"]));
    let (a, b) = futures::join!(
        store.give_consent("u1", "app-a", &openid, NOW + 5),
        store.give_consent("u1", "app-a", &widgets, NOW + 5),
    );
    assert!(a.unwrap() && b.unwrap());
    assert_eq!(
        store.consent("u1", "app-a").await.unwrap().unwrap().scopes,
        scopes(&["openid", "widgets"])
    );
    let listed: Vec<String> = store
        .list_consents("u1")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(listed, ["app-a", "app-b"]);

    assert!(store.withdraw_consent("u1", "app-a").await.unwrap());
    assert!(!store.withdraw_consent("u1", "app-a").await.unwrap());
    assert_eq!(store.consent("u1", "app-a").await.unwrap(), None);

    assert!(
        !store
            .give_consent("nobody", "app-b", &scopes(&["openid"]), NOW)
            .await
            .unwrap(),
        "no consent of a user who is not there"
    );
    assert!(store.delete_user("u1").await.unwrap());
    assert!(store.list_consents("u1").await.unwrap().is_empty());
    assert_eq!(store.consent("u1", "app-b").await.unwrap(), None);
}
