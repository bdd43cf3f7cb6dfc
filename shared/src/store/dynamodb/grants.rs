//! The DynamoDB store: authorization codes (`CODE#<hash>` / `CODE`, the record as JSON in
//! `body`, `spent_for` once redeemed; kept by TTL a while past their expiry, so that a second
//! redemption is known for what it is) and consents (an item beside the user's,
//! `USER#<id>` / `CONSENT#<client_id>`, its scopes a string set widened by `ADD`, so that two
//! consents given at once both count; removed with the user, as its sessions are).

use aws_sdk_dynamodb::types::ReturnValue;

use super::*;
use crate::store::{AuthorizationCode, CodeRedeemed, Consent, Grants, SPENT_CODE_KEEP_SECS};

fn code_key(hash: &str) -> Item {
    key(format!("CODE#{hash}"), "CODE")
}

pub(super) fn consent_key(user_id: &str, client_id: &str) -> Item {
    key(format!("USER#{user_id}"), &format!("CONSENT#{client_id}"))
}

fn code_from_item(item: &Item) -> StoreResult<AuthorizationCode> {
    let body = get_s(item, "body").ok_or_else(|| broken("code body"))?;
    serde_json::from_str(body).map_err(|_| broken("code body"))
}

fn consent_from_item(item: &Item) -> StoreResult<Consent> {
    let mut scopes = item
        .get("scopes")
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default();
    scopes.sort();
    Ok(Consent {
        client_id: get_s(item, "client_id")
            .ok_or_else(|| broken("consent client"))?
            .to_string(),
        scopes,
        granted_at: get_n(item, "granted_at").unwrap_or(0),
    })
}

#[async_trait]
impl Grants for DynamoStore {
    async fn add_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        let body = serde_json::to_string(code).map_err(|e| broken(&e.to_string()))?;
        let mut item = code_key(&code.code_hash);
        item.insert("body".into(), s(body));
        item.insert("user_id".into(), s(&code.user_id));
        item.insert("valid_until".into(), n(code.expires_at));
        item.insert(
            TTL_ATTRIBUTE.into(),
            n(code.expires_at + SPENT_CODE_KEEP_SECS),
        );
        self.put_new(item).await
    }

    async fn redeem_code(
        &self,
        code_hash: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<CodeRedeemed> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(code_key(code_hash)))
            .update_expression("SET spent_for = :sid")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(spent_for) AND valid_until > :now",
            )
            .expression_attribute_values(":sid", s(session_id))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => Ok(CodeRedeemed::Redeemed(code_from_item(
                &out.attributes.unwrap_or_default(),
            )?)),
            Err(e) if super::factors::refused(&e) => {
                // Gone, expired, or spent: once spent, an item never changes again, so what a
                // read finds now is what refused the write.
                let item = self.get(code_key(code_hash)).await?;
                Ok(match item {
                    // Spent for this very redemption (its session id, new each time): the
                    // SDK's retry of a write whose answer was lost.
                    Some(item) if get_s(&item, "spent_for") == Some(session_id) => {
                        CodeRedeemed::Redeemed(code_from_item(&item)?)
                    }
                    Some(item) => match (get_s(&item, "spent_for"), get_s(&item, "user_id")) {
                        (Some(sid), Some(uid)) => CodeRedeemed::Spent {
                            user_id: uid.to_string(),
                            session_id: sid.to_string(),
                        },
                        _ => CodeRedeemed::Unknown,
                    },
                    None => CodeRedeemed::Unknown,
                })
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>> {
        self.get(consent_key(user_id, client_id))
            .await?
            .map(|item| consent_from_item(&item))
            .transpose()
    }

    async fn give_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scopes: &[String],
        now: i64,
    ) -> StoreResult<bool> {
        let user = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(user_key(user_id)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(request_error)?;
        let mut set = "SET granted_at = :now, client_id = :cid".to_string();
        let mut vals = value_map([(":now", n(now)), (":cid", s(client_id))]);
        if !scopes.is_empty() {
            set.push_str(" ADD scopes :scopes");
            vals.insert(":scopes".into(), Av::Ss(scopes.to_vec()));
        }
        let items = vec![
            TransactWriteItem::builder().condition_check(user).build(),
            update(
                &self.table,
                consent_key(user_id, client_id),
                &set,
                None,
                Some(vals),
            )?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) => match failed_conditions(&e).as_deref() {
                Some([true, ..]) => Ok(false),
                _ => Err(unavailable(e)),
            },
        }
    }

    async fn list_consents(&self, user_id: &str) -> StoreResult<Vec<Consent>> {
        let mut consents = self
            .items_with_prefix(format!("USER#{user_id}"), "CONSENT#")
            .await?
            .iter()
            .map(consent_from_item)
            .collect::<StoreResult<Vec<_>>>()?;
        consents.sort_by(|a, b| (a.granted_at, &a.client_id).cmp(&(b.granted_at, &b.client_id)));
        Ok(consents)
    }

    async fn withdraw_consent(&self, user_id: &str, client_id: &str) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(consent_key(user_id, client_id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}
