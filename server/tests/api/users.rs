//! GET /user, GET|PUT|DELETE /user/{username}: the authorization matrix, updates, deletion.

use serde_json::json;

use crate::common::{PASSWORD, Server, email};

#[tokio::test]
async fn the_authorization_matrix() {
    let s = Server::start().await;
    let victor = s.user("victor").await;
    let wendy = s.user("wendy").await;
    let admin = s.admin("root").await;

    // Anonymous: 401 everywhere (see tokens.rs). Self: everything on its own account.
    assert_eq!(
        s.get("/user", Some(&victor)).await.expect(200, None)["username"],
        "victor"
    );
    assert_eq!(
        s.get("/user/VICTOR", Some(&victor)).await.expect(200, None)["username"],
        "victor"
    );
    s.put("/user/victor", Some(&victor), json!({"x": 1}))
        .await
        .expect(200, None);

    // Another user: 403, whether the account exists or not.
    s.get("/user/wendy", Some(&victor))
        .await
        .expect(403, Some("forbidden"));
    s.get("/user/nobody", Some(&victor))
        .await
        .expect(403, Some("forbidden"));
    s.put("/user/wendy", Some(&victor), json!({"x": 1}))
        .await
        .expect(403, Some("forbidden"));
    s.delete("/user/wendy", Some(&victor))
        .await
        .expect(403, Some("forbidden"));
    s.get("/user/wendy", Some(&wendy)).await.expect(200, None);

    // An admin: anyone; a missing user is 404.
    assert_eq!(
        s.get("/user/Wendy", Some(&admin)).await.expect(200, None)["username"],
        "wendy"
    );
    s.get("/user/nobody", Some(&admin))
        .await
        .expect(404, Some("user_not_found"));
    s.put("/user/nobody", Some(&admin), json!({}))
        .await
        .expect(404, Some("user_not_found"));
    s.delete("/user/nobody", Some(&admin))
        .await
        .expect(404, Some("user_not_found"));
    let r = s
        .put("/user/wendy", Some(&admin), json!({"note": "checked"}))
        .await
        .expect(200, None);
    assert_eq!(r["data"], json!({"note": "checked"}));
    s.delete("/user/wendy", Some(&admin))
        .await
        .expect(204, None);
    s.get("/user/wendy", Some(&admin))
        .await
        .expect(404, Some("user_not_found"));
}

#[tokio::test]
async fn admin_powers_need_the_admin_scope_and_the_admin_role_now() {
    let s = Server::start().await;
    s.user("xena").await;
    s.admin("root").await;
    let scoped_down = s
        .post(
            "/auth",
            None,
            json!({"username": "root", "password": PASSWORD, "scope": ["widgets"]}),
        )
        .await
        .expect(200, None);
    let token = scoped_down["token"].as_str().unwrap();
    s.get("/user/xena", Some(token))
        .await
        .expect(403, Some("forbidden"));

    let full = s.log_in("root").await;
    s.get("/user/xena", Some(&full)).await.expect(200, None);
    // Demoted by another admin: the old token loses its powers at once.
    let other = s.admin("boss").await;
    s.put("/user/root", Some(&other), json!({"role": "user"}))
        .await
        .expect(200, None);
    s.get("/user/xena", Some(&full))
        .await
        .expect(403, Some("forbidden"));
    // A user promoted by the operator gets the powers from its next login.
    let xena_before = s.log_in("xena").await;
    s.state
        .store
        .set_role("xena", shared::user::Role::Admin, s.clock.now())
        .await
        .unwrap();
    s.get("/user/root", Some(&xena_before))
        .await
        .expect(403, Some("forbidden"));
    let xena_after = s.log_in("xena").await;
    s.get("/user/root", Some(&xena_after))
        .await
        .expect(200, None);
}

#[tokio::test]
async fn put_replaces_data_verbatim_and_guards_the_rest() {
    let s = Server::start().await;
    let yuri = s.user("yuri").await;
    let data = json!({
        "name": "Юрий Гагарин 🚀",
        "nested": {"deep": {"deeper": [1, 2.5, -3e10, true, null, "x"]}},
        "list": [{"a": null}, [], {}],
        "empty": "",
        "nothing": null,
        "zeta": 1, "alpha": 2
    });
    let r = s
        .put("/user/yuri", Some(&yuri), data.clone())
        .await
        .expect(200, None);
    assert_eq!(r["data"], data);
    assert_eq!(r["name"], "Юрий Гагарин 🚀");
    let fetched = s.get("/user", Some(&yuri)).await;
    assert_eq!(fetched.json()["data"], data);
    // Key order is kept as sent.
    assert!(fetched.text.find("\"zeta\"").unwrap() < fetched.text.find("\"alpha\"").unwrap());
    // Replaced whole, not merged.
    let r = s
        .put("/user/yuri", Some(&yuri), json!({"only": 1}))
        .await
        .expect(200, None);
    assert_eq!(r["data"], json!({"only": 1}));
    assert_eq!(r["name"], "yuri");

    for member in [
        "username",
        "email",
        "password",
        "user_id",
        "created_at",
        "updated_at",
    ] {
        let b = s
            .put("/user/yuri", Some(&yuri), json!({member: "x"}))
            .await
            .expect(400, Some("validation_failed"));
        assert!(b["fields"][member].is_string(), "{b}");
    }
    s.put("/user/yuri", Some(&yuri), json!({"role": "admin"}))
        .await
        .expect(403, Some("forbidden"));
    s.put("/user/yuri", Some(&yuri), json!({"activated": false}))
        .await
        .expect(403, Some("forbidden"));
    s.put(
        "/user/yuri",
        Some(&yuri),
        json!({"big": "x".repeat(17 * 1024)}),
    )
    .await
    .expect(400, Some("validation_failed"));
    s.put("/user/yuri", Some(&yuri), json!([1]))
        .await
        .expect(400, Some("invalid_json"));
    let me = s.get("/user", Some(&yuri)).await.expect(200, None);
    assert_eq!(me["role"], "user");
    assert_eq!(
        me["data"],
        json!({"only": 1}),
        "refused updates change nothing"
    );
}

#[tokio::test]
async fn admins_set_role_and_activation() {
    let s = Server::start().await;
    let zoe = s.user("zoe").await;
    let admin = s.admin("root").await;
    s.put("/user/zoe", Some(&admin), json!({"role": "superuser"}))
        .await
        .expect(400, Some("validation_failed"));
    s.put("/user/zoe", Some(&admin), json!({"activated": "yes"}))
        .await
        .expect(400, Some("validation_failed"));
    let r = s
        .put(
            "/user/zoe",
            Some(&admin),
            json!({"role": "admin", "k": "v"}),
        )
        .await
        .expect(200, None);
    assert_eq!(
        (r["role"].as_str(), &r["data"]),
        (Some("admin"), &json!({"k": "v"}))
    );
    // Deactivating ends the user's sessions and blocks login.
    let r = s
        .put("/user/zoe", Some(&admin), json!({"activated": false}))
        .await
        .expect(200, None);
    assert_eq!(r["activated"], false);
    s.get("/user", Some(&zoe))
        .await
        .expect(401, Some("invalid_token"));
    s.post(
        "/auth",
        None,
        json!({"username": "zoe", "password": PASSWORD}),
    )
    .await
    .expect(403, Some("account_not_activated"));
    // No activation link brings a deactivated account back, not even one never clicked.
    s.sign_up("dora").await;
    s.clock.advance(60); // past the mail throttle's minute
    s.post("/activate/resend", None, json!({"email": email("dora")}))
        .await
        .expect(202, None);
    let links: Vec<String> = s
        .mails()
        .iter()
        .filter(|m| m["to"] == email("dora"))
        .map(|m| {
            m["text"]
                .as_str()
                .unwrap()
                .lines()
                .find(|l| l.contains("/activate?token="))
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(links.len(), 2);
    let path = |link: &str| link.trim_start_matches(&s.base).to_string();
    s.get(&path(&links[0]), None).await.expect(200, None);
    s.put("/user/dora", Some(&admin), json!({"activated": false}))
        .await
        .expect(200, None);
    // Every link is spent, and none says the account is active.
    for link in &links {
        s.get(&path(link), None)
            .await
            .expect(400, Some("invalid_activation_token"));
    }
    let dora = s
        .state
        .store
        .find_user_by_username("dora", s.clock.now())
        .await
        .unwrap()
        .unwrap();
    assert!(!dora.activated, "still deactivated");
    // An admin may activate an account whose mail never arrived.
    s.sign_up("amy").await;
    s.put("/user/amy", Some(&admin), json!({"activated": true}))
        .await
        .expect(200, None);
    s.log_in("amy").await;
}

#[tokio::test]
async fn deleting_a_user_ends_its_sessions_and_frees_its_names() {
    let s = Server::start().await;
    let first = s.user("bart").await;
    let second = s.log_in("bart").await;
    s.delete("/user/Bart", Some(&first)).await.expect(204, None);
    for t in [&first, &second] {
        s.get("/user", Some(t))
            .await
            .expect(401, Some("invalid_token"));
    }
    s.post(
        "/auth",
        None,
        json!({"username": "bart", "password": PASSWORD}),
    )
    .await
    .expect(401, Some("invalid_credentials"));
    // Signed up again: a new account, not the old one (a minute later: the mail throttle).
    s.clock.advance(60);
    let again = s
        .post(
            "/user",
            None,
            json!({"username": "BART", "email": email("bart"), "password": PASSWORD}),
        )
        .await
        .expect(201, None);
    assert_eq!(again["username"], "BART");
    s.activate("bart").await;
    let t = s.log_in("bart").await;
    s.get("/user", Some(&first))
        .await
        .expect(401, Some("invalid_token"));
    assert_eq!(
        s.get("/user", Some(&t)).await.expect(200, None)["data"],
        json!({})
    );
}

#[tokio::test]
async fn a_username_path_that_is_not_utf8_is_a_json_400() {
    let s = Server::start().await;
    let token = s.user("paths").await;
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let r = s.call(method, "/user/%FF%FE", Some(&token), None).await;
        let b = r.expect(400, Some("validation_failed"));
        assert!(b["fields"]["username"].is_string(), "{b}");
    }
    s.put("/user/%C3%28", Some(&token), json!({}))
        .await
        .expect(400, Some("validation_failed"));
}

/// A profile at its limit (16 KiB, a name of characters JSON writes six bytes each) still logs
/// in, and its tokens work: a token carries 64 characters of the name at most. A 5,000
/// character name once made every later token 7 KB, over the 4,096-byte cap, locking the
/// account out.
#[tokio::test]
async fn a_maximal_profile_still_logs_in_and_its_token_works() {
    let s = Server::start().await;
    let token = s.user("verbose").await;
    for name in ["N".repeat(5000), "\u{1}".repeat(2700), "€".repeat(5000)] {
        s.put("/user/verbose", Some(&token), json!({"name": name}))
            .await
            .expect(200, None);
        let fresh = s.log_in("verbose").await;
        assert!(fresh.len() <= 4096, "{} bytes", fresh.len());
        let claims = crate::common::jwt_part(&fresh, 1);
        let expected: String = name.chars().take(64).collect();
        assert_eq!(claims["name"], expected.as_str());
        let me = s.get("/user", Some(&fresh)).await.expect(200, None);
        assert_eq!(
            me["name"],
            name.as_str(),
            "the profile keeps the whole name"
        );
    }
}
