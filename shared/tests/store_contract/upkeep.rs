//! Each backend's own upkeep: the DynamoDB backfills, the SQLite file's migration and sweep, DynamoDB's TTL.

use super::*;

/// DynamoDB only: user items written before the listing index existed are indexed by the
/// backfill, once (a second run finds nothing to do).
#[tokio::test]
async fn the_backfill_indexes_user_items_written_before_the_listing_index() {
    if !moto_is_there() {
        return;
    }
    let (sdk, table, dynamo) = moto_table("backfill").await;
    let store: Arc<dyn UserStore> = Arc::new(dynamo);
    for (i, name) in ["old1", "old2", "new1"].iter().enumerate() {
        activated(&store, &format!("b{i}"), name).await;
    }
    // As an older release wrote them: without the index's attributes.
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    for id in ["b0", "b1"] {
        client
            .update_item()
            .table_name(&table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{id}")),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("USER".into()),
            )
            .update_expression("REMOVE lpk, ukey, ekey")
            .send()
            .await
            .unwrap();
    }
    assert_eq!(all_pages(&store, None, 10, NOW).await, ["new1"]);
    let dynamo = DynamoStore::new(&sdk, table.clone());
    assert_eq!(dynamo.backfill_user_index().await.unwrap(), 2);
    assert_eq!(
        all_pages(&store, None, 10, NOW).await,
        ["new1", "old1", "old2"]
    );
    assert_eq!(all_pages(&store, Some("old2@"), 10, NOW).await, ["old2"]);
    assert_eq!(dynamo.backfill_user_index().await.unwrap(), 0);
}

/// DynamoDB only: a user whose address was claimed under the key of older releases (before
/// NFKC) is found by its address until the backfill moves the claim, and after it; then its
/// ASCII twin is taken.
#[tokio::test]
async fn the_backfill_moves_address_claims_to_their_nfkc_key() {
    if !moto_is_there() {
        return;
    }
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    let (sdk, table, dynamo) = moto_table("rekey").await;
    let store: Arc<dyn UserStore> = Arc::new(dynamo);
    let wide = "ＫＡＴＥ@example.com";
    create(&store, "k1", "kate", wide).await;
    store.activate("t-k1", NOW + 1).await.unwrap();
    // As an older release wrote it: the claim and `ekey` under the lowercased address.
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let legacy = wide.to_lowercase();
    let claim_key = |k: &str| {
        [
            ("pk".to_string(), Av::S(format!("EMAIL#{k}"))),
            ("sk".to_string(), Av::S("CLAIM".into())),
        ]
    };
    client
        .delete_item()
        .table_name(&table)
        .set_key(Some(claim_key("kate@example.com").into()))
        .send()
        .await
        .unwrap();
    let mut item: std::collections::HashMap<String, Av> = claim_key(&legacy).into();
    item.insert("user_id".into(), Av::S("k1".into()));
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    client
        .update_item()
        .table_name(&table)
        .key("pk", Av::S("USER#k1".into()))
        .key("sk", Av::S("USER".into()))
        .update_expression("SET ekey = :e")
        .expression_attribute_values(":e", Av::S(legacy.clone()))
        .send()
        .await
        .unwrap();
    let found = |address: &'static str| {
        let store = store.clone();
        async move {
            store
                .find_user_by_email(address, NOW + 2)
                .await
                .unwrap()
                .map(|u| u.user_id)
        }
    };
    assert_eq!(
        found(wide).await.as_deref(),
        Some("k1"),
        "by the key of then"
    );
    let dynamo = DynamoStore::new(&sdk, table.clone());
    assert_eq!(dynamo.backfill_user_index().await.unwrap(), 1);
    assert_eq!(found(wide).await.as_deref(), Some("k1"));
    assert_eq!(found("kate@example.com").await.as_deref(), Some("k1"));
    assert_eq!(
        store
            .create_user(
                &user("k2", "kate2", "kate@example.com"),
                &token("t-k2", NOW + DAY),
                NOW + 2
            )
            .await,
        Err(StoreError::EmailTaken)
    );
    assert_eq!(dynamo.backfill_user_index().await.unwrap(), 0);
}

/// SQLite only: a store file of schema 2 (addresses keyed lowercased) opens with its keys
/// written anew after NFKC, so the ASCII twin of a fullwidth address is taken.
#[tokio::test]
async fn an_older_store_file_rekeys_its_addresses_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.db");
    {
        let store: Arc<dyn UserStore> = Arc::new(SqliteStore::open(&path).unwrap());
        create(&store, "k1", "kate", "ＫＡＴＥ@example.com").await;
        let activation = store.activate("t-k1", NOW).await.unwrap();
        assert!(matches!(activation, ActivationOutcome::Activated(_)));
        assert!(
            store
                .create_session(&session("s1", "k1", 0, NOW), NOW)
                .await
                .unwrap()
        );
    }
    {
        // Back to schema 2, as an older release left it (sessions without refresh columns, no
        // second factor, no events, no OAuth clients).
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(
            "UPDATE users SET email_key = 'ｋａｔｅ@example.com'; \
             ALTER TABLE email_changes DROP COLUMN epoch; \
             ALTER TABLE reset_tokens DROP COLUMN email; \
             ALTER TABLE sessions DROP COLUMN refresh_gen; \
             ALTER TABLE sessions DROP COLUMN refreshed_at; \
             DROP TABLE mfa_challenges; DROP TABLE mfa_factors; DROP TABLE account_events; \
             DROP TABLE oauth_clients; DROP TABLE oauth_codes; DROP TABLE oauth_consents; \
             DROP TABLE passkeys; DROP TABLE passkey_ceremonies; DROP TABLE email_codes; \
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let store: Arc<dyn UserStore> = Arc::new(SqliteStore::open(&path).unwrap());
    // A session of then: generation 0, refreshed when made, and it rotates.
    let (s1, _) = store.authenticate("k1", "s1", NOW).await.unwrap().unwrap();
    assert_eq!(s1, session("s1", "k1", 0, NOW));
    assert!(store.rotate_session(&s1, NOW + 1, NOW + DAY).await.unwrap());
    let found = store
        .find_user_by_email("kate@example.com", NOW)
        .await
        .unwrap();
    assert_eq!(found.map(|u| u.user_id).as_deref(), Some("k1"));
    assert_eq!(
        store
            .create_user(
                &user("k2", "kate2", "kate@example.com"),
                &token("t-k2", NOW + DAY),
                NOW
            )
            .await,
        Err(StoreError::EmailTaken)
    );
}

/// SQLite only: a store file of schema 6 keeps its second factors, and reads them as used to
/// sign in (nothing of theirs is known: a password reset must not remove them).
#[tokio::test]
async fn an_older_store_files_factors_read_as_used_and_survive_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.db");
    {
        let store: Arc<dyn UserStore> = Arc::new(SqliteStore::open(&path).unwrap());
        activated(&store, "f1", "fern").await;
        let factor = TotpFactor {
            user_id: "f1".into(),
            sealed_secret: "sealed".into(),
            enabled: false,
            pending_until: NOW + 600,
            last_step: 0,
            recovery: vec![],
            signed_in: false,
        };
        assert!(store.start_factor(&factor).await.unwrap());
        assert!(store.enable_factor("f1", 1, &[], NOW).await.unwrap());
    }
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        // As version 6 left it: no `signed_in`, no OAuth clients (version 8), no codes or
        // consents (version 9), no passkeys or ceremonies (version 10), no mailed codes nor a
        // challenge's first factor (version 11).
        db.execute_batch(
            "ALTER TABLE mfa_factors DROP COLUMN signed_in; DROP TABLE oauth_clients; \
             DROP TABLE oauth_codes; DROP TABLE oauth_consents; DROP TABLE passkeys; \
             DROP TABLE passkey_ceremonies; DROP TABLE email_codes; \
             ALTER TABLE mfa_challenges DROP COLUMN first_factor; PRAGMA user_version = 6;",
        )
        .unwrap();
    }
    let store: Arc<dyn UserStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let factor = store.factor("f1").await.unwrap().unwrap();
    assert!(factor.enabled && factor.signed_in, "{factor:?}");
    assert!(!store.remove_unproven_factor("f1").await.unwrap());
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 11);
    assert!(store.list_clients().await.unwrap().is_empty());
    assert_eq!(store.email_code("f1", NOW).await.unwrap(), None);
    assert!(store.list_consents("f1").await.unwrap().is_empty());
    assert!(store.passkeys("f1").await.unwrap().is_empty());
    assert_eq!(store.take_ceremony("none", NOW).await.unwrap(), None);
}

/// SQLite only: what anyone's requests store is swept within a day of its end: link tokens a
/// day past their validity (used or not), accounts a day past their activation window.
#[tokio::test]
async fn the_sqlite_sweep_drops_what_outlived_its_use_within_a_day() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.db");
    let store: Arc<dyn UserStore> = Arc::new(SqliteStore::open(&path).unwrap());
    activated(&store, "u1", "xena").await;
    create(&store, "u2", "yuri", "yuri@example.com").await; // never activated
    store
        .add_reset_token(&reset("r1", "u1", "xena", 0, NOW + 3600), NOW)
        .await
        .unwrap();
    store
        .add_email_change(&change("c1", "u1", "xena@new.example", NOW + DAY), NOW)
        .await
        .unwrap();
    let count = |table: &str| -> i64 {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(
        (
            count("reset_tokens"),
            count("email_changes"),
            count("activation_tokens")
        ),
        (1, 1, 2)
    );
    // Two days on, the next write that stores a token sweeps.
    let later = NOW + 2 * DAY + 1;
    store
        .add_reset_token(&reset("r2", "u1", "xena", 0, later + 3600), later)
        .await
        .unwrap();
    assert_eq!(count("reset_tokens"), 1, "only the new one");
    assert_eq!(count("email_changes"), 0);
    assert_eq!(count("activation_tokens"), 0, "used and expired ones");
    assert_eq!(count("users"), 1, "the account never activated is gone");
}

/// DynamoDB only: a link token's TTL is at most a day past its validity, used or not.
#[tokio::test]
async fn dynamodb_link_tokens_expire_by_ttl_a_day_after_their_end() {
    if !moto_is_there() {
        return;
    }
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    let (sdk, table, dynamo) = moto_table("ttl").await;
    let store: Arc<dyn UserStore> = Arc::new(dynamo);
    activated(&store, "u1", "zack").await;
    store
        .add_reset_token(&reset("r1", "u1", "zack", 0, NOW + 3600), NOW)
        .await
        .unwrap();
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let ttl = |pk: &'static str| {
        let client = client.clone();
        let table = table.clone();
        async move {
            let item = client
                .get_item()
                .table_name(table)
                .key("pk", Av::S(pk.into()))
                .key("sk", Av::S("TOKEN".into()))
                .send()
                .await
                .unwrap()
                .item
                .unwrap();
            item["expires_at"].as_n().unwrap().parse::<i64>().unwrap()
        }
    };
    assert!(ttl("RESET#r1").await <= NOW + 3600 + DAY);
    // The activation token, used at NOW + 1.
    assert!(ttl("ACTIVATION#t-u1").await <= NOW + 1 + DAY);
}
