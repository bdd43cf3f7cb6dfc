//! The SQLite store: sessions: made at login, checked on every authenticated request, ended.

use super::*;

#[async_trait]
impl Sessions for SqliteStore {
    async fn create_session(&self, session: &Session, now: i64) -> StoreResult<bool> {
        let s = session.clone();
        self.run(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            // Housekeeping for this user only: its expired sessions.
            tx.execute(
                "DELETE FROM sessions WHERE user_id = ?1 AND expires_at <= ?2",
                params![s.user_id, now],
            )
            .map_err(unavailable)?;
            // Only for a user that exists, is activated and still has the session's epoch, in the
            // same transaction.
            let created = tx
                .execute(
                    "INSERT INTO sessions \
                     (session_id, user_id, created_at, expires_at, epoch, refresh_gen, refreshed_at) \
                     SELECT ?1, user_id, ?3, ?4, ?5, ?6, ?7 FROM users \
                     WHERE user_id = ?2 AND activated = 1 AND auth_epoch = ?5",
                    params![
                        s.session_id,
                        s.user_id,
                        s.created_at,
                        s.expires_at,
                        s.epoch,
                        s.refresh_gen,
                        s.refreshed_at
                    ],
                )
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(created == 1)
        })
        .await
    }

    async fn authenticate(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<Option<(Session, UserRecord)>> {
        let sid = session_id.to_string();
        let uid = user_id.to_string();
        self.read(move |conn| {
            // The hot path of every authenticated request: one cached statement, one row.
            const SQL: &str = "SELECT u.user_id, u.username, u.email, u.password_hash, u.role, \
                u.activated, u.data, u.created_at, u.updated_at, u.pending_until, u.auth_epoch, \
                s.created_at, s.expires_at, s.refresh_gen, \
                coalesce(s.refreshed_at, s.created_at) \
                FROM sessions s JOIN users u ON u.user_id = s.user_id \
                WHERE s.session_id = ?1 AND s.user_id = ?3 AND s.expires_at > ?2 \
                AND u.activated = 1 AND s.epoch = u.auth_epoch";
            let mut stmt = conn.prepare_cached(SQL)?;
            stmt.query_row(params![sid, now, uid], |row| {
                let user = user_from_row(row)?;
                Ok((
                    Session {
                        session_id: sid.clone(),
                        user_id: user.user_id.clone(),
                        created_at: row.get(11)?,
                        expires_at: row.get(12)?,
                        epoch: user.auth_epoch,
                        refresh_gen: row.get(13)?,
                        refreshed_at: row.get(14)?,
                    },
                    user,
                ))
            })
            .optional()
        })
        .await
    }

    async fn end_session(&self, user_id: &str, session_id: &str) -> StoreResult<()> {
        let sid = session_id.to_string();
        let uid = user_id.to_string();
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM sessions WHERE session_id = ?1 AND user_id = ?2",
                [sid, uid],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn rotate_session(
        &self,
        session: &Session,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<bool> {
        let sid = session.session_id.clone();
        let uid = session.user_id.clone();
        let from_gen = session.refresh_gen;
        self.run(move |conn| {
            // One statement: the generation moves on only from `from_gen`, for a live session
            // of a live, activated user of the session's epoch (what `authenticate` checks).
            let changed = conn
                .execute(
                    "UPDATE sessions SET refresh_gen = refresh_gen + 1, refreshed_at = ?4, \
                     expires_at = ?5 \
                     WHERE session_id = ?1 AND user_id = ?2 AND refresh_gen = ?3 \
                     AND expires_at > ?4 AND EXISTS (SELECT 1 FROM users u \
                     WHERE u.user_id = sessions.user_id AND u.activated = 1 \
                     AND u.auth_epoch = sessions.epoch)",
                    params![sid, uid, from_gen, now, expires_at],
                )
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn list_sessions(
        &self,
        user_id: &str,
        epoch: i64,
        now: i64,
    ) -> StoreResult<Vec<Session>> {
        let uid = user_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT session_id, created_at, expires_at, refresh_gen, \
                 coalesce(refreshed_at, created_at) FROM sessions \
                 WHERE user_id = ?1 AND epoch = ?2 AND expires_at > ?3 \
                 ORDER BY created_at, session_id",
            )?;
            let rows = stmt.query_map(params![uid, epoch, now], |r| {
                Ok(Session {
                    session_id: r.get(0)?,
                    user_id: uid.clone(),
                    created_at: r.get(1)?,
                    expires_at: r.get(2)?,
                    epoch,
                    refresh_gen: r.get(3)?,
                    refreshed_at: r.get(4)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn end_all_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let uid = user_id.to_string();
        let keep = keep.map(str::to_string);
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let done = advance_epoch(&tx, &uid, keep.as_deref(), now).map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(done)
        })
        .await
    }
}
