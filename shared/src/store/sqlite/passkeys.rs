//! The SQLite store: passkeys (one row each, the relying party's record as JSON, the credential
//! id unique across accounts) and the ceremonies in progress (spent by `DELETE ... RETURNING`).

use super::*;
use crate::store::{Ceremony, MAX_PASSKEYS, PasskeyAdded, PasskeyRecord, PasskeyUse, Passkeys};

/// The columns `passkey_from_row` reads, in its order.
macro_rules! select_passkey_where {
    ($condition:literal) => {
        concat!(
            "SELECT id, user_id, credential_id, name, credential, counter, created_at, \
             last_used_at FROM passkeys WHERE ",
            $condition
        )
    };
}

fn passkey_from_row(row: &Row<'_>) -> rusqlite::Result<PasskeyRecord> {
    Ok(PasskeyRecord {
        id: row.get(0)?,
        user_id: row.get(1)?,
        credential_id: row.get(2)?,
        name: row.get(3)?,
        credential: row.get(4)?,
        counter: row.get(5)?,
        created_at: row.get(6)?,
        last_used_at: row.get(7)?,
    })
}

#[async_trait]
impl Passkeys for SqliteStore {
    async fn add_passkey(&self, passkey: &PasskeyRecord) -> StoreResult<PasskeyAdded> {
        let p = passkey.clone();
        // The one writer connection runs one transaction at a time: the count and the insert
        // see no other addition between them.
        self.run(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            let user: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM users WHERE user_id = ?1",
                    [&p.user_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            if user.is_none() {
                return Ok(PasskeyAdded::NoUser);
            }
            let held: i64 = tx
                .query_row(
                    "SELECT count(*) FROM passkeys WHERE user_id = ?1",
                    [&p.user_id],
                    |r| r.get(0),
                )
                .map_err(unavailable)?;
            if held >= MAX_PASSKEYS as i64 {
                return Ok(PasskeyAdded::Full);
            }
            let written = tx
                .execute(
                    "INSERT INTO passkeys (id, user_id, credential_id, name, credential, counter, \
                     created_at, last_used_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                     ON CONFLICT (credential_id) DO NOTHING",
                    params![
                        p.id,
                        p.user_id,
                        p.credential_id,
                        p.name,
                        p.credential,
                        p.counter,
                        p.created_at,
                        p.last_used_at
                    ],
                )
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(if written == 1 {
                PasskeyAdded::Added
            } else {
                PasskeyAdded::Taken
            })
        })
        .await
    }

    async fn passkeys(&self, user_id: &str) -> StoreResult<Vec<PasskeyRecord>> {
        let uid = user_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(select_passkey_where!(
                "user_id = ?1 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([uid], passkey_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>> {
        let cid = credential_id.to_string();
        self.read(move |conn| {
            conn.query_row(
                select_passkey_where!("credential_id = ?1"),
                [cid],
                passkey_from_row,
            )
            .optional()
        })
        .await
    }

    async fn rename_passkey(&self, user_id: &str, id: &str, name: &str) -> StoreResult<bool> {
        let (uid, id, name) = (user_id.to_string(), id.to_string(), name.to_string());
        self.run(move |conn| {
            conn.execute(
                "UPDATE passkeys SET name = ?3 WHERE user_id = ?1 AND id = ?2",
                [uid, id, name],
            )
            .map(|n| n > 0)
            .map_err(unavailable)
        })
        .await
    }

    async fn remove_passkey(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        let (uid, id) = (user_id.to_string(), id.to_string());
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM passkeys WHERE user_id = ?1 AND id = ?2",
                [uid, id],
            )
            .map(|n| n > 0)
            .map_err(unavailable)
        })
        .await
    }

    async fn use_passkey(
        &self,
        user_id: &str,
        id: &str,
        counter: u32,
        credential: &str,
        now: i64,
    ) -> StoreResult<PasskeyUse> {
        let (uid, id, credential) = (user_id.to_string(), id.to_string(), credential.to_string());
        self.run(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            let held: Option<u32> = tx
                .query_row(
                    "SELECT counter FROM passkeys WHERE user_id = ?1 AND id = ?2",
                    [&uid, &id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            let outcome = match held {
                None => PasskeyUse::Gone,
                Some(held) if !(counter > held || (counter == 0 && held == 0)) => {
                    PasskeyUse::CounterRegressed
                }
                Some(_) => {
                    tx.execute(
                        "UPDATE passkeys SET counter = ?3, credential = ?4, last_used_at = ?5 \
                         WHERE user_id = ?1 AND id = ?2",
                        params![uid, id, counter, credential, now],
                    )
                    .map_err(unavailable)?;
                    PasskeyUse::Recorded
                }
            };
            tx.commit().map_err(unavailable)?;
            Ok(outcome)
        })
        .await
    }

    async fn put_ceremony(&self, ceremony: &Ceremony) -> StoreResult<()> {
        let c = ceremony.clone();
        // The time it was made (the sweep at its expiry would drop what lives less).
        let now = c.expires_at - crate::store::CEREMONY_TTL_SECS;
        let due = self.sweep_due(now);
        self.run(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            if due {
                sweep(&tx, now).map_err(unavailable)?;
            }
            tx.execute(
                "INSERT INTO passkey_ceremonies (key_hash, bound_to, state, expires_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key_hash) DO UPDATE SET \
                 bound_to = ?2, state = ?3, expires_at = ?4",
                params![c.key_hash, c.bound_to, c.state, c.expires_at],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn take_ceremony(&self, key_hash: &str, now: i64) -> StoreResult<Option<Ceremony>> {
        let hash = key_hash.to_string();
        self.run(move |conn| {
            let taken = conn
                .query_row(
                    "DELETE FROM passkey_ceremonies WHERE key_hash = ?1 \
                     RETURNING key_hash, bound_to, state, expires_at",
                    [hash],
                    |r| {
                        Ok(Ceremony {
                            key_hash: r.get(0)?,
                            bound_to: r.get(1)?,
                            state: r.get(2)?,
                            expires_at: r.get(3)?,
                        })
                    },
                )
                .optional()
                .map_err(unavailable)?;
            Ok(taken.filter(|c| c.expires_at > now))
        })
        .await
    }
}
