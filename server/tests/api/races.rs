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
    for r in &logins {
        assert!(
            [200, 401].contains(&r.status.as_u16()),
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
