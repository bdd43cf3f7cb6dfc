//! POST /user: sign-up, its validation, uniqueness, races, and mail failure.

use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{PASSWORD, Server, email};

#[tokio::test]
async fn sign_up_creates_an_inactive_user_and_mails_a_link() {
    let s = Server::start().await;
    let r = s
        .post(
            "/user",
            None,
            json!({
                "username": "Alice",
                "email": "alice@example.com",
                "password": PASSWORD,
                "name": "Alice Liddell",
                "address": {"street": "1 Rabbit Hole", "geo": [51.75, -1.25]},
                "phone": null,
            }),
        )
        .await;
    let user = r.expect(201, None);
    assert_eq!(r.header("location"), Some("/user/Alice"));
    assert_eq!(user["username"], "Alice");
    assert_eq!(user["name"], "Alice Liddell");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["activated"], false);
    assert_eq!(user["role"], "user");
    assert_eq!(
        user["data"],
        json!({"name": "Alice Liddell", "address": {"street": "1 Rabbit Hole", "geo": [51.75, -1.25]}, "phone": null})
    );
    // Kept verbatim, in the order sent.
    let order = [
        "\"name\"",
        "\"address\"",
        "\"street\"",
        "\"geo\"",
        "\"phone\"",
    ];
    let at: Vec<usize> = order.iter().map(|k| r.text.rfind(k).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", r.text);
    assert!(user["user_id"].as_str().is_some_and(|id| id.len() >= 32));
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(
        !r.text.contains(PASSWORD) && !r.text.contains("argon2") && !r.text.contains("password")
    );

    let mails = s.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["to"], "alice@example.com");
    let token = s.activation_token("alice@example.com");
    assert!(token.len() >= 22, "at least 128 bits: {token}");
    // Stored only as a hash: the database file never holds the token itself.
    if crate::common::dynamodb_mode() {
        return;
    }
    let db = std::fs::read(s.data_dir.join("accounts.db")).unwrap();
    let wal = std::fs::read(s.data_dir.join("accounts.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()));
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes())
        );
    }
}

#[tokio::test]
async fn every_field_is_validated_with_a_named_error() {
    let s = Server::start().await;
    let r = s.post("/user", None, json!({})).await;
    let body = r.expect(400, Some("validation_failed"));
    for f in ["username", "email", "password"] {
        assert!(body["fields"][f].is_string(), "{f}: {body}");
    }
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"username": "ab", "email": "ab@example.com", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "a".repeat(33), "email": "ab@example.com", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "al ice", "email": "ab@example.com", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "alicé", "email": "ab@example.com", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": 42, "email": "ab@example.com", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "alice", "email": "not-an-email", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"username": "alice", "email": "a@b", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"username": "alice", "email": ["a@example.com"], "password": PASSWORD}),
            "email",
        ),
        (
            json!({"username": "alice", "email": "a@example.com", "password": "Zq8#vL2"}),
            "password",
        ),
        (
            json!({"username": "alice", "email": "a@example.com", "password": "Zq8#vL2!".repeat(33)}),
            "password",
        ),
        (
            json!({"username": "alice", "email": "a@example.com", "password": PASSWORD, "data": "x".repeat(17 * 1024)}),
            "data",
        ),
    ];
    for (body, field) in cases {
        let r = s.post("/user", None, body.clone()).await;
        let b = r.expect(400, Some("validation_failed"));
        assert!(b["fields"][field].is_string(), "{field} in {b} for {body}");
    }
    assert!(s.mails().is_empty(), "no mail for a refused sign-up");
}

#[tokio::test]
async fn reserved_members_are_refused_so_no_one_signs_up_as_admin() {
    let s = Server::start().await;
    for member in ["role", "activated", "user_id", "created_at", "updated_at"] {
        let mut body =
            json!({"username": "mallory", "email": "m@example.com", "password": PASSWORD});
        body[member] = json!(if member == "activated" {
            json!(true)
        } else {
            json!("admin")
        });
        let b = s
            .post("/user", None, body)
            .await
            .expect(400, Some("validation_failed"));
        assert!(b["fields"][member].is_string(), "{b}");
    }
    s.get("/user/mallory", None)
        .await
        .expect(401, Some("unauthorized"));
    assert!(
        s.state
            .store
            .find_user_by_username("mallory", s.clock.now())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn weak_passwords_are_refused() {
    let s = Server::start().await;
    for pw in [
        "password",
        "password123",
        "12345678",
        "qwertyuiop",
        "alice-in-2026",
        "wonderland!",
        "Liddell1865",
    ] {
        let r = s
            .post(
                "/user",
                None,
                json!({"username": "alice", "email": "wonderland@example.com", "password": pw}),
            )
            .await;
        // "Liddell1865" is not built from the names here, but is guessable: zxcvbn decides.
        if pw == "Liddell1865" && r.status == 201 {
            continue;
        }
        r.expect(400, Some("weak_password"));
    }
    // Long passphrases and 256-character passwords are fine.
    let long: String = (0..256)
        .map(|i| char::from(b'!' + (i * 7 % 90) as u8))
        .collect();
    s.post(
        "/user",
        None,
        json!({"username": "bob", "email": "bob@example.com", "password": long}),
    )
    .await
    .expect(201, None);
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_or_too_large_are_refused() {
    let s = Server::start().await;
    for raw in [
        "",
        "not json",
        "{\"username\":",
        "[]",
        "42",
        "\"x\"",
        "null",
    ] {
        s.raw(Method::POST, "/user", raw.to_string())
            .await
            .expect(400, Some("invalid_json"));
    }
    let big = format!("{{\"username\":\"{}\"}}", "x".repeat(64 * 1024));
    s.raw(Method::POST, "/user", big)
        .await
        .expect(413, Some("payload_too_large"));
    // Without a Content-Length (chunked), the limit holds too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..70).map(|_| Ok(vec![b' '; 1024])).collect();
    let stream = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    s.raw(Method::POST, "/user", stream)
        .await
        .expect(413, Some("payload_too_large"));
}

#[tokio::test]
async fn usernames_and_emails_are_unique_case_insensitively_and_keep_their_case() {
    let s = Server::start().await;
    s.sign_up("Alice").await;
    let r = s
        .post(
            "/user",
            None,
            json!({"username": "aLiCe", "email": "other@example.com", "password": PASSWORD}),
        )
        .await;
    r.expect(409, Some("username_taken"));
    let r = s
        .post(
            "/user",
            None,
            json!({"username": "alice2", "email": "ALICE@Example.COM", "password": PASSWORD}),
        )
        .await;
    r.expect(409, Some("email_taken"));
    let token = s.user("bob").await;
    // The username keeps its case; it only matches case-insensitively (in the path too).
    s.activate("Alice").await;
    let alice = s.log_in("ALICE").await;
    let me = s.get("/user/alice", Some(&alice)).await.expect(200, None);
    assert_eq!(me["username"], "Alice");
    s.get("/user/ALICE", Some(&token))
        .await
        .expect(403, Some("forbidden"));
}

#[tokio::test]
async fn a_sign_up_refused_for_several_reasons_gives_the_first_weak_then_username_then_email() {
    // The strength check, the hash and the name lookups run at once; the answer must not
    // depend on which finishes first.
    let s = Server::start().await;
    s.sign_up("alice").await;
    let body = |username: &str, password: &str| json!({"username": username, "email": email("alice"), "password": password});
    for (username, password, status, code) in [
        ("ALICE", "password123", 400, "weak_password"), // name and email taken, weak
        ("ALICE", PASSWORD, 409, "username_taken"),     // name and email taken
        ("alice2", "alice2alice2", 400, "weak_password"), // email taken, weak
        ("alice2", PASSWORD, 409, "email_taken"),       // email taken
    ] {
        s.post("/user", None, body(username, password))
            .await
            .expect(status, Some(code));
    }
    assert_eq!(s.mails().len(), 1, "no mail for a refused sign-up");
}

#[tokio::test]
async fn racing_sign_ups_for_one_username_or_one_email_give_exactly_one_201() {
    let s = Server::start().await;
    let by_name = (0..12).map(|i| {
        s.post("/user", None, json!({"username": "racer", "email": format!("r{i}@example.com"), "password": PASSWORD}))
    });
    let replies = join_all(by_name).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(
        replies
            .iter()
            .filter(|r| r.status != 201)
            .all(|r| r.status == 409 && r.json()["error"] == "username_taken")
    );

    let by_email = (0..12).map(|i| {
        s.post("/user", None, json!({"username": format!("racer{i}"), "email": "same@example.com", "password": PASSWORD}))
    });
    let replies = join_all(by_email).await;
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    assert!(
        replies
            .iter()
            .filter(|r| r.status != 201)
            .all(|r| r.status == 409 && r.json()["error"] == "email_taken")
    );
    assert_eq!(s.mails().len(), 2, "one mail per account created");
}

#[tokio::test]
async fn a_mail_that_cannot_be_sent_fails_the_sign_up_and_keeps_nothing() {
    let s = Server::start().await;
    // The logging mailer appends to mail.log: make that impossible (a directory in its place).
    let mail_log = s.data_dir.join("mail.log");
    std::fs::create_dir(&mail_log).unwrap();
    let body = json!({"username": "carol", "email": "carol@example.com", "password": PASSWORD});
    let r = s.post("/user", None, body.clone()).await;
    let b = r.expect(503, Some("mail_unavailable"));
    assert!(
        !r.text.contains("mail.log") && !r.text.contains("Is a directory"),
        "generic: {b}"
    );
    assert!(
        s.state
            .store
            .find_user_by_username("carol", s.clock.now())
            .await
            .unwrap()
            .is_none()
    );
    std::fs::remove_dir(&mail_log).unwrap();
    // The same username and email can be used again at once.
    s.post("/user", None, body).await.expect(201, None);
    assert_eq!(s.mails().len(), 1);
}

#[tokio::test]
async fn an_account_never_activated_frees_its_names_after_24_hours() {
    let s = Server::start().await;
    s.sign_up("dave").await;
    let again = json!({"username": "dave", "email": email("dave"), "password": PASSWORD});
    s.post("/user", None, again.clone())
        .await
        .expect(409, Some("username_taken"));
    s.clock.advance(24 * 3600 - 60);
    s.post("/user", None, again.clone())
        .await
        .expect(409, Some("username_taken"));
    s.clock.advance(61);
    let user = s.post("/user", None, again).await.expect(201, None);
    assert_eq!(user["activated"], false);
}

/// Lookalike addresses: a local part in the Kelvin sign or fullwidth letters is refused (SES
/// delivers only to ASCII local parts; they signed up and then held their ASCII twin, or were
/// a second account for it), so are quoted local parts that read as other mailboxes; a domain
/// in fullwidth letters is its ASCII twin (compared after NFKC), so taken.
#[tokio::test]
async fn lookalike_and_quoted_addresses_are_refused_or_taken() {
    let s = Server::start().await;
    s.sign_up("kate").await;
    for (i, address) in [
        "\u{212A}ate@example.com",
        "ｋａｔｅ@example.com",
        "ａｌｉｃｅ@example.com",
        "\"<evil@evil.com>\"@example.com",
        "\"evil@evil.com,\"@example.com",
    ]
    .into_iter()
    .enumerate()
    {
        let r = s
            .post(
                "/user",
                None,
                json!({"username": format!("look{i}"), "email": address, "password": PASSWORD}),
            )
            .await;
        let body = r.expect(400, Some("validation_failed"));
        assert!(body["fields"]["email"].is_string(), "{address}: {body}");
    }
    let r = s
        .post(
            "/user",
            None,
            json!({"username": "twin", "email": "kate@ＥＸＡＭＰＬＥ.com", "password": PASSWORD}),
        )
        .await;
    r.expect(409, Some("email_taken"));
}
