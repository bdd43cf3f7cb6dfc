//! The SQLite store: the accounts themselves: created, found, listed, updated, deleted.

use super::*;

#[async_trait]
impl Users for SqliteStore {
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
        let user_id = user_id.to_string();
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM users WHERE user_id = ?1 AND activated = 0",
                [user_id],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn find_user_by_id(&self, user_id: &str, now: i64) -> StoreResult<Option<UserRecord>> {
        let id = user_id.to_string();
        self.read(move |conn| find_user(conn, UserKey::Id, &id, now))
            .await
    }

    async fn find_user_by_username(
        &self,
        username: &str,
        now: i64,
    ) -> StoreResult<Option<UserRecord>> {
        let key = username_key(username);
        self.read(move |conn| find_user(conn, UserKey::Username, &key, now))
            .await
    }

    async fn find_user_by_email(&self, email: &str, now: i64) -> StoreResult<Option<UserRecord>> {
        let key = email_key(email);
        self.read(move |conn| find_user(conn, UserKey::Email, &key, now))
            .await
    }

    async fn list_users(
        &self,
        after: Option<&str>,
        email_prefix: Option<&str>,
        limit: usize,
        now: i64,
    ) -> StoreResult<UserPage> {
        let after = after.unwrap_or("").to_string();
        // LIKE with an escape: a `%` or `_` in the prefix is itself.
        let pattern = format!(
            "{}%",
            email_prefix
                .unwrap_or("")
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let take = limit.max(1);
        self.read(move |conn| {
            let mut users = Vec::with_capacity(take + 1);
            let mut statement = conn.prepare_cached(
                "SELECT user_id, username, email, password_hash, role, activated, data, \
                 created_at, updated_at, pending_until, auth_epoch FROM users \
                 WHERE username_key > ?1 AND email_key LIKE ?2 ESCAPE '\\' \
                 AND (activated = 1 OR pending_until IS NULL OR pending_until > ?3) \
                 ORDER BY username_key LIMIT ?4",
            )?;
            let rows = statement.query_map(
                rusqlite::params![after, pattern, now, (take + 1) as i64],
                user_from_row,
            )?;
            for row in rows {
                users.push(row?);
            }
            let next_after = if users.len() > take {
                users.truncate(take);
                users.last().map(|u| username_key(&u.username))
            } else {
                None
            };
            Ok(UserPage { users, next_after })
        })
        .await
    }

    async fn update_user(
        &self,
        user_id: &str,
        update: &UserUpdate,
        now: i64,
    ) -> StoreResult<Option<UserRecord>> {
        let id = user_id.to_string();
        let update = update.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let Some(mut user) = find_user(&tx, UserKey::Id, &id, now).map_err(unavailable)? else {
                return Ok(None);
            };
            user.data = update.data;
            if let Some(role) = update.role {
                user.role = role;
            }
            if let Some(activated) = update.activated {
                if activated {
                    user.pending_until = None;
                    tx.execute(
                        "UPDATE activation_tokens SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
                        params![id, now],
                    )
                    .map_err(unavailable)?;
                } else {
                    tx.execute("DELETE FROM sessions WHERE user_id = ?1", [&id])
                        .map_err(unavailable)?;
                }
                user.activated = activated;
            }
            user.updated_at = now;
            let data = serde_json::to_string(&user.data).map_err(unavailable)?;
            tx.execute(
                "UPDATE users SET data = ?2, role = ?3, activated = ?4, pending_until = ?5, \
                 updated_at = ?6 WHERE user_id = ?1",
                params![id, data, user.role.as_str(), user.activated, user.pending_until, now],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(Some(user))
        })
        .await
    }

    async fn set_role(
        &self,
        username: &str,
        role: Role,
        now: i64,
    ) -> StoreResult<Option<UserRecord>> {
        let key = username_key(username);
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let Some(mut user) =
                find_user(&tx, UserKey::Username, &key, now).map_err(unavailable)?
            else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE users SET role = ?2, updated_at = ?3 WHERE user_id = ?1",
                params![user.user_id, role.as_str(), now],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            user.role = role;
            user.updated_at = now;
            Ok(Some(user))
        })
        .await
    }

    async fn delete_user(&self, user_id: &str) -> StoreResult<bool> {
        let id = user_id.to_string();
        // Sessions and activation tokens go with the user (ON DELETE CASCADE, same statement).
        self.run(move |conn| {
            conn.execute("DELETE FROM users WHERE user_id = ?1", [id])
                .map(|n| n > 0)
                .map_err(unavailable)
        })
        .await
    }
}

impl SqliteStore {
    /// A new user with its names (and its first activation token, when it has one), in one
    /// transaction: sign-up's write, and an import's.
    async fn insert_user(
        &self,
        user: &UserRecord,
        activation: Option<&ActivationRecord>,
        now: i64,
    ) -> StoreResult<()> {
        let user = user.clone();
        let activation = activation.cloned();
        let due = self.sweep_due(now);
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            if due {
                sweep(&tx, now).map_err(unavailable)?;
            }
            let ukey = username_key(&user.username);
            let ekey = email_key(&user.email);
            // An account whose activation window has passed no longer holds its names.
            tx.execute(
                "DELETE FROM users WHERE activated = 0 AND pending_until IS NOT NULL \
                 AND pending_until <= ?1 AND (username_key = ?2 OR email_key = ?3)",
                params![now, ukey, ekey],
            )
            .map_err(unavailable)?;
            let taken = |by: UserKey, key: &str| -> StoreResult<bool> {
                tx.query_row(by.select_one(), [key], |_| Ok(()))
                    .optional()
                    .map(|r| r.is_some())
                    .map_err(unavailable)
            };
            if taken(UserKey::Username, &ukey)? {
                return Err(StoreError::UsernameTaken);
            }
            if taken(UserKey::Email, &ekey)? {
                return Err(StoreError::EmailTaken);
            }
            let data = serde_json::to_string(&user.data).map_err(unavailable)?;
            tx.execute(
                "INSERT INTO users (user_id, username, username_key, email, email_key, \
                 password_hash, role, activated, data, created_at, updated_at, pending_until, \
                 auth_epoch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    user.user_id,
                    user.username,
                    ukey,
                    user.email,
                    ekey,
                    user.password_hash,
                    user.role.as_str(),
                    user.activated,
                    data,
                    user.created_at,
                    user.updated_at,
                    user.pending_until,
                    user.auth_epoch,
                ],
            )
            .map_err(unavailable)?;
            if let Some(activation) = activation {
                tx.execute(
                    "INSERT INTO activation_tokens (token_hash, user_id, expires_at) \
                     VALUES (?1, ?2, ?3)",
                    params![activation.token_hash, user.user_id, activation.expires_at],
                )
                .map_err(unavailable)?;
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }
}
