//! DynamoDB only: the SDK tries a call again when its answer is lost, and the retry of a
//! conditional write then fails its condition on the first try's own write. Such a write must
//! still count as done, once: a slow answer (moto under load in CI, a network's hiccup in
//! the cloud) must not read as "throttled", "code already spent" or "code refused".

use std::collections::HashMap;
use std::sync::Mutex;

use super::*;
use shared::store::{AuthorizationCode, CODE_TTL_SECS, CodeRedeemed, TotpFactor};

/// A proxy on loopback in front of moto that passes every request on, but answers none of the
/// requests whose `X-Amz-Target` ends with one of `targets` and whose number among that
/// target's (from 1) `lose` picks: it closes the connection once moto has answered (the write
/// done, its answer lost, as when a network drops it).
struct LosingProxy {
    url: String,
}

impl LosingProxy {
    async fn start(targets: &'static [&'static str], lose: fn(usize) -> bool) -> LosingProxy {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = super::moto_endpoint()
            .trim_start_matches("http://")
            .to_string();
        let seen: Arc<Mutex<HashMap<&'static str, usize>>> = Arc::default();
        /// One HTTP/1.1 message (headers and a `Content-Length` body), or `None` at the end.
        async fn message(from: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
            let mut buf = Vec::new();
            let mut byte = [0u8; 1];
            while !buf.ends_with(b"\r\n\r\n") {
                if from.read(&mut byte).await.ok()? == 0 {
                    return None;
                }
                buf.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            let mut body = vec![0u8; length];
            from.read_exact(&mut body).await.ok()?;
            buf.extend(body);
            Some(buf)
        }
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (upstream, seen) = (upstream.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut moto = tokio::net::TcpStream::connect(upstream).await.unwrap();
                    while let Some(request) = message(&mut client).await {
                        let head = String::from_utf8_lossy(&request).to_ascii_lowercase();
                        let aimed = head
                            .lines()
                            .find_map(|l| l.strip_prefix("x-amz-target:"))
                            .and_then(|t| {
                                let t = t.trim();
                                targets
                                    .iter()
                                    .find(|want| t.ends_with(&want.to_ascii_lowercase()))
                            });
                        moto.write_all(&request).await.unwrap();
                        let answer = message(&mut moto).await.unwrap();
                        if let Some(target) = aimed {
                            let n = {
                                let mut seen = seen.lock().unwrap();
                                let n = seen.entry(target).or_default();
                                *n += 1;
                                *n
                            };
                            if lose(n) {
                                return; // both connections dropped, the answer unsent
                            }
                        }
                        client.write_all(&answer).await.unwrap();
                    }
                });
            }
        });
        LosingProxy { url }
    }
}

/// Every first try lost: each aimed call's first answer is dropped, its retry answered.
fn every_first_try(n: usize) -> bool {
    n % 2 == 1
}

#[tokio::test]
async fn dynamodb_store_a_mail_allowance_whose_answer_was_lost_is_still_taken_once() {
    if !super::moto_is_there() {
        return;
    }
    // Update 1 (a new window for yan) is lost, 2 is its retry; 3 and 4 refuse yan's next; 5
    // opens zed's window; 6 finds it open, 7 (one more for zed) is lost, 8 is its retry.
    let proxy = LosingProxy::start(&["UpdateItem"], |n| [1, 7].contains(&n)).await;
    let (_, _, store) = super::moto_table_at(&proxy.url, "lossy").await;
    let take = |email: &'static str, at: i64| {
        let store = &store;
        async move {
            shared::store::Throttles::take_mail_allowance(store, email, at)
                .await
                .unwrap()
        }
    };
    assert!(
        take("yan@example.com", NOW).await,
        "a new window, its answer lost"
    );
    assert!(
        !take("yan@example.com", NOW + 1).await,
        "one a minute, and it was taken"
    );
    assert!(take("zed@example.com", NOW).await);
    assert!(
        take("zed@example.com", NOW + 60).await,
        "one more, its answer lost"
    );
    assert!(
        !take("zed@example.com", NOW + 61).await,
        "one a minute, and it was taken"
    );
}

#[tokio::test]
async fn dynamodb_store_a_code_kept_and_redeemed_with_its_answers_lost_is_redeemed_once() {
    if !super::moto_is_there() {
        return;
    }
    let proxy = LosingProxy::start(&["UpdateItem", "PutItem"], every_first_try).await;
    let (_, _, dynamo) = super::moto_table_at(&proxy.url, "lossy").await;
    let store: Arc<dyn UserStore> = Arc::new(dynamo);
    create(&store, "u1", "ann", "ann@example.com").await;
    let code = AuthorizationCode {
        code_hash: "h1".into(),
        client_id: "c1".into(),
        redirect_uri: "https://app.example.com/cb".into(),
        user_id: "u1".into(),
        epoch: 0,
        scope: "openid".into(),
        nonce: None,
        code_challenge: None,
        auth_time: NOW,
        amr: vec!["pwd".into()],
        expires_at: NOW + CODE_TTL_SECS,
    };
    store.add_code(&code).await.expect("kept, its answer lost");
    assert_eq!(
        store.redeem_code("h1", "sid-1", NOW).await.unwrap(),
        CodeRedeemed::Redeemed(code),
        "redeemed, its answer lost: not taken for a replay"
    );
    assert_eq!(
        store.redeem_code("h1", "sid-2", NOW).await.unwrap(),
        CodeRedeemed::Spent {
            user_id: "u1".into(),
            session_id: "sid-1".into()
        },
        "a second redemption is one"
    );
}

#[tokio::test]
async fn dynamodb_store_a_code_step_spent_with_its_answer_lost_is_spent_once() {
    if !super::moto_is_there() {
        return;
    }
    let proxy = LosingProxy::start(&["UpdateItem"], every_first_try).await;
    let (_, _, dynamo) = super::moto_table_at(&proxy.url, "lossy").await;
    let store: Arc<dyn UserStore> = Arc::new(dynamo);
    create(&store, "u1", "ann", "ann@example.com").await;
    let factor = TotpFactor {
        user_id: "u1".into(),
        sealed_secret: "sealed".into(),
        enabled: false,
        pending_until: NOW + 600,
        last_step: 0,
        recovery: vec![],
        signed_in: false,
    };
    assert!(store.start_factor(&factor).await.unwrap());
    assert!(
        store
            .enable_factor("u1", 100, &["r1".into()], NOW)
            .await
            .unwrap(),
        "turned on, its answer lost"
    );
    assert!(
        store.use_step("u1", 101, true).await.unwrap(),
        "a step spent, its answer lost"
    );
    assert!(
        !store.use_step("u1", 101, true).await.unwrap(),
        "the same step again is refused"
    );
    assert!(
        store.use_recovery_code("u1", "r1").await.unwrap(),
        "a recovery code spent, its answer lost"
    );
    assert!(!store.use_recovery_code("u1", "r1").await.unwrap(), "once");
}
