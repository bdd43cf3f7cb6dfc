//! Account events through the routes, on both stores: what each walk records (type, actor,
//! outcome, session, caller), who may read them, paging while events are added, the admins'
//! filters, retention, and that no event holds a secret.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::common::{PASSWORD, Server, USER_AGENT, email};

/// Every event `path` lists, newest first, following the cursors (`limit` a page).
async fn all_pages(s: &Server, path: &str, token: &str, limit: usize) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    let sep = if path.contains('?') { '&' } else { '?' };
    for _ in 0..1000 {
        let mut url = format!("{path}{sep}limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page = s.get(&url, Some(token)).await.expect(200, None);
        let found = page["events"].as_array().unwrap();
        assert!(found.len() <= limit);
        events.extend(found.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return events,
        }
    }
    panic!("the pages never ended");
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

async fn events_of(s: &Server, username: &str, token: &str) -> Vec<Value> {
    all_pages(s, &format!("/user/{username}/events"), token, 100).await
}

#[tokio::test]
async fn a_walk_records_its_events_with_actor_outcome_session_and_caller() {
    let s = Server::start().await;
    s.sign_up("ada").await;
    s.activate("ada").await;
    assert!(
        s.log_in_with_password("ada", "wrong password")
            .await
            .is_none()
    );
    let (token, refresh) = s.log_in_pair("ada").await;
    s.put("/user/ada", Some(&token), json!({"city": "Paris"}))
        .await
        .expect(200, None);
    // A refresh, then the spent refresh token again after the grace: a possible theft.
    let rotated = s
        .post(
            "/auth/token",
            None,
            json!({"grant_type": "refresh_token", "refresh_token": refresh}),
        )
        .await
        .expect(200, None);
    s.clock.advance(11);
    s.post(
        "/auth/token",
        None,
        json!({"grant_type": "refresh_token", "refresh_token": refresh}),
    )
    .await
    .expect(400, Some("invalid_grant"));
    let token = s.log_in("ada").await;
    let shown = s
        .get("/auth/sessions", Some(&token))
        .await
        .expect(200, None);
    let session = shown["sessions"][0]["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    s.put(
        "/user/ada/password",
        Some(&token),
        json!({"current_password": PASSWORD, "new_password": "a quite different passphrase 42"}),
    )
    .await
    .expect(204, None);
    s.clock.advance(61); // the mail throttle: one mail a minute to an address
    s.post("/password/forgot", None, json!({"email": email("ada")}))
        .await
        .expect(202, None);
    let reset = s.link_token(&email("ada"), "/password/reset");
    s.post(
        "/password/reset",
        None,
        json!({"token": reset, "password": "yet another long passphrase 77"}),
    )
    .await
    .expect(200, None);
    let token = s
        .log_in_with_password("ada", "yet another long passphrase 77")
        .await
        .unwrap();
    s.delete("/auth", Some(&token)).await.expect(204, None);
    let token = s
        .log_in_with_password("ada", "yet another long passphrase 77")
        .await
        .unwrap();

    let events = events_of(&s, "ada", &token).await;
    let mut expected = vec![
        "logged_in",
        "logged_out",
        "logged_in",
        "password_reset",
        "password_reset_requested",
        "password_changed",
        "logged_in",
        "refresh_reuse_detected",
        "profile_updated",
        "logged_in",
        "login_failed",
        "activated",
        "signed_up",
    ];
    assert_eq!(types(&events), expected);
    expected.reverse();

    // Ids sort newest first; every event is ada's, from this client.
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    let ada_id = events[0]["user_id"].as_str().unwrap();
    for e in &events {
        assert_eq!(e["user_id"], ada_id);
        assert_eq!(e["username"], "ada");
        assert_eq!(e["source_ip"], "127.0.0.1", "{e}");
        assert_eq!(e["user_agent"], USER_AGENT);
        assert!(e["at"].as_str().unwrap().ends_with('Z'));
    }
    let find = |t: &str| events.iter().find(|e| e["type"] == t).unwrap().clone();
    let failed = find("login_failed");
    assert_eq!(failed["outcome"], "failure");
    assert_eq!(failed["actor"], json!({"kind": "anonymous"}));
    assert_eq!(failed["detail"]["reason"], "wrong_password");
    let theft = find("refresh_reuse_detected");
    assert_eq!(theft["actor"]["kind"], "service");
    assert_eq!(theft["outcome"], "success");
    let changed = find("password_changed");
    assert_eq!(changed["session_id"], session.as_str());
    assert_eq!(
        changed["actor"],
        json!({"kind": "user", "user_id": ada_id, "username": "ada"})
    );
    assert_eq!(
        find("profile_updated")["detail"]["members"],
        json!(["city"])
    );
    assert_eq!(find("logged_in")["detail"]["amr"], json!(["pwd"]));
    assert_eq!(
        find("password_reset_requested")["actor"]["kind"],
        "anonymous"
    );

    // No event holds a password, a token, a link's token or a hash.
    let text = serde_json::to_string(&events).unwrap();
    let rotated_refresh = rotated["refresh_token"].as_str().unwrap();
    for secret in [
        PASSWORD,
        "wrong password",
        "a quite different passphrase 42",
        "yet another long passphrase 77",
        token.as_str(),
        refresh.as_str(),
        rotated_refresh,
        reset.as_str(),
        "$argon2",
    ] {
        assert!(!text.contains(secret), "an event holds {secret}");
    }
    for part in token.split('.').chain(refresh.split('.')) {
        assert!(part.len() < 16 || !text.contains(part));
    }
}

#[tokio::test]
async fn owners_and_admins_read_events_others_do_not() {
    let s = Server::start().await;
    let bea = s.user("bea").await;
    let cyd = s.user("cyd").await;
    let root = s.admin("root").await;
    s.get("/user/bea/events", None)
        .await
        .expect(401, Some("unauthorized"));
    s.get("/user/bea/events", Some(&cyd))
        .await
        .expect(403, Some("forbidden"));
    // Another's, existing or not: the same 403.
    s.get("/user/nobody/events", Some(&cyd))
        .await
        .expect(403, Some("forbidden"));
    s.get("/user/nobody/events", Some(&root))
        .await
        .expect(404, Some("user_not_found"));
    let own = s
        .get("/user/bea/events", Some(&bea))
        .await
        .expect(200, None);
    let by_admin = s
        .get("/user/BEA/events", Some(&root))
        .await
        .expect(200, None);
    assert_eq!(own, by_admin);
    assert_eq!(types(own["events"].as_array().unwrap())[0], "logged_in");
    s.get("/events", Some(&bea))
        .await
        .expect(403, Some("forbidden"));
    s.get("/events", None)
        .await
        .expect(401, Some("unauthorized"));

    // An admin's change is the admin's.
    s.put(
        "/user/cyd",
        Some(&root),
        json!({"role": "admin", "activated": true}),
    )
    .await
    .expect(200, None);
    let cy_events = events_of(&s, "cyd", &root).await;
    assert_eq!(
        types(&cy_events)[..2],
        ["role_changed", "profile_updated"],
        "activated was already true: no activation_changed"
    );
    assert_eq!(cy_events[0]["actor"]["kind"], "admin");
    assert_eq!(cy_events[0]["actor"]["username"], "root");
    assert_eq!(
        cy_events[0]["detail"],
        json!({"from": "user", "to": "admin"})
    );

    // A deleted account's events stay for the admins' listing, its deletion last.
    s.delete("/user/bea", Some(&root)).await.expect(204, None);
    s.get("/user/bea/events", Some(&root))
        .await
        .expect(404, Some("user_not_found"));
    let all = all_pages(&s, "/events", &root, 100).await;
    let bea_events: Vec<&Value> = all.iter().filter(|e| e["username"] == "bea").collect();
    assert_eq!(bea_events[0]["type"], "deleted");
    assert_eq!(bea_events[0]["actor"]["kind"], "admin");
    assert_eq!(
        bea_events
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["deleted", "logged_in", "activated", "signed_up"]
    );
}

#[tokio::test]
async fn a_failed_login_of_no_account_keeps_nothing_of_the_name() {
    let s = Server::start().await;
    let root = s.admin("root").await;
    for name in ["ghost", "my secret passphrase"] {
        s.post(
            "/auth",
            None,
            json!({"username": name, "password": PASSWORD}),
        )
        .await
        .expect(401, Some("invalid_credentials"));
    }
    let failed = all_pages(&s, "/events?type=login_failed", &root, 100).await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    for e in &failed {
        assert_eq!(e["user_id"], Value::Null);
        assert_eq!(e["username"], Value::Null);
        assert_eq!(e["outcome"], "failure");
        assert_eq!(e["actor"], json!({"kind": "anonymous"}));
    }
    let text = serde_json::to_string(&failed).unwrap();
    assert!(!text.contains("ghost") && !text.contains("my secret passphrase"));
}

#[tokio::test]
async fn pages_hold_each_event_once_while_events_are_added() {
    let s = Server::start().await;
    let token = s.user("dee").await;
    let root = s.admin("root").await;
    for _ in 0..12 {
        s.put("/user/dee", Some(&token), json!({"n": 1}))
            .await
            .expect(200, None);
    }
    let before: Vec<Value> = events_of(&s, "dee", &token).await;
    assert_eq!(before.len(), 15);
    // Page by 4, adding two events between pages: the pages hold exactly the events that were
    // there when the first was read, each once, newest first.
    for path in ["/user/dee/events", "/events"] {
        let mut seen: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{path}?limit=4");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page = s.get(&url, Some(&root)).await.expect(200, None);
            for e in page["events"].as_array().unwrap() {
                seen.push(e["id"].as_str().unwrap().to_string());
            }
            if cursor.is_none() {
                // New events after the first page are newer than every cursor.
                let first: Vec<String> = seen.clone();
                assert!(first.len() == 4);
            }
            for _ in 0..2 {
                s.put("/user/dee", Some(&token), json!({"n": 2}))
                    .await
                    .expect(200, None);
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "an event shown twice");
        assert!(seen.windows(2).all(|w| w[0] > w[1]));
        for e in &before {
            assert!(seen.contains(&e["id"].as_str().unwrap().to_string()));
        }
    }
}

#[tokio::test]
async fn admins_filter_by_type_and_time_and_bad_queries_are_refused() {
    let s = Server::start().await;
    let root = s.admin("root").await;
    s.user("eve").await;
    s.clock.advance(3600);
    let since = shared::clock::rfc3339(s.clock.now());
    s.user("fay").await;
    let signed_up = all_pages(&s, "/events?type=signed_up", &root, 2).await;
    assert_eq!(
        signed_up
            .iter()
            .map(|e| e["username"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["fay", "eve", "root"]
    );
    let recent = all_pages(&s, &format!("/events?since={since}"), &root, 100).await;
    assert_eq!(types(&recent), ["logged_in", "activated", "signed_up"]);
    assert!(recent.iter().all(|e| e["username"] == "fay"));
    let listed = all_pages(&s, "/events?type=users_listed", &root, 10).await;
    assert!(listed.is_empty());
    s.get("/users", Some(&root)).await.expect(200, None);
    let listed = all_pages(&s, "/events?type=users_listed", &root, 10).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["actor"]["username"], "root");
    assert_eq!(listed[0]["user_id"], Value::Null);

    for bad in [
        "/events?limit=0",
        "/events?limit=101",
        "/events?limit=x",
        "/events?cursor=abc",
        "/events?cursor=../../etc",
        "/events?type=nope",
        "/events?since=yesterday",
        "/events?since=2026-13-01T00:00:00Z",
        "/events?limit=1&limit=2",
        "/user/root/events?cursor=zzzzzzzzzzzzzzzzzzzzzzzzzz",
    ] {
        s.get(bad, Some(&root))
            .await
            .expect(400, Some("invalid_query"));
    }
    // A non-admin is refused before the query is read.
    let fay = s.log_in("fay").await;
    s.get("/events?limit=0", Some(&fay))
        .await
        .expect(403, Some("forbidden"));
}

#[tokio::test]
async fn events_end_with_their_retention() {
    let s = Server::start_with(&[("EVENT_RETENTION_DAYS", "2")]).await;
    let root = s.admin("root").await;
    s.clock.advance(3 * 86_400);
    let token = s.log_in("root").await;
    let left = events_of(&s, "root", &token).await;
    assert_eq!(types(&left), ["logged_in"]);
    let all = all_pages(&s, "/events", &token, 100).await;
    assert_eq!(types(&all), ["logged_in"]);
    drop(root);
}

/// The listings' queries say what is wrong with them, in each member's own words, on both
/// listings of events and on the users'.
#[tokio::test]
async fn a_bad_query_says_which_member_and_why() {
    let s = Server::start().await;
    let root = s.admin("root").await;
    for (query, message) in [
        (
            "/events?limit=0",
            "limit must be a whole number from 1 to 100.",
        ),
        (
            "/events?limit=",
            "limit must be a whole number from 1 to 100.",
        ),
        ("/events?limit=1&limit=2", "limit is given more than once."),
        ("/events?cursor=abc", "cursor is not one this service gave."),
        (
            "/events?type=nope",
            "type is not an event type (see the API document's list).",
        ),
        (
            "/events?since=yesterday",
            "since must be a date and time in RFC 3339, for example 2026-12-01T00:00:00Z.",
        ),
        (
            "/user/root/events?cursor=&cursor=",
            "cursor is given more than once.",
        ),
        (
            "/users?cursor=not*base64",
            "cursor is not one this service gave.",
        ),
        (
            "/users?email_prefix=a&email_prefix=b",
            "email_prefix is given more than once.",
        ),
    ] {
        let body = s
            .get(query, Some(&root))
            .await
            .expect(400, Some("invalid_query"));
        assert_eq!(
            body["message"],
            format!("Invalid query: {message}"),
            "{query}"
        );
    }
    // Empty members are absent, and members of no interest are ignored.
    for fine in [
        "/events?type=&since=&cursor=&other=1&other=2",
        "/user/root/events?type=nope&since=never",
        "/users?cursor=&email_prefix=&x=1",
    ] {
        s.get(fine, Some(&root)).await.expect(200, None);
    }
}
