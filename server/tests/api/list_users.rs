//! `GET /users`: admins only; pages in a stable order with an opaque cursor; an address prefix;
//! every user present throughout a paging appears exactly once while others come and go.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::Server;

/// Every page from the start, with `query` (without the cursor); the usernames, in order.
async fn page_through(s: &Server, token: &str, query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let path = match &cursor {
            Some(c) => format!("/users?{query}&cursor={c}"),
            None => format!("/users?{query}"),
        };
        let page = s.get(&path, Some(token)).await.expect(200, None);
        for u in page["users"].as_array().unwrap() {
            assert!(u.get("password_hash").is_none(), "{u}");
            names.push(u["username"].as_str().unwrap().to_string());
        }
        match &page["next_cursor"] {
            Value::String(c) => cursor = Some(c.clone()),
            Value::Null => return names,
            other => panic!("next_cursor {other}"),
        }
    }
    panic!("more than 200 pages")
}

#[tokio::test]
async fn only_an_admin_with_the_admin_scope_may_list() {
    let s = Server::start().await;
    let user = s.user("uno").await;
    let admin = s.admin("boss").await;
    s.get("/users", None)
        .await
        .expect(401, Some("unauthorized"));
    s.get("/users", Some(&user))
        .await
        .expect(403, Some("forbidden"));
    // An admin's token without the admin scope is not an admin's.
    let narrow = s.narrow_token("boss").await;
    s.get("/users", Some(&narrow))
        .await
        .expect(403, Some("forbidden"));
    let page = s.get("/users", Some(&admin)).await.expect(200, None);
    let names: Vec<&str> = page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["boss", "uno"]);
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn pages_follow_the_cursor_the_limit_and_the_address_prefix() {
    let s = Server::start().await;
    let admin = s.admin("root").await;
    let mut expected = vec!["root".to_string()];
    for i in 0..29 {
        let name = format!("{}user{i:02}", if i % 2 == 0 { "a" } else { "B" });
        s.sign_up(&name).await;
        expected.push(name);
    }
    expected.sort_by_key(|n| n.to_lowercase());
    let first = s.get("/users", Some(&admin)).await.expect(200, None);
    assert_eq!(
        first["users"].as_array().unwrap().len(),
        25,
        "the default limit"
    );
    assert!(first["next_cursor"].is_string());
    assert_eq!(page_through(&s, &admin, "limit=7").await, expected);
    assert_eq!(page_through(&s, &admin, "limit=100").await, expected);
    // The address prefix, case-insensitive (the test addresses are <username>@example.com).
    let b: Vec<String> = expected
        .iter()
        .filter(|n| n.starts_with('B'))
        .cloned()
        .collect();
    assert_eq!(page_through(&s, &admin, "limit=4&email_prefix=b").await, b);
    assert_eq!(
        page_through(&s, &admin, "email_prefix=AUSER0").await.len(),
        5,
        "auser00 to auser08"
    );
    for bad in [
        "limit=0",
        "limit=101",
        "limit=x",
        "limit=-1",
        "cursor=%%%",
        "cursor=not*base64",
        &format!("cursor={}", "A".repeat(200)),
        &format!("email_prefix={}", "e".repeat(255)),
        // A sign or a repeated parameter is refused, not read one way or another.
        "limit=+5",
        "limit=%2B5",
        "limit=5&limit=6",
        "limit=5&email_prefix=a&email_prefix=b",
        "cursor=YQ&cursor=Yg",
        "limit=0005",
    ] {
        let body = s
            .get(&format!("/users?{bad}"), Some(&admin))
            .await
            .expect(400, Some("invalid_query"));
        let message = body["message"].as_str().unwrap();
        assert!(!message.ends_with(".."), "{message}");
    }
    let user = s.user("plain").await;
    let refused = s
        .get("/users", Some(&user))
        .await
        .expect(403, Some("forbidden"));
    assert_eq!(
        refused["message"],
        "Forbidden: only an admin may list the users."
    );
}

#[tokio::test]
async fn paging_while_others_sign_up_and_leave_shows_each_user_present_throughout_once() {
    let s = Server::start().await;
    let admin = s.admin("root").await;
    let mut staying = vec!["root".to_string()];
    for i in 0..30 {
        let name = format!("stay{i:02}");
        s.sign_up(&name).await;
        staying.push(name);
    }
    // They sort first, so the first pages show them.
    let leaving: Vec<String> = (0..15).map(|i| format!("bleave{i:02}")).collect();
    for name in &leaving {
        s.sign_up(name).await;
    }
    // Between each two pages someone signs up or someone leaves, both sorting before the
    // cursor (new names sort first; those leaving were shown already): each moves every later
    // user one place, so paging by position would show a user twice or skip one.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut order = Vec::new();
    let mut cursor: Option<String> = None;
    let mut left = leaving.iter();
    for step in 0.. {
        let path = match &cursor {
            Some(c) => format!("/users?limit=5&cursor={c}"),
            None => "/users?limit=5".to_string(),
        };
        let page = s.get(&path, Some(&admin)).await.expect(200, None);
        for u in page["users"].as_array().unwrap() {
            let name = u["username"].as_str().unwrap().to_string();
            *seen.entry(name.clone()).or_default() += 1;
            order.push(name.to_lowercase());
        }
        if step % 2 == 0 {
            s.sign_up(&format!("aaa{step:02}")).await;
        } else if let Some(leaver) = left.next() {
            assert!(
                seen.contains_key(leaver),
                "{leaver} was shown before it leaves"
            );
            s.delete(&format!("/user/{leaver}"), Some(&admin))
                .await
                .expect(204, None);
        }
        match &page["next_cursor"] {
            Value::String(c) => cursor = Some(c.clone()),
            _ => break,
        }
    }
    for name in &staying {
        assert_eq!(
            seen.get(name),
            Some(&1),
            "{name} present throughout: {seen:?}"
        );
    }
    assert!(seen.values().all(|&n| n == 1), "no user twice: {seen:?}");
    assert!(
        !seen.keys().any(|n| n.starts_with("aaa")),
        "those who signed up behind the cursor are not shown: {seen:?}"
    );
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "one order across the pages");
}
