//! The DynamoDB store: the activation links of accounts waiting to be activated.

use super::*;

#[async_trait]
impl Activations for DynamoStore {
    async fn add_activation_token(
        &self,
        user_id: &str,
        activation: &ActivationRecord,
        now: i64,
    ) -> StoreResult<bool> {
        let Some(user) = self.live_user(user_id, now).await? else {
            return Ok(false);
        };
        let exp = activation.expires_at;
        let token = token_item(token_key(&activation.token_hash), user_id, exp);
        let mut items = vec![
            update(
                &self.table,
                user_key(user_id),
                "SET pending_until = :exp, expires_at = :exp",
                Some("activated = :no AND pending_until > :now"),
                values([(":exp", n(exp)), (":no", Av::Bool(false)), (":now", n(now))]),
            )?,
            put(&self.table, token, Some("attribute_not_exists(pk)"), None)?,
        ];
        for claim in [username_claim(&user.username), email_claim(&user.email)] {
            items.push(update(
                &self.table,
                claim,
                "SET expires_at = :exp",
                Some("user_id = :id"),
                values([(":exp", n(exp)), (":id", s(user_id))]),
            )?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if failed_conditions(&e).is_some() => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn activate(&self, token_hash: &str, now: i64) -> StoreResult<ActivationOutcome> {
        // Two passes at most: a lost race with another click ends as "already activated".
        for _ in 0..2 {
            let Some(token) = self.get(token_key(token_hash)).await? else {
                return Ok(ActivationOutcome::Unknown);
            };
            let user_id = get_s(&token, "user_id")
                .ok_or_else(|| broken("token user_id"))?
                .to_string();
            let used = token.contains_key("used_at");
            let valid_until = get_n(&token, "valid_until").ok_or_else(|| broken("valid_until"))?;
            if !used && valid_until <= now {
                return Ok(ActivationOutcome::Expired);
            }
            let Some(item) = self.get(user_key(&user_id)).await? else {
                return Ok(ActivationOutcome::Unknown);
            };
            let mut user = user_from_item(&item)?;
            if used || user.activated || user.pending_until.is_none() {
                return Ok(ActivationOutcome::AlreadyActivated(user));
            }
            let mut items = vec![
                update(
                    &self.table,
                    token_key(token_hash),
                    "SET used_at = :now, expires_at = :keep",
                    Some("attribute_not_exists(used_at)"),
                    values([(":now", n(now)), (":keep", n(now + USED_TOKEN_KEEP_SECS))]),
                )?,
                update(
                    &self.table,
                    user_key(&user_id),
                    "SET activated = :yes, updated_at = :now REMOVE pending_until, expires_at",
                    Some("activated = :no AND attribute_exists(pending_until)"),
                    values([
                        (":yes", Av::Bool(true)),
                        (":no", Av::Bool(false)),
                        (":now", n(now)),
                    ]),
                )?,
            ];
            for claim in [username_claim(&user.username), email_claim(&user.email)] {
                items.push(update(
                    &self.table,
                    claim,
                    "REMOVE expires_at",
                    Some("user_id = :id"),
                    values([(":id", s(&user_id))]),
                )?);
            }
            match self.transact(items).await {
                Ok(()) => {
                    user.activated = true;
                    user.pending_until = None;
                    user.updated_at = now;
                    return Ok(ActivationOutcome::Activated(user));
                }
                Err(e) if failed_conditions(&e).is_some() => continue,
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Unavailable(
            "activation kept conflicting".into(),
        ))
    }
}
