//! The DynamoDB store: the accounts themselves: created, found, listed, updated, deleted.

use super::*;

#[async_trait]
impl Users for DynamoStore {
    async fn create_user(
        &self,
        user: &UserRecord,
        activation: &ActivationRecord,
        now: i64,
    ) -> StoreResult<()> {
        self.insert_user(user, Some(activation), now).await
    }

    async fn import_user(&self, user: &UserRecord, now: i64) -> StoreResult<()> {
        self.insert_user(user, None, now).await
    }

    async fn discard_unactivated_user(&self, user_id: &str) -> StoreResult<()> {
        self.remove_user(user_id, true).await.map(|_| ())
    }

    async fn find_user_by_id(&self, user_id: &str, now: i64) -> StoreResult<Option<UserRecord>> {
        self.live_user(user_id, now).await
    }

    async fn find_user_by_username(
        &self,
        username: &str,
        now: i64,
    ) -> StoreResult<Option<UserRecord>> {
        let user = self.user_by_claim(username_claim(username), now).await?;
        Ok(user.filter(|u| username_key(&u.username) == username_key(username)))
    }

    async fn find_user_by_email(&self, email: &str, now: i64) -> StoreResult<Option<UserRecord>> {
        let user = self.user_by_claim(email_claim(email), now).await?;
        if let Some(u) = user.filter(|u| email_key(&u.email) == email_key(email)) {
            return Ok(Some(u));
        }
        // A claim written before addresses were compared after NFKC, under the key of then,
        // until `accounts backfill-user-index` moves it.
        let legacy = legacy_email_key(email);
        if legacy == email_key(email) {
            return Ok(None);
        }
        let claim = key(format!("EMAIL#{legacy}"), "CLAIM");
        let user = self.user_by_claim(claim, now).await?;
        Ok(user.filter(|u| legacy_email_key(&u.email) == legacy))
    }

    async fn list_users(
        &self,
        after: Option<&str>,
        email_prefix: Option<&str>,
        limit: usize,
        now: i64,
    ) -> StoreResult<UserPage> {
        let take = limit.max(1);
        let prefix = email_prefix
            .map(str::to_lowercase)
            .filter(|p| !p.is_empty());
        let mut users = Vec::with_capacity(take + 1);
        let mut start: Option<Item> = None;
        let mut read = 0;
        loop {
            // Without a filter every item read is a user of the page (bar an expired one): read
            // no more than the page needs. With one, read in chunks up to the budget.
            let want = if prefix.is_none() {
                (take + 1 - users.len()) as i32
            } else {
                LIST_READ_BUDGET - read
            };
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(USERS_INDEX)
                .expression_attribute_values(":l", s(LIST_PARTITION))
                .limit(want.max(1))
                .set_exclusive_start_key(start.take());
            query = match after {
                Some(a) => query
                    .key_condition_expression("lpk = :l AND ukey > :after")
                    .expression_attribute_values(":after", s(a)),
                None => query.key_condition_expression("lpk = :l"),
            };
            if let Some(p) = &prefix {
                query = query
                    .filter_expression("begins_with(ekey, :p)")
                    .expression_attribute_values(":p", s(p));
            }
            let out = query.send().await.map_err(unavailable)?;
            read += out.scanned_count;
            for item in out.items() {
                let user = user_from_item(item)?;
                if !user.is_expired_pending(now) {
                    users.push(user);
                }
                if users.len() > take {
                    users.truncate(take);
                    let next_after = users.last().map(|u| username_key(&u.username));
                    return Ok(UserPage { users, next_after });
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => {
                    if read >= LIST_READ_BUDGET {
                        // The budget is spent: the next page goes on from the last item read.
                        let next_after = get_s(&k, "ukey").map(String::from);
                        return Ok(UserPage { users, next_after });
                    }
                    start = Some(k);
                }
                _ => {
                    return Ok(UserPage {
                        users,
                        next_after: None,
                    });
                }
            }
        }
    }

    async fn update_user(
        &self,
        user_id: &str,
        update_: &UserUpdate,
        now: i64,
    ) -> StoreResult<Option<UserRecord>> {
        let Some(mut user) = self.live_user(user_id, now).await? else {
            return Ok(None);
        };
        user.data = update_.data.clone();
        if let Some(role) = update_.role {
            user.role = role;
        }
        let activating = update_.activated == Some(true) && !user.activated;
        if let Some(a) = update_.activated {
            user.activated = a;
            if a {
                user.pending_until = None;
            }
        }
        user.updated_at = now;
        let data = serde_json::to_string(&user.data).map_err(|e| broken(&e.to_string()))?;
        let mut expression =
            "SET #data = :data, #role = :role, activated = :activated, updated_at = :now"
                .to_string();
        if activating {
            expression.push_str(" REMOVE pending_until, expires_at");
        }
        let mut items = vec![{
            let u = Update::builder()
                .table_name(&self.table)
                .set_key(Some(user_key(user_id)))
                .update_expression(expression)
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#data", "data")
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":data", s(data))
                .expression_attribute_values(":role", s(user.role.as_str()))
                .expression_attribute_values(":activated", Av::Bool(user.activated))
                .expression_attribute_values(":now", n(now))
                .build()
                .map_err(request_error)?;
            TransactWriteItem::builder().update(u).build()
        }];
        if activating {
            // The claims stop expiring with the account.
            for claim in [username_claim(&user.username), email_claim(&user.email)] {
                items.push(update(
                    &self.table,
                    claim,
                    "REMOVE expires_at",
                    Some("user_id = :id"),
                    values([(":id", s(user_id))]),
                )?);
            }
        }
        match self.transact(items).await {
            Ok(()) => {}
            Err(e) => match failed_conditions(&e) {
                Some(f) if f.first() == Some(&true) => return Ok(None),
                _ => return Err(unavailable(e)),
            },
        }
        if update_.activated == Some(false) {
            self.delete_sessions(user_id, false).await?;
        }
        Ok(Some(user))
    }

    async fn set_role(
        &self,
        username: &str,
        role: Role,
        now: i64,
    ) -> StoreResult<Option<UserRecord>> {
        let Some(mut user) = self.find_user_by_username(username, now).await? else {
            return Ok(None);
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(user_key(&user.user_id)))
            .update_expression("SET #role = :role, updated_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":role", s(role.as_str()))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => {
                user.role = role;
                user.updated_at = now;
                Ok(Some(user))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete_user(&self, user_id: &str) -> StoreResult<bool> {
        self.remove_user(user_id, false).await
    }
}

impl DynamoStore {
    /// A new user with its names (and its first activation token, when it has one), in one
    /// transaction: sign-up's write, and an import's.
    async fn insert_user(
        &self,
        user: &UserRecord,
        activation: Option<&ActivationRecord>,
        now: i64,
    ) -> StoreResult<()> {
        let claim = |mut key: Item| {
            key.insert("user_id".into(), s(&user.user_id));
            if let Some(p) = user.pending_until {
                key.insert(TTL_ATTRIBUTE.into(), n(p));
            }
            key
        };
        // A claim may be taken over only when its pending account's window has passed.
        let free =
            "attribute_not_exists(pk) OR (attribute_exists(expires_at) AND expires_at <= :now)";
        let mut items = vec![
            put(
                &self.table,
                user_item(user)?,
                Some("attribute_not_exists(pk)"),
                None,
            )?,
            put(
                &self.table,
                claim(username_claim(&user.username)),
                Some(free),
                values([(":now", n(now))]),
            )?,
            put(
                &self.table,
                claim(email_claim(&user.email)),
                Some(free),
                values([(":now", n(now))]),
            )?,
        ];
        if let Some(activation) = activation {
            let token = token_item(
                token_key(&activation.token_hash),
                &user.user_id,
                activation.expires_at,
            );
            items.push(put(
                &self.table,
                token,
                Some("attribute_not_exists(pk)"),
                None,
            )?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(e) => match failed_conditions(&e) {
                Some(f) if f.get(1) == Some(&true) => Err(StoreError::UsernameTaken),
                Some(f) if f.get(2) == Some(&true) => Err(StoreError::EmailTaken),
                _ => Err(unavailable(e)),
            },
        }
    }
}
