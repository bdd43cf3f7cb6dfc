//! OAuth clients: admins register, list and remove them; a confidential client's secret is
//! answered once and kept only as its hash; the rules of a registration; the limit, also when
//! registrations race; the operator's `accounts add-client`.

use serde_json::{Value, json};
use shared::store::MAX_CLIENTS;

use crate::common::Server;
use crate::mfa::{code_at, enrol, first_step, second_step};

fn registration(name: &str) -> Value {
    json!({"name": name, "redirect_uris": ["https://shop.example.com/callback"]})
}

#[tokio::test]
async fn an_admin_registers_lists_and_removes_a_client_whose_secret_is_shown_once() {
    let s = Server::start().await;
    let admin = s.admin("boss").await;
    let body = json!({
        "name": "Ada's shop",
        "redirect_uris": ["https://shop.example.com/callback", "http://127.0.0.1:8080/cb"],
        "post_logout_redirect_uris": ["https://shop.example.com/"],
        "scopes": ["email", "openid", "email"],
    });
    let added = s
        .post("/oauth/clients", Some(&admin), body)
        .await
        .expect(201, None);
    let id = added["client_id"].as_str().unwrap().to_string();
    let secret = added["client_secret"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 22, "128 bits, base64url");
    assert_eq!(secret.len(), 43, "256 bits, base64url");
    assert_eq!(added["name"], "Ada's shop");
    assert_eq!(
        added["scopes"],
        json!(["openid", "email"]),
        "known order, once each"
    );
    assert_eq!(added["public"], false);
    assert_eq!(added["first_party"], false);
    assert_eq!(
        added["post_logout_redirect_uris"],
        json!(["https://shop.example.com/"])
    );

    // The store keeps the secret's SHA-256 only.
    let stored = s.state.store.client(&id).await.unwrap().unwrap();
    assert_eq!(
        stored.secret_hash.as_deref(),
        Some(shared::secret::token_hash(&secret).as_str())
    );
    assert!(!format!("{stored:?}").contains(&secret));

    // Listed, never with a secret.
    let list = s
        .get("/oauth/clients", Some(&admin))
        .await
        .expect(200, None);
    let clients = list["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0]["client_id"], id.as_str());
    assert!(clients[0].get("client_secret").is_none(), "{list}");
    assert!(!list.to_string().contains(&secret));

    // A public client gets no secret.
    let public = s
        .post(
            "/oauth/clients",
            Some(&admin),
            json!({"name": "SPA", "redirect_uris": ["http://localhost:5173/cb"], "public": true, "first_party": true}),
        )
        .await
        .expect(201, None);
    assert!(public.get("client_secret").is_none(), "{public}");
    assert_eq!(public["scopes"], json!(["openid", "profile", "email"]));
    assert_eq!(public["first_party"], true);
    assert!(
        s.state
            .store
            .client(public["client_id"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap()
            .secret_hash
            .is_none()
    );

    // Removed once; then it is not found.
    s.delete(&format!("/oauth/clients/{id}"), Some(&admin))
        .await
        .expect(204, None);
    s.delete(&format!("/oauth/clients/{id}"), Some(&admin))
        .await
        .expect(404, Some("client_not_found"));
    s.delete("/oauth/clients/not-an-id", Some(&admin))
        .await
        .expect(404, Some("client_not_found"));
    assert!(s.state.store.client(&id).await.unwrap().is_none());
    let list = s
        .get("/oauth/clients", Some(&admin))
        .await
        .expect(200, None);
    assert_eq!(list["clients"].as_array().unwrap().len(), 1);

    // Both recorded, with the client named and nothing secret.
    let events = s
        .get("/events?type=client_added", Some(&admin))
        .await
        .expect(200, None);
    let added_events = events["events"].as_array().unwrap();
    assert_eq!(added_events.len(), 2);
    assert_eq!(added_events[1]["detail"]["client_id"], id.as_str());
    assert_eq!(added_events[1]["actor"]["kind"], "user");
    assert_eq!(added_events[1]["actor"]["username"], "boss");
    assert!(!events.to_string().contains(&secret));
    let removed = s
        .get("/events?type=client_removed", Some(&admin))
        .await
        .expect(200, None);
    assert_eq!(removed["events"][0]["detail"]["client_id"], id.as_str());
}

#[tokio::test]
async fn only_admins_touch_clients() {
    let s = Server::start().await;
    let user = s.user("uno").await;
    let admin = s.admin("boss").await;
    let id = s
        .post("/oauth/clients", Some(&admin), registration("Shop"))
        .await
        .expect(201, None)["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/oauth/clients/{id}");
    s.post("/oauth/clients", None, registration("X"))
        .await
        .expect(401, Some("unauthorized"));
    s.get("/oauth/clients", None)
        .await
        .expect(401, Some("unauthorized"));
    s.delete(&path, None)
        .await
        .expect(401, Some("unauthorized"));
    s.post("/oauth/clients", Some(&user), registration("X"))
        .await
        .expect(403, Some("forbidden"));
    s.get("/oauth/clients", Some(&user))
        .await
        .expect(403, Some("forbidden"));
    s.delete(&path, Some(&user))
        .await
        .expect(403, Some("forbidden"));
    // An admin's token without the admin scope is not an admin's.
    let narrow = s.narrow_token("boss").await;
    s.delete(&path, Some(&narrow))
        .await
        .expect(403, Some("forbidden"));
    assert!(s.state.store.client(&id).await.unwrap().is_some());
    assert_eq!(s.state.store.list_clients().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_registration_that_breaks_a_rule_is_refused_with_the_member_named() {
    let s = Server::start().await;
    let admin = s.admin("boss").await;
    let uris = |list: Value| json!({"name": "Shop", "redirect_uris": list});
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"redirect_uris": ["https://a.example.com/cb"]}),
            "name",
        ),
        (
            json!({"name": " ", "redirect_uris": ["https://a.example.com/cb"]}),
            "name",
        ),
        (
            json!({"name": "x".repeat(101), "redirect_uris": ["https://a.example.com/cb"]}),
            "name",
        ),
        (
            json!({"name": "a\u{7}b", "redirect_uris": ["https://a.example.com/cb"]}),
            "name",
        ),
        (json!({"name": "Shop"}), "redirect_uris"),
        (uris(json!([])), "redirect_uris"),
        (uris(json!("https://a.example.com/cb")), "redirect_uris"),
        (uris(json!(["http://a.example.com/cb"])), "redirect_uris"),
        (uris(json!(["https://a.example.com/cb#x"])), "redirect_uris"),
        (
            uris(json!(["https://u:p@a.example.com/cb"])),
            "redirect_uris",
        ),
        (uris(json!(["/cb"])), "redirect_uris"),
        (uris(json!(["javascript:alert(1)"])), "redirect_uris"),
        (
            uris(json!(
                (0..11)
                    .map(|i| format!("https://a.example.com/{i}"))
                    .collect::<Vec<_>>()
            )),
            "redirect_uris",
        ),
        (
            json!({"name": "Shop", "redirect_uris": ["https://a.example.com/cb"], "post_logout_redirect_uris": ["http://a.example.com/"]}),
            "post_logout_redirect_uris",
        ),
        (
            json!({"name": "Shop", "redirect_uris": ["https://a.example.com/cb"], "scopes": ["openid", "root"]}),
            "scopes",
        ),
        (
            json!({"name": "Shop", "redirect_uris": ["https://a.example.com/cb"], "public": "yes"}),
            "public",
        ),
    ];
    for (body, member) in cases {
        let r = s
            .post("/oauth/clients", Some(&admin), body.clone())
            .await
            .expect(400, Some("validation_failed"));
        assert!(
            r["fields"].get(member).is_some(),
            "{body}: {member} not named in {r}"
        );
    }
    assert!(s.state.store.list_clients().await.unwrap().is_empty());
}

/// The limit holds when registrations arrive together: of 8 racing for the last 3 places,
/// exactly 3 are registered, and the rest answer `409 too_many_clients`.
#[tokio::test]
async fn at_most_the_limit_of_clients_even_when_registrations_race() {
    let s = Server::start().await;
    let admin = s.admin("boss").await;
    for i in 0..MAX_CLIENTS - 3 {
        s.post(
            "/oauth/clients",
            Some(&admin),
            registration(&format!("app {i}")),
        )
        .await
        .expect(201, None);
    }
    let racing = (0..8).map(|i| {
        let (s, admin) = (&s, &admin);
        async move {
            s.post(
                "/oauth/clients",
                Some(admin),
                registration(&format!("late {i}")),
            )
            .await
        }
    });
    let answers = futures::future::join_all(racing).await;
    let added = answers.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        added,
        3,
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != 201) {
        r.expect(409, Some("too_many_clients"));
    }
    let list = s
        .get("/oauth/clients", Some(&admin))
        .await
        .expect(200, None);
    assert_eq!(list["clients"].as_array().unwrap().len(), MAX_CLIENTS);
    // A removal frees a place.
    let first = list["clients"][0]["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    s.delete(&format!("/oauth/clients/{first}"), Some(&admin))
        .await
        .expect(204, None);
    s.post("/oauth/clients", Some(&admin), registration("again"))
        .await
        .expect(201, None);
    s.post("/oauth/clients", Some(&admin), registration("one too many"))
        .await
        .expect(409, Some("too_many_clients"));
}

/// With a second factor on the admin's account, registering and removing need a sign-in with
/// it at most 10 minutes old, listing one made with it.
#[tokio::test]
async fn an_admin_with_a_second_factor_proves_it_to_touch_clients() {
    let s = Server::start().await;
    let admin = s.admin("eve").await;
    let e = enrol(&s, "eve", admin).await;
    // The enrolling sign-in is aal1: refused.
    s.post("/oauth/clients", Some(&e.token), registration("Shop"))
        .await
        .expect(403, Some("step_up_required"));
    s.get("/oauth/clients", Some(&e.token))
        .await
        .expect(403, Some("step_up_required"));
    let mfa_token = first_step(&s, "eve").await;
    let strong = second_step(
        &s,
        &mfa_token,
        json!({"code": code_at(&e.secret, s.clock.now())}),
    )
    .await
    .expect(200, None)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let id = s
        .post("/oauth/clients", Some(&strong), registration("Shop"))
        .await
        .expect(201, None)["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Past 10 minutes: still listed (aal2, any age), but not removed without a fresh sign-in.
    s.clock.advance(11 * 60);
    s.get("/oauth/clients", Some(&strong))
        .await
        .expect(200, None);
    s.delete(&format!("/oauth/clients/{id}"), Some(&strong))
        .await
        .expect(403, Some("step_up_required"));
    assert!(s.state.store.client(&id).await.unwrap().is_some());
}
