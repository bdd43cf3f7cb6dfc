//! OAuth clients: kept whole, listed oldest first, removed once, and never more than
//! `MAX_CLIENTS` at once, also when registrations race.

use super::*;
use shared::store::{ClientAdded, MAX_CLIENTS, OAuthClient};

contract!(
    a_client_is_kept_whole_listed_in_order_and_removed_once,
    registrations_racing_for_the_last_places_never_pass_the_limit,
);

fn client(id: &str, at: i64) -> OAuthClient {
    OAuthClient {
        client_id: id.into(),
        name: format!("app {id} — ü"),
        redirect_uris: vec![
            "https://app.example.com/cb".into(),
            "http://127.0.0.1:8080/cb?x=1".into(),
        ],
        post_logout_redirect_uris: vec!["https://app.example.com/".into()],
        scopes: vec!["openid".into(), "email".into()],
        public: false,
        first_party: true,
        secret_hash: Some("ab".repeat(32)),
        created_at: at,
    }
}

async fn a_client_is_kept_whole_listed_in_order_and_removed_once(store: Arc<dyn UserStore>) {
    assert!(store.list_clients().await.unwrap().is_empty());
    assert!(store.client("nope").await.unwrap().is_none());
    let (later, earlier) = (client("b-later", NOW + 5), client("a-earlier", NOW));
    assert_eq!(store.add_client(&later).await.unwrap(), ClientAdded::Added);
    assert_eq!(
        store.add_client(&earlier).await.unwrap(),
        ClientAdded::Added
    );
    assert_eq!(store.client("b-later").await.unwrap(), Some(later.clone()));
    assert_eq!(
        store.list_clients().await.unwrap(),
        vec![earlier, later.clone()]
    );
    assert!(store.remove_client("a-earlier").await.unwrap());
    assert!(!store.remove_client("a-earlier").await.unwrap());
    assert!(!store.remove_client("never").await.unwrap());
    assert_eq!(store.list_clients().await.unwrap(), vec![later]);
}

async fn registrations_racing_for_the_last_places_never_pass_the_limit(store: Arc<dyn UserStore>) {
    for i in 0..MAX_CLIENTS - 2 {
        let c = client(&format!("c{i:03}"), NOW + i as i64);
        assert_eq!(store.add_client(&c).await.unwrap(), ClientAdded::Added);
    }
    let racing: Vec<OAuthClient> = (0..6)
        .map(|i| client(&format!("r{i}"), NOW + 1000))
        .collect();
    let outcomes = join_all(racing.iter().map(|c| store.add_client(c))).await;
    let added = outcomes
        .iter()
        .filter(|o| *o.as_ref().unwrap() == ClientAdded::Added)
        .count();
    assert_eq!(added, 2, "{outcomes:?}");
    assert_eq!(store.list_clients().await.unwrap().len(), MAX_CLIENTS);
    // A removal frees exactly one place.
    assert!(store.remove_client("c000").await.unwrap());
    assert_eq!(
        store
            .add_client(&client("again", NOW + 2000))
            .await
            .unwrap(),
        ClientAdded::Added
    );
    assert_eq!(
        store.add_client(&client("over", NOW + 2001)).await.unwrap(),
        ClientAdded::Full
    );
}
