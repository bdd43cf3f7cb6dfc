//! The SQLite store: OAuth clients (the record as JSON; its id and time apart, for the key and
//! the order).

use super::*;
use crate::store::{ClientAdded, Clients, MAX_CLIENTS, OAuthClient};

fn client_from(body: rusqlite::Result<String>) -> StoreResult<OAuthClient> {
    let body = body.map_err(unavailable)?;
    serde_json::from_str(&body).map_err(|e| unavailable(format!("malformed client: {e}")))
}

#[async_trait]
impl Clients for SqliteStore {
    async fn add_client(&self, client: &OAuthClient) -> StoreResult<ClientAdded> {
        let body = serde_json::to_string(client).map_err(unavailable)?;
        let (id, created_at) = (client.client_id.clone(), client.created_at);
        // The one writer connection runs one transaction at a time: the count and the insert
        // see no other registration between them.
        self.run(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            let count: i64 = tx
                .query_row("SELECT COUNT(*) FROM oauth_clients", [], |r| r.get(0))
                .map_err(unavailable)?;
            if count >= MAX_CLIENTS as i64 {
                return Ok(ClientAdded::Full);
            }
            tx.execute(
                "INSERT INTO oauth_clients (client_id, created_at, body) VALUES (?1, ?2, ?3)",
                params![id, created_at, body],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(ClientAdded::Added)
        })
        .await
    }

    async fn client(&self, client_id: &str) -> StoreResult<Option<OAuthClient>> {
        let id = client_id.to_string();
        self.run(move |conn| {
            conn.query_row(
                "SELECT body FROM oauth_clients WHERE client_id = ?1",
                [id],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(unavailable)?
            .map(|body| client_from(Ok(body)))
            .transpose()
        })
        .await
    }

    async fn list_clients(&self) -> StoreResult<Vec<OAuthClient>> {
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT body FROM oauth_clients ORDER BY created_at, client_id")
                .map_err(unavailable)?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            rows.map(client_from).collect()
        })
        .await
    }

    async fn remove_client(&self, client_id: &str) -> StoreResult<bool> {
        let id = client_id.to_string();
        self.run(move |conn| {
            conn.execute("DELETE FROM oauth_clients WHERE client_id = ?1", [id])
                .map(|n| n > 0)
                .map_err(unavailable)
        })
        .await
    }
}
