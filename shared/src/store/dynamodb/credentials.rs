//! The DynamoDB store: changes of password and address: by the owner, by a reset link, by a confirmation link.

use super::*;

#[async_trait]
impl Credentials for DynamoStore {
    async fn change_password(
        &self,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
        keep: &str,
        now: i64,
    ) -> StoreResult<bool> {
        self.end_sessions_and_set_password(user_id, Some((old_hash, new_hash)), Some(keep), now)
            .await
    }

    async fn rehash_password(
        &self,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> StoreResult<bool> {
        // Marked: a retried write whose first answer was lost still reads as done.
        self.update_marked(
            user_key(user_id),
            "SET password_hash = :new",
            "password_hash = :old",
            value_map([(":new", s(new_hash)), (":old", s(old_hash))]),
        )
        .await
    }

    async fn add_reset_token(&self, reset: &ResetRecord, _now: i64) -> StoreResult<()> {
        let mut item = token_item(
            reset_key(&reset.token_hash),
            &reset.user_id,
            reset.expires_at,
        );
        item.insert("epoch".into(), n(reset.epoch));
        item.insert("email".into(), s(&reset.email));
        self.put_new(item).await
    }

    async fn reset_token(&self, token_hash: &str, now: i64) -> StoreResult<ResetTokenState> {
        self.reset_state(token_hash, now).await
    }

    async fn reset_password(
        &self,
        token_hash: &str,
        new_hash: &str,
        now: i64,
    ) -> StoreResult<ResetTokenState> {
        // Two passes at most: a lost race is judged again (the token is then used or dead).
        for _ in 0..2 {
            let mut user = match self.reset_state(token_hash, now).await? {
                ResetTokenState::Valid(user) => user,
                other => return Ok(other),
            };
            let spend = update(
                &self.table,
                reset_key(token_hash),
                "SET used_at = :now, expires_at = :keep",
                Some("attribute_not_exists(used_at) AND valid_until > :now"),
                values([(":now", n(now)), (":keep", n(now + USED_TOKEN_KEEP_SECS))]),
            )?;
            let values = value_map([
                (":new", s(new_hash)),
                (":now", n(now)),
                (":yes", Av::Bool(true)),
                (":email", s(&user.email)),
            ]);
            match self
                .advance_epoch(
                    &user.user_id,
                    user.auth_epoch,
                    ", password_hash = :new, updated_at = :now",
                    // Still the address the link was mailed to (judged above).
                    Some("activated = :yes AND email = :email"),
                    values,
                    None,
                    vec![spend],
                )
                .await?
            {
                Ok(()) => {
                    user.password_hash = new_hash.to_string();
                    user.auth_epoch += 1;
                    user.updated_at = now;
                    return Ok(ResetTokenState::Valid(user));
                }
                Err(_) => continue,
            }
        }
        Ok(ResetTokenState::Unknown)
    }

    async fn add_email_change(&self, change: &EmailChangeRecord, _now: i64) -> StoreResult<()> {
        let key = email_change_key(&change.token_hash);
        let mut item = token_item(key, &change.user_id, change.expires_at);
        item.insert("new_email".into(), s(&change.new_email));
        item.insert("epoch".into(), n(change.epoch));
        // The user item notes the latest pending change (the tokens are keyed by their hash,
        // so this is how a reset finds that it cancels one).
        let items = vec![
            put(&self.table, item, Some("attribute_not_exists(pk)"), None)?,
            update(
                &self.table,
                user_key(&change.user_id),
                "SET email_change_until = :until, email_change_epoch = :epoch",
                Some("attribute_exists(pk)"),
                values([
                    (":until", n(change.expires_at)),
                    (":epoch", n(change.epoch)),
                ]),
            )?,
        ];
        self.transact(items).await.map_err(unavailable)
    }

    async fn has_pending_email_change(
        &self,
        user_id: &str,
        epoch: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let Some(item) = self.get(user_key(user_id)).await? else {
            return Ok(false);
        };
        Ok(get_n(&item, "email_change_until").is_some_and(|t| t > now)
            && get_n(&item, "email_change_epoch") == Some(epoch))
    }

    async fn email_change(&self, token_hash: &str, now: i64) -> StoreResult<EmailChangeOutcome> {
        Ok(self.email_change_state(token_hash, now).await?.0)
    }

    async fn confirm_email_change(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<EmailChangeOutcome> {
        for _ in 0..2 {
            let (outcome, found) = self.email_change_state(token_hash, now).await?;
            let (
                EmailChangeOutcome::Changed {
                    mut user,
                    old_email,
                    ..
                },
                Some(found),
            ) = (outcome.clone(), found)
            else {
                return Ok(outcome);
            };
            let id = user.user_id.clone();
            let mut claim = email_claim(&found.new_email);
            claim.insert("user_id".into(), s(&id));
            let items = vec![
                update(
                    &self.table,
                    email_change_key(token_hash),
                    "SET used_at = :now, expires_at = :keep",
                    Some("attribute_not_exists(used_at) AND valid_until > :now"),
                    values([(":now", n(now)), (":keep", n(now + USED_TOKEN_KEEP_SECS))]),
                )?,
                // Claimed only when free (or held by an account whose activation window passed).
                put(
                    &self.table,
                    claim,
                    Some(
                        "attribute_not_exists(pk) OR (attribute_exists(expires_at) AND expires_at <= :now)",
                    ),
                    values([(":now", n(now))]),
                )?,
                delete(
                    &self.table,
                    email_claim(&old_email),
                    Some("user_id = :id"),
                    values([(":id", s(&id))]),
                )?,
                // Still the address read, under the epoch the change was made in (a reset or
                // "end every session" since has cancelled it).
                update(
                    &self.table,
                    user_key(&id),
                    "SET email = :new, ekey = :ekey, updated_at = :now \
                     REMOVE email_change_until, email_change_epoch",
                    Some(&format!(
                        "attribute_exists(pk) AND email = :old AND {}",
                        epoch_is("auth_epoch", found.epoch)
                    )),
                    values([
                        (":new", s(&found.new_email)),
                        (":ekey", s(email_key(&found.new_email))),
                        (":old", s(&old_email)),
                        (":now", n(now)),
                        (":epoch", n(found.epoch)),
                    ]),
                )?,
            ];
            match self.transact(items).await {
                Ok(()) => {
                    user.email = found.new_email;
                    user.updated_at = now;
                    return Ok(EmailChangeOutcome::Changed {
                        new_email: user.email.clone(),
                        user,
                        old_email,
                    });
                }
                Err(e) => match failed_conditions(&e) {
                    Some(f) if f.get(1) == Some(&true) => {
                        return Ok(EmailChangeOutcome::EmailTaken);
                    }
                    Some(_) => continue,
                    None => return Err(unavailable(e)),
                },
            }
        }
        Err(StoreError::Unavailable(
            "email change kept conflicting".into(),
        ))
    }
}
