//! The DynamoDB store: passkeys, each an item beside its user's (`USER#<id>` / `PASSKEY#<id>`),
//! with a claim of its credential id (`PASSKEYCRED#<credential id>` / `PASSKEYCRED`: the user
//! and passkey it belongs to; unique across accounts, and how a discoverable sign-in finds its
//! account) and the account's count (`USER#<id>` / `PASSKEYS`, `n`), all written in one
//! transaction so that additions at one moment cannot pass [`MAX_PASSKEYS`]; removed with the
//! user. Ceremonies (`CEREMONY#<hash>` / `CEREMONY`) are spent by a delete that returns them,
//! and dropped by TTL.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::*;
use crate::secret::random_token;
use crate::store::{Ceremony, MAX_PASSKEYS, PasskeyAdded, PasskeyRecord, PasskeyUse, Passkeys};

/// The sort key prefix of an account's passkeys (and, as `PASSKEYS`, their count).
pub(super) const PASSKEY_PREFIX: &str = "PASSKEY";

fn passkey_key(user_id: &str, id: &str) -> Item {
    key(format!("USER#{user_id}"), &format!("PASSKEY#{id}"))
}

pub(super) fn credential_claim(credential_id: &str) -> Item {
    key(format!("PASSKEYCRED#{credential_id}"), "PASSKEYCRED")
}

fn count_key(user_id: &str) -> Item {
    key(format!("USER#{user_id}"), "PASSKEYS")
}

fn ceremony_key(hash: &str) -> Item {
    key(format!("CEREMONY#{hash}"), "CEREMONY")
}

fn passkey_from_item(item: &Item) -> StoreResult<PasskeyRecord> {
    let text = |name: &str| {
        get_s(item, name)
            .map(str::to_string)
            .ok_or_else(|| broken("passkey"))
    };
    Ok(PasskeyRecord {
        id: text("id")?,
        user_id: text("user_id")?,
        credential_id: text("credential_id")?,
        name: text("name")?,
        credential: text("credential")?,
        counter: get_n(item, "counter")
            .and_then(|c| u32::try_from(c).ok())
            .ok_or_else(|| broken("passkey counter"))?,
        created_at: get_n(item, "created_at").ok_or_else(|| broken("passkey"))?,
        last_used_at: get_n(item, "last_used_at"),
    })
}

#[async_trait]
impl Passkeys for DynamoStore {
    async fn add_passkey(&self, p: &PasskeyRecord) -> StoreResult<PasskeyAdded> {
        let mut item = passkey_key(&p.user_id, &p.id);
        item.insert("id".into(), s(&p.id));
        item.insert("user_id".into(), s(&p.user_id));
        item.insert("credential_id".into(), s(&p.credential_id));
        item.insert("name".into(), s(&p.name));
        item.insert("credential".into(), s(&p.credential));
        item.insert("counter".into(), n(p.counter.into()));
        item.insert("created_at".into(), n(p.created_at));
        if let Some(at) = p.last_used_at {
            item.insert("last_used_at".into(), n(at));
        }
        let mut claim = credential_claim(&p.credential_id);
        claim.insert("user_id".into(), s(&p.user_id));
        claim.insert("id".into(), s(&p.id));
        let user = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(user_key(&p.user_id)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(request_error)?;
        let items = vec![
            TransactWriteItem::builder().condition_check(user).build(),
            put(&self.table, claim, Some("attribute_not_exists(pk)"), None)?,
            update(
                &self.table,
                count_key(&p.user_id),
                "SET n = if_not_exists(n, :zero) + :one",
                Some("attribute_not_exists(n) OR n < :max"),
                values([
                    (":zero", n(0)),
                    (":one", n(1)),
                    (":max", n(MAX_PASSKEYS as i64)),
                ]),
            )?,
            put(&self.table, item, Some("attribute_not_exists(pk)"), None)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(PasskeyAdded::Added),
            Err(e) => match failed_conditions(&e).as_deref() {
                Some([true, ..]) => Ok(PasskeyAdded::NoUser),
                Some([_, true, ..]) => Ok(PasskeyAdded::Taken),
                Some([_, _, true, _]) => Ok(PasskeyAdded::Full),
                _ => Err(unavailable(e)),
            },
        }
    }

    async fn passkeys(&self, user_id: &str) -> StoreResult<Vec<PasskeyRecord>> {
        let mut passkeys = self
            .items_with_prefix(format!("USER#{user_id}"), "PASSKEY#")
            .await?
            .iter()
            .map(passkey_from_item)
            .collect::<StoreResult<Vec<_>>>()?;
        passkeys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(passkeys)
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>> {
        let Some(claim) = self.get(credential_claim(credential_id)).await? else {
            return Ok(None);
        };
        let (Some(user_id), Some(id)) = (get_s(&claim, "user_id"), get_s(&claim, "id")) else {
            return Err(broken("passkey claim"));
        };
        match self.get(passkey_key(user_id, id)).await? {
            Some(item) => Ok(Some(passkey_from_item(&item)?)),
            // A claim left by a removal cut short: its passkey is gone.
            None => Ok(None),
        }
    }

    async fn rename_passkey(&self, user_id: &str, id: &str, name: &str) -> StoreResult<bool> {
        let renamed = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(passkey_key(user_id, id)))
            .update_expression("SET #name = :name")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(name))
            .send()
            .await;
        match renamed {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(se))
                if matches!(
                    se.err(),
                    UpdateItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn remove_passkey(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        let Some(item) = self.get(passkey_key(user_id, id)).await? else {
            return Ok(false);
        };
        let passkey = passkey_from_item(&item)?;
        let items = vec![
            delete(
                &self.table,
                passkey_key(user_id, id),
                Some("attribute_exists(pk)"),
                None,
            )?,
            delete(
                &self.table,
                credential_claim(&passkey.credential_id),
                None,
                None,
            )?,
            update(
                &self.table,
                count_key(user_id),
                "SET n = n - :one",
                Some("n > :zero"),
                values([(":one", n(1)), (":zero", n(0))]),
            )?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) => match failed_conditions(&e).as_deref() {
                // Removed by another request since the read.
                Some([true, ..]) => Ok(false),
                _ => Err(unavailable(e)),
            },
        }
    }

    async fn use_passkey(
        &self,
        user_id: &str,
        id: &str,
        counter: u32,
        credential: &str,
        now: i64,
    ) -> StoreResult<PasskeyUse> {
        // The mark tells this call's own write (its answer lost, the SDK's retry failing on it)
        // from another's.
        let mark = random_token(16).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // An authenticator that keeps no counter says 0 each time; one that does, more each time.
        let condition = if counter == 0 {
            "attribute_exists(pk) AND #counter = :counter"
        } else {
            "attribute_exists(pk) AND #counter < :counter"
        };
        let used = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(passkey_key(user_id, id)))
            .update_expression(
                "SET #counter = :counter, credential = :credential, last_used_at = :now, \
                 used_by = :mark",
            )
            .condition_expression(condition)
            .expression_attribute_names("#counter", "counter")
            .expression_attribute_values(":counter", n(counter.into()))
            .expression_attribute_values(":credential", s(credential))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":mark", s(&mark))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match used {
            Ok(_) => Ok(PasskeyUse::Recorded),
            Err(SdkError::ServiceError(se)) => match se.err() {
                UpdateItemError::ConditionalCheckFailedException(c) => Ok(match c.item() {
                    None => PasskeyUse::Gone,
                    Some(old) if old.is_empty() => PasskeyUse::Gone,
                    Some(old) if get_s(old, "used_by") == Some(mark.as_str()) => {
                        PasskeyUse::Recorded
                    }
                    Some(_) => PasskeyUse::CounterRegressed,
                }),
                _ => Err(StoreError::Unavailable(format!(
                    "{}",
                    DisplayErrorContext(se.err())
                ))),
            },
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn put_ceremony(&self, c: &Ceremony) -> StoreResult<()> {
        let mut item = ceremony_key(&c.key_hash);
        item.insert("bound_to".into(), s(&c.bound_to));
        item.insert("state".into(), s(&c.state));
        item.insert("valid_until".into(), n(c.expires_at));
        item.insert(TTL_ATTRIBUTE.into(), n(c.expires_at));
        self.put_over(item).await
    }

    async fn take_ceremony(&self, key_hash: &str, now: i64) -> StoreResult<Option<Ceremony>> {
        let taken = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(ceremony_key(key_hash)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = taken.attributes.filter(|a| !a.is_empty()) else {
            return Ok(None);
        };
        let ceremony = Ceremony {
            key_hash: key_hash.to_string(),
            bound_to: get_s(&item, "bound_to")
                .ok_or_else(|| broken("ceremony"))?
                .to_string(),
            state: get_s(&item, "state")
                .ok_or_else(|| broken("ceremony"))?
                .to_string(),
            expires_at: get_n(&item, "valid_until").ok_or_else(|| broken("ceremony"))?,
        };
        Ok(Some(ceremony).filter(|c| c.expires_at > now))
    }
}
