//! The DynamoDB store: sessions: made at login, checked on every authenticated request, ended.

use super::*;

#[async_trait]
impl Sessions for DynamoStore {
    async fn create_session(&self, session: &Session, _now: i64) -> StoreResult<bool> {
        let mut item = session_key(&session.user_id, &session.session_id);
        item.insert(TTL_ATTRIBUTE.into(), n(session.expires_at));
        item.insert("created_at".into(), n(session.created_at));
        item.insert("epoch".into(), n(session.epoch));
        item.insert("refresh_gen".into(), n(session.refresh_gen));
        item.insert("refreshed_at".into(), n(session.refreshed_at));
        // Only for a user that exists, is activated and still has the session's epoch, checked
        // in the same transaction.
        let items = vec![
            self.user_of_session(session)?,
            put(&self.table, item, None, None)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if failed_conditions(&e).is_some() => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn authenticate(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<Option<(Session, UserRecord)>> {
        // Both reads at once: one round trip of latency.
        let (session, user) = tokio::join!(
            self.get(session_key(user_id, session_id)),
            self.live_user(user_id, now)
        );
        let Some(session) = live(session?, now) else {
            return Ok(None);
        };
        let Some(user) = user?.filter(|u| u.activated) else {
            return Ok(None);
        };
        let session = session_from_item(user_id, &session)?;
        if session.epoch != user.auth_epoch {
            return Ok(None);
        }
        Ok(Some((session, user)))
    }

    async fn end_session(&self, user_id: &str, session_id: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(session_key(user_id, session_id)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn rotate_session(
        &self,
        session: &Session,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<bool> {
        // One transaction: the user still activated and of the session's epoch, and the
        // session present, unexpired, of that epoch and still at the generation read.
        let generation = if session.refresh_gen == 0 {
            "(attribute_not_exists(refresh_gen) OR refresh_gen = :gen)"
        } else {
            "refresh_gen = :gen"
        };
        let condition = format!(
            "attribute_exists(pk) AND {TTL_ATTRIBUTE} > :now AND {} AND {generation}",
            epoch_is("epoch", session.epoch)
        );
        let values = Item::from([
            (":gen".to_string(), n(session.refresh_gen)),
            (":next".to_string(), n(session.refresh_gen + 1)),
            (":now".to_string(), n(now)),
            (":end".to_string(), n(expires_at)),
            (":epoch".to_string(), n(session.epoch)),
        ]);
        let items = vec![
            self.user_of_session(session)?,
            update(
                &self.table,
                session_key(&session.user_id, &session.session_id),
                &format!("SET refresh_gen = :next, refreshed_at = :now, {TTL_ATTRIBUTE} = :end"),
                Some(&condition),
                Some(values),
            )?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if failed_conditions(&e).is_some() => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn list_sessions(
        &self,
        user_id: &str,
        epoch: i64,
        now: i64,
    ) -> StoreResult<Vec<Session>> {
        let mut sessions = self
            .session_items(user_id)
            .await?
            .iter()
            .map(|item| session_from_item(user_id, item))
            .collect::<StoreResult<Vec<_>>>()?;
        sessions.retain(|s| s.epoch == epoch && s.expires_at > now);
        sessions.sort_by(|a, b| (a.created_at, &a.session_id).cmp(&(b.created_at, &b.session_id)));
        Ok(sessions)
    }

    async fn end_all_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        self.end_sessions_and_set_password(user_id, None, keep, now)
            .await
    }
}

impl DynamoStore {
    /// The transaction item that holds a session's write to its user: present, activated, and
    /// still of the session's auth epoch.
    fn user_of_session(&self, session: &Session) -> StoreResult<TransactWriteItem> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(user_key(&session.user_id)))
            .condition_expression(format!(
                "attribute_exists(pk) AND activated = :yes AND {}",
                epoch_is("auth_epoch", session.epoch)
            ))
            .expression_attribute_values(":yes", Av::Bool(true))
            .expression_attribute_values(":epoch", n(session.epoch))
            .build()
            .map_err(request_error)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}
