//! The DynamoDB store: sign-in codes mailed to accounts, an item beside the user's (`USER#<id>`
//! / `EMAILCODE`), replaced by a new code, kept by TTL until it expires. A try is counted by one
//! conditional update; a code is spent by marking it (a marked write, so that an answer lost and
//! retried still reads as this request's), not by deleting it.

use aws_sdk_dynamodb::types::ReturnValue;

use super::factors::refused;
use super::*;
use crate::store::{EmailCode, EmailCodes, MAX_EMAIL_CODE_ATTEMPTS};

pub(super) fn email_code_key(user_id: &str) -> Item {
    key(format!("USER#{user_id}"), "EMAILCODE")
}

fn email_code_from_item(user_id: &str, item: &Item) -> StoreResult<EmailCode> {
    Ok(EmailCode {
        user_id: user_id.to_string(),
        code_mac: get_s(item, "code_mac")
            .ok_or_else(|| broken("email code mac"))?
            .to_string(),
        link_hash: get_s(item, "link_hash")
            .ok_or_else(|| broken("email code link"))?
            .to_string(),
        created_at: get_n(item, "created_at").unwrap_or(0),
        expires_at: get_n(item, TTL_ATTRIBUTE).unwrap_or(0),
        attempts: get_n(item, "attempts").unwrap_or(0),
    })
}

#[async_trait]
impl EmailCodes for DynamoStore {
    async fn put_email_code(&self, code: &EmailCode) -> StoreResult<()> {
        let mut item = email_code_key(&code.user_id);
        item.insert("code_mac".into(), s(&code.code_mac));
        item.insert("link_hash".into(), s(&code.link_hash));
        item.insert("created_at".into(), n(code.created_at));
        item.insert("attempts".into(), n(0));
        item.insert(TTL_ATTRIBUTE.into(), n(code.expires_at));
        self.put_over(item).await
    }

    async fn email_code(&self, user_id: &str, now: i64) -> StoreResult<Option<EmailCode>> {
        let Some(item) = self.get(email_code_key(user_id)).await? else {
            return Ok(None);
        };
        let code = email_code_from_item(user_id, &item)?;
        let spent = item.contains_key("spent");
        Ok(Some(code).filter(|c| c.expires_at > now && !spent))
    }

    async fn attempt_email_code(&self, user_id: &str, now: i64) -> StoreResult<Option<EmailCode>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(email_code_key(user_id)))
            .update_expression("SET attempts = attempts + :one")
            .condition_expression(format!(
                "{TTL_ATTRIBUTE} > :now AND attempts < :max AND attribute_not_exists(spent)"
            ))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":max", n(MAX_EMAIL_CODE_ATTEMPTS))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => email_code_from_item(user_id, &out.attributes.unwrap_or_default()).map(Some),
            Err(e) if refused(&e) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn spend_email_code(&self, user_id: &str, link_hash: &str) -> StoreResult<bool> {
        self.update_marked(
            email_code_key(user_id),
            "SET spent = :yes",
            "link_hash = :link AND attribute_not_exists(spent)",
            HashMap::from([
                (":yes".to_string(), Av::Bool(true)),
                (":link".to_string(), s(link_hash)),
            ]),
        )
        .await
    }
}
