//! The DynamoDB store: OAuth clients, one partition (`CLIENTS`): each client an item
//! (`CLIENT#<id>`, the record as JSON in `body`), and their count (`COUNT`, `n`), moved in the
//! same transaction as a client is added or removed, so that registrations at one moment
//! cannot pass [`MAX_CLIENTS`].

use super::*;
use crate::store::{ClientAdded, Clients, MAX_CLIENTS, OAuthClient};

const PARTITION: &str = "CLIENTS";

fn client_key(client_id: &str) -> Item {
    key(PARTITION.to_string(), &format!("CLIENT#{client_id}"))
}

fn count_key() -> Item {
    key(PARTITION.to_string(), "COUNT")
}

fn client_from_item(item: &Item) -> StoreResult<OAuthClient> {
    let body = get_s(item, "body").ok_or_else(|| broken("client body"))?;
    serde_json::from_str(body).map_err(|_| broken("client body"))
}

#[async_trait]
impl Clients for DynamoStore {
    async fn add_client(&self, client: &OAuthClient) -> StoreResult<ClientAdded> {
        let body = serde_json::to_string(client).map_err(|e| broken(&e.to_string()))?;
        let mut item = client_key(&client.client_id);
        item.insert("body".into(), s(body));
        item.insert("created_at".into(), n(client.created_at));
        let items = vec![
            put(&self.table, item, Some("attribute_not_exists(pk)"), None)?,
            update(
                &self.table,
                count_key(),
                "SET n = if_not_exists(n, :zero) + :one",
                Some("attribute_not_exists(n) OR n < :max"),
                values([
                    (":zero", n(0)),
                    (":one", n(1)),
                    (":max", n(MAX_CLIENTS as i64)),
                ]),
            )?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(ClientAdded::Added),
            Err(e) => match failed_conditions(&e).as_deref() {
                Some([_, true]) => Ok(ClientAdded::Full),
                _ => Err(unavailable(e)),
            },
        }
    }

    async fn client(&self, client_id: &str) -> StoreResult<Option<OAuthClient>> {
        match self.get(client_key(client_id)).await? {
            Some(item) => Ok(Some(client_from_item(&item)?)),
            None => Ok(None),
        }
    }

    async fn list_clients(&self) -> StoreResult<Vec<OAuthClient>> {
        let mut clients = self
            .items_with_prefix(PARTITION.to_string(), "CLIENT#")
            .await?
            .iter()
            .map(client_from_item)
            .collect::<StoreResult<Vec<_>>>()?;
        clients.sort_by(|a, b| (a.created_at, &a.client_id).cmp(&(b.created_at, &b.client_id)));
        Ok(clients)
    }

    async fn remove_client(&self, client_id: &str) -> StoreResult<bool> {
        let items = vec![
            delete(
                &self.table,
                client_key(client_id),
                Some("attribute_exists(pk)"),
                None,
            )?,
            update(
                &self.table,
                count_key(),
                "SET n = n - :one",
                Some("n > :zero"),
                values([(":zero", n(0)), (":one", n(1))]),
            )?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) => match failed_conditions(&e).as_deref() {
                Some([true, _]) => Ok(false),
                _ => Err(unavailable(e)),
            },
        }
    }
}
