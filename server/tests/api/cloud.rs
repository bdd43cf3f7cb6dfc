//! The cloud backends through the routes, on the moto server: SES mail, and DynamoDB failing
//! (refused connections, then no answer at all) and coming back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{
    PASSWORD, Server, email, link_in, link_to, moto_endpoint, ses_client, ses_sent_to,
    verified_sender, verify_sender,
};

#[tokio::test]
async fn ses_refusing_the_sender_fails_the_sign_up_and_a_verified_sender_mails_a_working_link() {
    if !crate::common::can_run(crate::common::Needs::Moto) {
        return;
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let sender = format!("no-reply-{id}@sender.example.com");
    let s = Server::start_with_ses(&sender).await;
    let username = format!("ses{}", &id[..12]);
    let address = email(&username);
    let body = json!({"username": username, "email": address, "password": PASSWORD});

    // Unverified sender: SES says MessageRejected; nothing is kept.
    let r = s.post("/user", None, body.clone()).await;
    r.expect(503, Some("mail_unavailable"));
    assert!(
        !r.text.contains("MessageRejected") && !r.text.contains(&sender),
        "{}",
        r.text
    );
    assert!(
        s.state
            .store
            .find_user_by_username(&username, s.clock.now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(ses_sent_to(&address).await.is_empty());

    verify_sender(&sender).await;
    s.post("/user", None, body).await.expect(201, None);
    let sent = ses_sent_to(&address).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    // The From carries the sender's name; SES (moto as well) matches the address within it.
    assert_eq!(sent[0]["source"], format!("\"Accounts\" <{sender}>"));
    assert_eq!(sent[0]["subject"], "Activate your account");
    let link = link_in(&sent[0], &s.base);
    let r = s.client.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 200);
    s.log_in(&username).await;
}

#[tokio::test]
async fn ses_failing_during_a_reset_or_an_address_change_changes_nothing() {
    if !crate::common::can_run(crate::common::Needs::Moto) {
        return;
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let sender = verified_sender("reset").await;
    let s = Server::start_with_ses(&sender).await;
    let username = format!("rs{}", &id[..12]);
    let address = email(&username);
    let new_address = format!("new-{address}");
    s.sign_up(&username).await;
    let activation = link_in(ses_sent_to(&address).await.last().unwrap(), &s.base);
    assert_eq!(
        s.client.get(&activation).send().await.unwrap().status(),
        200
    );
    let token = s.log_in(&username).await;
    s.clock.advance(60);
    s.post("/password/forgot", None, json!({"email": address}))
        .await
        .expect(202, None);
    let reset = link_to(
        ses_sent_to(&address).await.last().unwrap(),
        &s.base,
        "/password/reset",
    );
    let change = json!({"email": new_address, "password": PASSWORD});
    s.put(&format!("/user/{username}/email"), Some(&token), change)
        .await
        .expect(202, None);
    let confirm = link_to(
        ses_sent_to(&new_address).await.last().unwrap(),
        &s.base,
        "/email/confirm",
    );
    let path = |link: &str| link.trim_start_matches(&s.base).to_string();
    let reset_token = reset.rsplit('=').next().unwrap().to_string();
    let reset_body = json!({"token": reset_token, "password": "an entirely fresh passphrase 1984"});

    // SES refuses the sender from now on: the notices cannot go, so nothing changes.
    ses_client()
        .await
        .delete_identity()
        .identity(&sender)
        .send()
        .await
        .unwrap();
    let r = s.post("/password/reset", None, reset_body.clone()).await;
    r.expect(503, Some("mail_unavailable"));
    assert!(!r.text.contains("MessageRejected"), "{}", r.text);
    s.get(&path(&confirm), None)
        .await
        .expect(503, Some("mail_unavailable"));
    let me = s.get("/user", Some(&token)).await.expect(200, None);
    assert_eq!(me["email"], address);
    s.log_in(&username).await;

    // SES is back: the reset goes through, and, ending every session, cancels the pending
    // address change (its notice says so; the confirmation link is dead).
    verify_sender(&sender).await;
    s.post("/password/reset", None, reset_body)
        .await
        .expect(200, None);
    s.get(&path(&confirm), None)
        .await
        .expect(400, Some("invalid_confirmation_token"));
    let notices = ses_sent_to(&address).await;
    assert!(
        notices.iter().any(|m| {
            let m = m.to_string();
            m.contains("Your password was changed") && m.contains("was cancelled")
        }),
        "{notices:?}"
    );
}

/// A TCP proxy on loopback in front of moto that can be told to refuse connections or to hold
/// them without a word: DynamoDB down, or unreachable.
struct Proxy {
    url: String,
    mode: Arc<AtomicU8>,
    live: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

const UP: u8 = 0;
const REFUSE: u8 = 1;
const SILENT: u8 = 2;

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(AtomicU8::new(UP));
        let live: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let target = target.trim_start_matches("http://").to_string();
        let (m, l) = (mode.clone(), live.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let target = target.clone();
                let task = match m.load(Ordering::SeqCst) {
                    UP => tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    }),
                    REFUSE => {
                        drop(inbound);
                        continue;
                    }
                    _ => tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        drop(inbound);
                    }),
                };
                l.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { url, mode, live }
    }

    /// Switches mode and cuts every connection already open.
    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        for t in self.live.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

#[tokio::test]
async fn with_dynamodb_down_every_route_answers_503_quickly_and_nothing_is_half_written() {
    if !crate::common::can_run(crate::common::Needs::Moto) {
        return;
    }
    let proxy = Proxy::start(moto_endpoint()).await;
    let table = crate::common::fresh_table();
    let mut vars: Vec<(String, String)> = crate::common::dynamodb_vars(&table);
    vars.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    vars.push(("AWS_ENDPOINT_URL".into(), proxy.url.clone()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = Server::start_with(&vars).await;
    let config = shared::config::Config::from_lookup(|k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    if !crate::common::dynamodb_mode() {
        crate::common::create_table(&config, &table).await;
    }
    let token = s.user("faye").await;
    let (_, refresh_token) = s.log_in_pair("faye").await;
    s.sign_up("pending").await;
    let pending_link = s.activation_token(&email("pending"));
    s.clock.advance(60); // past the mail throttle's minute
    s.post("/password/forgot", None, json!({"email": email("faye")}))
        .await
        .expect(202, None);
    let reset_link = s.link_token(&email("faye"), "/password/reset");
    let change = json!({"email": "faye.new@example.com", "password": PASSWORD});
    s.put("/user/faye/email", Some(&token), change)
        .await
        .expect(202, None);
    let confirm_link = s.link_token("faye.new@example.com", "/email/confirm");
    const NEW_PASSWORD: &str = "an entirely fresh passphrase 1984";

    let requests: Vec<(Method, String, Option<&str>, Option<Value>)> = vec![
        (
            Method::POST,
            "/user".into(),
            None,
            Some(
                json!({"username": "newbie", "email": "newbie@example.com", "password": PASSWORD}),
            ),
        ),
        (
            Method::GET,
            format!("/activate?token={pending_link}"),
            None,
            None,
        ),
        (
            Method::POST,
            "/activate/resend".into(),
            None,
            Some(json!({"email": email("pending")})),
        ),
        (
            Method::POST,
            "/auth".into(),
            None,
            Some(json!({"username": "faye", "password": PASSWORD})),
        ),
        (
            Method::POST,
            "/login".into(),
            None,
            Some(json!({"email": email("faye"), "password": PASSWORD})),
        ),
        (
            Method::POST,
            "/auth/token".into(),
            None,
            Some(json!({"grant_type": "refresh_token", "refresh_token": refresh_token})),
        ),
        (Method::GET, "/".into(), Some(&token), None),
        (Method::GET, "/user".into(), Some(&token), None),
        (Method::GET, "/user/faye".into(), Some(&token), None),
        (
            Method::PUT,
            "/user/faye".into(),
            Some(&token),
            Some(json!({"lost": true})),
        ),
        (Method::DELETE, "/user/faye".into(), Some(&token), None),
        (Method::DELETE, "/auth".into(), Some(&token), None),
        (
            Method::POST,
            "/password/forgot".into(),
            None,
            Some(json!({"email": email("faye")})),
        ),
        (
            Method::GET,
            format!("/password/reset?token={reset_link}"),
            None,
            None,
        ),
        (
            Method::POST,
            "/password/reset".into(),
            None,
            Some(json!({"token": reset_link, "password": NEW_PASSWORD})),
        ),
        (
            Method::PUT,
            "/user/faye/password".into(),
            Some(&token),
            Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        ),
        (
            Method::PUT,
            "/user/faye/email".into(),
            Some(&token),
            Some(json!({"email": "faye.other@example.com", "password": PASSWORD})),
        ),
        (
            Method::GET,
            format!("/email/confirm?token={confirm_link}"),
            None,
            None,
        ),
        (Method::GET, "/auth/sessions".into(), Some(&token), None),
        (Method::DELETE, "/auth/sessions".into(), Some(&token), None),
    ];
    for (mode, bound) in [
        (REFUSE, Duration::from_secs(3)),
        (SILENT, Duration::from_millis(6500)),
    ] {
        proxy.set(mode);
        let checked: Vec<_> = if mode == REFUSE {
            requests.iter().collect()
        } else {
            requests.iter().step_by(3).collect()
        };
        for (method, path, token, body) in checked {
            let started = Instant::now();
            let r = s.call(method.clone(), path, *token, body.clone()).await;
            let took = started.elapsed();
            let b = r.expect(503, Some("service_unavailable"));
            assert_eq!(
                b["message"], "The service is unavailable; please try again later.",
                "{method} {path}"
            );
            assert!(took < bound, "{method} {path} took {took:?} (mode {mode})");
        }
    }
    // Anonymous GET / needs no store.
    s.get("/", None).await.expect(200, None);

    proxy.set(UP);
    // Nothing was half-written: the failed sign-up left its names free, the failed update and
    // deletion changed nothing, the failed logout ended nothing, the link still works.
    let me = s.get("/user", Some(&token)).await.expect(200, None);
    assert_eq!(me["data"], json!({}));
    assert_eq!(me["email"], email("faye"), "the address stays");
    s.sign_up("newbie").await;
    s.get(&format!("/activate?token={pending_link}"), None)
        .await
        .expect(200, None);
    s.log_in("faye").await; // the password stays, and no session was ended
    // The refresh token the failed refreshes presented is still the current one.
    s.post(
        "/auth/token",
        None,
        json!({"grant_type": "refresh_token", "refresh_token": refresh_token}),
    )
    .await
    .expect(200, None);
    // The reset and confirmation links were not spent (the reset link is checked without
    // spending it: once the address changes, a link mailed to the old one is dead).
    s.get(&format!("/password/reset?token={reset_link}"), None)
        .await
        .expect(200, None);
    s.get(&format!("/email/confirm?token={confirm_link}"), None)
        .await
        .expect(200, None);
    s.post(
        "/password/reset",
        None,
        json!({"token": reset_link, "password": NEW_PASSWORD}),
    )
    .await
    .expect(400, Some("invalid_reset_token"));
}
