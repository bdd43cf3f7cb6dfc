//! Races on one account (run on both stores: the route tests run again with TEST_STORE=dynamodb):
//! concurrent logins, logouts, updates and a delete. No 5xx, no update lost while reported as
//! done, a deleted user stays deleted, and no session survives its user.

use futures::future::join_all;
use serde_json::{Value, json};

use crate::common::{PASSWORD, Reply, Server};

#[track_caller]
fn no_server_error(replies: &[Reply]) {
    for r in replies {
        assert!(r.status.as_u16() < 500, "{}: {}", r.status, r.text);
    }
}

#[tokio::test]
async fn concurrent_updates_each_answer_what_they_wrote_and_one_of_them_stays() {
    let s = Server::start().await;
    let token = s.user("racer").await;
    let bodies: Vec<Value> = (0..12)
        .map(|i| json!({"v": i, "tag": format!("writer-{i}")}))
        .collect();
    let replies = join_all(
        bodies
            .iter()
            .map(|b| s.put("/user/racer", Some(&token), b.clone())),
    )
    .await;
    no_server_error(&replies);
    for (r, b) in replies.iter().zip(&bodies) {
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["data"], *b, "each success reports its own write");
    }
    let last = s.get("/user", Some(&token)).await.expect(200, None);
    assert!(
        bodies.contains(&last["data"]),
        "the stored data is one whole write: {}",
        last["data"]
    );
}

#[tokio::test]
async fn logins_logouts_and_updates_racing_a_delete_leave_the_user_gone_with_no_session() {
    let s = Server::start().await;
    let first = s.user("doomed").await;
    let mut tokens = vec![first.clone()];
    for _ in 0..3 {
        tokens.push(s.log_in("doomed").await);
    }
    let login = json!({"username": "doomed", "password": PASSWORD});
    let logins = (0..6).map(|_| s.post("/auth", None, login.clone()));
    let logouts = tokens[1..].iter().map(|t| s.delete("/auth", Some(t)));
    let updates = (0..6).map(|i| s.put("/user/doomed", Some(&first), json!({"i": i})));
    let reads = (0..6).map(|_| s.get("/user", Some(&first)));
    let delete = s.delete("/user/doomed", Some(&first));
    let (logins, logouts, updates, reads, deleted) = tokio::join!(
        join_all(logins),
        join_all(logouts),
        join_all(updates),
        join_all(reads),
        delete
    );
    for group in [&logins, &logouts, &updates, &reads] {
        no_server_error(group);
    }
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    // Each answer is one the route gives; an update that found the user gone is a 404.
    for r in logouts.iter().chain(&updates).chain(&reads) {
        let ok = [200, 204, 401, 404].contains(&r.status.as_u16());
        assert!(ok, "{}: {}", r.status, r.text);
    }
    // Six logins at once: five password checks may run together, the sixth is throttled.
    for r in &logins {
        assert!(
            [200, 401, 429].contains(&r.status.as_u16()),
            "{}: {}",
            r.status,
            r.text
        );
    }
    // Every token ever issued, including those of logins that raced the delete, is refused.
    let raced: Vec<String> = logins
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.json()["token"].as_str().unwrap().to_string())
        .collect();
    for t in tokens.iter().chain(&raced) {
        s.get("/user", Some(t))
            .await
            .expect(401, Some("invalid_token"));
    }
    // Deleted stays deleted: no login, no record, the names free for someone new. (Logins that
    // lost the race count as failures for the name: past any lock-out first.)
    s.clock.advance(1000);
    s.post("/auth", None, login)
        .await
        .expect(401, Some("invalid_credentials"));
    let now = s.clock.now();
    assert!(
        s.state
            .store
            .find_user_by_username("doomed", now)
            .await
            .unwrap()
            .is_none()
    );
    s.sign_up("doomed").await;
}

#[tokio::test]
async fn racing_logouts_of_one_session_all_succeed_or_are_refused_and_it_ends() {
    let s = Server::start().await;
    let token = s.user("twice").await;
    let replies = join_all((0..8).map(|_| s.delete("/auth", Some(&token)))).await;
    no_server_error(&replies);
    assert!(replies.iter().any(|r| r.status == 204));
    assert!(replies.iter().all(|r| r.status == 204 || r.status == 401));
    s.get("/user", Some(&token))
        .await
        .expect(401, Some("invalid_token"));
}

const NEW_PASSWORD: &str = "an entirely fresh passphrase 1984";

/// A reset link for `username`'s address (a minute on, past the mail throttle).
async fn reset_link(s: &Server, username: &str) -> String {
    s.clock.advance(60);
    let address = crate::common::email(username);
    s.post("/password/forgot", None, json!({"email": address}))
        .await
        .expect(202, None);
    s.link_token(&address, "/password/reset")
}

#[tokio::test]
async fn resets_racing_with_one_link_change_the_password_once() {
    let s = Server::start().await;
    s.user("twin").await;
    let token = reset_link(&s, "twin").await;
    let bodies: Vec<Value> = (0..4)
        .map(|i| json!({"token": token, "password": format!("{NEW_PASSWORD} {i}")}))
        .collect();
    let replies = join_all(
        bodies
            .iter()
            .map(|b| s.post("/password/reset", None, b.clone())),
    )
    .await;
    no_server_error(&replies);
    let won: Vec<usize> = (0..4).filter(|i| replies[*i].status == 200).collect();
    assert_eq!(won.len(), 1, "exactly one wins");
    for (i, r) in replies.iter().enumerate() {
        if !won.contains(&i) {
            assert_eq!(r.json()["error"], "invalid_reset_token", "{}", r.text);
        }
    }
    let login = json!({"username": "twin", "password": format!("{NEW_PASSWORD} {}", won[0])});
    s.post("/auth", None, login).await.expect(200, None);
}

#[tokio::test]
async fn a_reset_racing_logins_and_logouts_leaves_no_session_of_the_old_password() {
    let s = Server::start().await;
    let mut tokens = vec![s.user("rook").await];
    for _ in 0..3 {
        tokens.push(s.log_in("rook").await);
    }
    let link = reset_link(&s, "rook").await;
    let old = json!({"username": "rook", "password": PASSWORD});
    let logins = (0..6).map(|_| s.post("/auth", None, old.clone()));
    let logouts = tokens[2..].iter().map(|t| s.delete("/auth", Some(t)));
    let reset = s.post(
        "/password/reset",
        None,
        json!({"token": link, "password": NEW_PASSWORD}),
    );
    let (logins, logouts, reset) = tokio::join!(join_all(logins), join_all(logouts), reset);
    no_server_error(&logins);
    no_server_error(&logouts);
    reset.expect(200, None);
    // Whatever the order, once the reset has answered no token of the old password works:
    // neither those from before nor those of the logins that raced it.
    let raced = logins
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.json()["token"].as_str().unwrap().to_string());
    for t in tokens.iter().cloned().chain(raced) {
        s.get("/user", Some(&t))
            .await
            .expect(401, Some("invalid_token"));
    }
    let fresh = json!({"username": "rook", "password": NEW_PASSWORD});
    let t = s.post("/auth", None, fresh).await.expect(200, None);
    let listed = s
        .get("/auth/sessions", t["token"].as_str())
        .await
        .expect(200, None);
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test]
async fn ending_every_session_while_logins_race_it_leaves_only_working_tokens_listed() {
    let s = Server::start().await;
    let first = s.user("swift").await;
    let login = json!({"username": "swift", "password": PASSWORD});
    let logins = (0..6).map(|_| s.post("/auth", None, login.clone()));
    let (logins, ended) = tokio::join!(join_all(logins), s.delete("/auth/sessions", Some(&first)));
    no_server_error(&logins);
    ended.expect(204, None);
    s.get("/user", Some(&first))
        .await
        .expect(401, Some("invalid_token"));
    // A login that lost the race failed; one that won came after and works. The sessions
    // listed are exactly the working tokens'.
    let mut working = 0;
    for r in logins.iter().filter(|r| r.status == 200) {
        if s.get("/user", r.json()["token"].as_str()).await.status == 200 {
            working += 1;
        }
    }
    // Five password checks of a name may run at once: the sixth login is throttled.
    for r in logins.iter().filter(|r| r.status != 200) {
        let error = r.json()["error"].clone();
        assert!(
            error == "invalid_credentials" || error == "too_many_attempts",
            "{}",
            r.text
        );
    }
    s.clock.advance(2);
    let check = s.post("/auth", None, login).await.expect(200, None);
    let listed = s
        .get("/auth/sessions", check["token"].as_str())
        .await
        .expect(200, None);
    assert_eq!(
        listed["sessions"].as_array().unwrap().len(),
        working + 1,
        "{listed}"
    );
}

#[tokio::test]
async fn an_address_confirmed_while_someone_signs_up_with_it_has_exactly_one_owner() {
    let s = Server::start().await;
    let token = s.user("vale").await;
    for round in 0..3 {
        let address = format!("contested{round}@example.com");
        s.put(
            "/user/vale/email",
            Some(&token),
            json!({"email": address, "password": PASSWORD}),
        )
        .await
        .expect(202, None);
        let link = s.link_token(&address, "/email/confirm");
        let sign_up =
            json!({"username": format!("rival{round}"), "email": address, "password": PASSWORD});
        let confirm = format!("/email/confirm?token={link}");
        let (confirmed, signed_up) =
            tokio::join!(s.get(&confirm, None), s.post("/user", None, sign_up));
        no_server_error(&[confirmed.clone(), signed_up.clone()]);
        let me = s.get("/user", Some(&token)).await.expect(200, None);
        match (confirmed.status.as_u16(), signed_up.status.as_u16()) {
            (200, 409) => assert_eq!(me["email"], address),
            (409, 201) => assert_ne!(me["email"], address),
            other => panic!("round {round}: never both, never neither: {other:?}"),
        }
        let owner = s
            .state
            .store
            .find_user_by_email(&address, s.clock.now())
            .await
            .unwrap()
            .expect("an owner");
        assert_eq!(owner.username == "vale", me["email"] == address.as_str());
    }
}

/// The lockout race of the hardening issue: once an account's lock has run out, ten guesses
/// sent together (the right password among them) get one verification between them; the
/// others are `429`. Before the attempt was taken atomically, all ten were verified and the
/// right one logged in.
#[tokio::test]
async fn guesses_sent_together_after_an_unlock_get_one_verification() {
    let s = Server::start().await;
    s.user("locked").await;
    let guess = |password: &str| json!({"username": "locked", "password": password});
    for _ in 0..5 {
        s.post("/auth", None, guess("wrong guess"))
            .await
            .expect(401, Some("invalid_credentials"));
    }
    // Locked now, for a second from the last failure: a machine slow enough to let the second
    // pass before the next guess arrives answers it 401 (and locks for longer), never more
    // than a few times.
    let locked = async {
        for _ in 0..4 {
            match s.post("/auth", None, guess("wrong guess")).await {
                r if r.status == 429 => return true,
                r => {
                    r.expect(401, Some("invalid_credentials"));
                }
            }
        }
        false
    };
    assert!(locked.await, "five failures lock the name");
    for round in 0..3 {
        // Past the lock (1 s, 2 s, 4 s): ten at once, the right password last.
        s.clock.advance(20);
        let mut bodies: Vec<Value> = (0..9).map(|i| guess(&format!("guess {i}"))).collect();
        bodies.push(guess(PASSWORD));
        let replies = join_all(bodies.into_iter().map(|b| s.post("/auth", None, b))).await;
        no_server_error(&replies);
        let verified = replies
            .iter()
            .filter(|r| [200, 401].contains(&r.status.as_u16()))
            .count();
        let refused = replies.iter().filter(|r| r.status == 429).count();
        assert_eq!(
            (verified, refused),
            (1, 9),
            "round {round}: {:?}",
            replies
                .iter()
                .map(|r| r.status.as_u16())
                .collect::<Vec<_>>()
        );
        if replies.iter().any(|r| r.status == 200) {
            // The right one won the race: the failures are cleared, lock again for the next.
            for _ in 0..5 {
                s.post("/auth", None, guess("wrong guess"))
                    .await
                    .expect(401, None);
            }
        }
    }
}

/// The same race through a password check of a signed-in user (changing the address): the
/// owner's throttle gives one check per unlock window.
#[tokio::test]
async fn password_checks_sent_together_after_an_unlock_get_one_verification() {
    let s = Server::start().await;
    let token = s.user("checker").await;
    let change = |password: &str| json!({"email": "elsewhere@example.com", "password": password});
    for _ in 0..5 {
        s.put("/user/checker/email", Some(&token), change("wrong guess"))
            .await
            .expect(401, Some("invalid_credentials"));
    }
    s.clock.advance(20);
    let replies = join_all((0..10).map(|i| {
        s.put(
            "/user/checker/email",
            Some(&token),
            change(&format!("g{i}")),
        )
    }))
    .await;
    no_server_error(&replies);
    let verified = replies.iter().filter(|r| r.status == 401).count();
    let refused = replies.iter().filter(|r| r.status == 429).count();
    assert_eq!((verified, refused), (1, 9));
}
