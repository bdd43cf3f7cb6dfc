//! The DynamoDB store: second factors (an item beside the user's, `USER#<id>` / `MFA`) and the
//! logins waiting for one (`MFACHALLENGE#<hash>` / `TOKEN`, kept by TTL until they expire).

use aws_sdk_dynamodb::types::ReturnValue;

use super::*;

fn challenge_key(hash: &str) -> Item {
    key(format!("MFACHALLENGE#{hash}"), "TOKEN")
}

fn factor_from_item(user_id: &str, item: &Item) -> StoreResult<TotpFactor> {
    Ok(TotpFactor {
        user_id: user_id.to_string(),
        sealed_secret: get_s(item, "sealed_secret")
            .ok_or_else(|| broken("factor secret"))?
            .to_string(),
        enabled: item
            .get("enabled")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        pending_until: get_n(item, "pending_until").unwrap_or(0),
        last_step: get_n(item, "last_step").unwrap_or(0),
        recovery: item
            .get("recovery")
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default(),
        // Stored since factors are removed by a reset; one of before reads as used.
        signed_in: item
            .get("signed_in")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(true),
    })
}

/// Whether an error is a single write's condition failing.
pub(super) fn refused<E>(e: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

/// A single conditional write's outcome: `true` if applied, `false` if its condition failed.
fn applied<T, E>(
    result: Result<T, SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>>,
) -> StoreResult<bool>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if refused(&e) => Ok(false),
        Err(e) => Err(unavailable(e)),
    }
}

impl DynamoStore {
    /// Deletes the factor item if `condition` holds: `true` if it was deleted.
    async fn delete_factor(
        &self,
        user_id: &str,
        condition: &str,
        values: Option<Item>,
    ) -> StoreResult<bool> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(factor_key(user_id)))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .send()
            .await;
        applied(result)
    }

    /// One conditional update of the factor item: `true` if it was applied (by this call: a
    /// code's step or a recovery code is spent once, and a retried write is known for its own).
    async fn update_factor(
        &self,
        user_id: &str,
        expression: &str,
        condition: &str,
        values: Item,
    ) -> StoreResult<bool> {
        self.update_marked(factor_key(user_id), expression, condition, values)
            .await
    }
}

#[async_trait]
impl Factors for DynamoStore {
    async fn factor(&self, user_id: &str) -> StoreResult<Option<TotpFactor>> {
        match self.get(factor_key(user_id)).await? {
            Some(item) => Ok(Some(factor_from_item(user_id, &item)?)),
            None => Ok(None),
        }
    }

    async fn start_factor(&self, factor: &TotpFactor) -> StoreResult<bool> {
        let mut item = factor_key(&factor.user_id);
        item.insert("sealed_secret".into(), s(&factor.sealed_secret));
        item.insert("enabled".into(), Av::Bool(false));
        item.insert("pending_until".into(), n(factor.pending_until));
        item.insert("last_step".into(), n(0));
        item.insert("signed_in".into(), Av::Bool(false));
        // With its user (present), and only over nothing or a pending factor.
        let user = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(user_key(&factor.user_id)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(request_error)?;
        let items = vec![
            TransactWriteItem::builder().condition_check(user).build(),
            put(
                &self.table,
                item,
                Some("attribute_not_exists(pk) OR enabled = :no"),
                values([(":no", Av::Bool(false))]),
            )?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if failed_conditions(&e).is_some() => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn enable_factor(
        &self,
        user_id: &str,
        step: i64,
        recovery: &[String],
        now: i64,
    ) -> StoreResult<bool> {
        self.update_factor(
            user_id,
            "SET enabled = :yes, last_step = :step, recovery = :codes",
            "enabled = :no AND pending_until > :now AND last_step < :step",
            value_map([
                (":yes", Av::Bool(true)),
                (":no", Av::Bool(false)),
                (":step", n(step)),
                (":now", n(now)),
                (":codes", Av::Ss(recovery.to_vec())),
            ]),
        )
        .await
    }

    async fn use_step(&self, user_id: &str, step: i64, sign_in: bool) -> StoreResult<bool> {
        let expression = if sign_in {
            "SET last_step = :step, signed_in = :yes"
        } else {
            "SET last_step = :step"
        };
        self.update_factor(
            user_id,
            expression,
            "enabled = :yes AND last_step < :step",
            value_map([(":yes", Av::Bool(true)), (":step", n(step))]),
        )
        .await
    }

    async fn use_recovery_code(&self, user_id: &str, hash: &str) -> StoreResult<bool> {
        self.update_factor(
            user_id,
            "SET signed_in = :yes DELETE recovery :set",
            "enabled = :yes AND contains(recovery, :one)",
            value_map([
                (":yes", Av::Bool(true)),
                (":set", Av::Ss(vec![hash.to_string()])),
                (":one", s(hash)),
            ]),
        )
        .await
    }

    async fn set_recovery_codes(&self, user_id: &str, recovery: &[String]) -> StoreResult<bool> {
        self.update_factor(
            user_id,
            "SET recovery = :codes",
            "enabled = :yes",
            value_map([
                (":yes", Av::Bool(true)),
                (":codes", Av::Ss(recovery.to_vec())),
            ]),
        )
        .await
    }

    async fn remove_factor(&self, user_id: &str) -> StoreResult<bool> {
        self.delete_factor(user_id, "attribute_exists(pk)", None)
            .await
    }

    async fn remove_unproven_factor(&self, user_id: &str) -> StoreResult<bool> {
        let values = value_map([(":no", Av::Bool(false))]);
        self.delete_factor(user_id, "signed_in = :no", Some(values))
            .await
    }

    async fn create_challenge(&self, challenge: &MfaChallenge) -> StoreResult<()> {
        let mut item = challenge_key(&challenge.token_hash);
        item.insert("user_id".into(), s(&challenge.user_id));
        item.insert("scope".into(), s(&challenge.scope));
        item.insert("first_factor".into(), s(&challenge.first_factor));
        item.insert("epoch".into(), n(challenge.epoch));
        item.insert("valid_until".into(), n(challenge.expires_at));
        item.insert("attempts".into(), n(0));
        item.insert(TTL_ATTRIBUTE.into(), n(challenge.expires_at));
        self.put_over(item).await
    }

    async fn attempt_challenge(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<MfaChallenge>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(challenge_key(token_hash)))
            .update_expression("SET attempts = attempts + :one")
            .condition_expression("valid_until > :now AND attempts < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":max", n(MAX_MFA_ATTEMPTS))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let item = match result {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(e) if refused(&e) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        Ok(Some(MfaChallenge {
            token_hash: token_hash.to_string(),
            user_id: get_s(&item, "user_id")
                .ok_or_else(|| broken("challenge user"))?
                .to_string(),
            scope: get_s(&item, "scope").unwrap_or("").to_string(),
            // Written since mailed codes; one of before was a password's.
            first_factor: get_s(&item, "first_factor").unwrap_or("pwd").to_string(),
            epoch: get_n(&item, "epoch").unwrap_or(0),
            expires_at: get_n(&item, "valid_until").unwrap_or(0),
            attempts: get_n(&item, "attempts").unwrap_or(0),
        }))
    }

    async fn spend_challenge(&self, token_hash: &str) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(challenge_key(token_hash)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}
