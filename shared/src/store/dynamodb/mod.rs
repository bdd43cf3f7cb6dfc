//! The DynamoDB store: one table, keys `pk` and `sk`, TTL attribute `expires_at`. The only
//! module that imports the DynamoDB SDK. The table design is in docs/table.md.
//!
//! | item | pk | sk | holds |
//! |---|---|---|---|
//! | user | `USER#<user_id>` | `USER` | the record, `auth_epoch`; `expires_at` while it awaits activation |
//! | session | `USER#<user_id>` | `SESSION#<sid>` | `created_at`, `expires_at`, `epoch` |
//! | username claim | `USERNAME#<lowercase username>` | `CLAIM` | `user_id`; `expires_at` while pending |
//! | email claim | `EMAIL#<lowercase email>` | `CLAIM` | `user_id`; `expires_at` while pending |
//! | activation token | `ACTIVATION#<sha256>` | `TOKEN` | `user_id`, `valid_until`, `used_at` |
//! | login failures | `LOGINFAIL#<login name>` | `FAIL` | `failures`, `last_failure` |
//! | reset token | `RESET#<sha256>` | `TOKEN` | `user_id`, `epoch`, `valid_until`, `used_at` |
//! | email change | `EMAILCHANGE#<sha256>` | `TOKEN` | `user_id`, `new_email`, `valid_until`, `used_at` |
//! | mail counter | `MAIL#<lowercase email>` | `COUNT` | `day_start`, `day_count`, `last_sent` |
//! | account event | `EVENTS#<user_id>` (none: `EVENT#<id>`) | `EVENT#<id>` | `body`, `etype`; index `EVENTS#<day>#<shard>`, `ukey` the id; `expires_at` its retention |
//!
//! A session (and a reset token) is live only while its `epoch` is its user's `auth_epoch`
//! (absent on items older than the attribute: 0): ending every session of a user is one
//! conditional write to the user item, whatever the number of sessions; their items are swept
//! afterwards.
//!
//! Every read is strongly consistent, and an item past its `expires_at` is treated as absent
//! (DynamoDB's TTL deletion can lag by days).

mod activations;
mod clients;
mod credentials;
mod email_codes;
mod events;
mod factors;
mod grants;
mod passkeys;
mod sessions;
mod throttles;
mod users;

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, ConditionCheck, Delete,
    GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, Put,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification, TransactWriteItem, Update,
};

use super::{
    ActivationOutcome, ActivationRecord, Activations, Credentials, EmailChangeOutcome,
    EmailChangeRecord, EventPage, EventQuery, Events, Factors, FoundEmailChange, FoundReset,
    LoginAttempt, LoginFailures, MAIL_DAY_SECS, MAIL_INTERVAL_SECS, MAILS_PER_DAY,
    MAX_MFA_ATTEMPTS, MfaChallenge, ResetRecord, ResetTokenState, Session, Sessions, StoreError,
    StoreResult, Throttles, TotpFactor, UserPage, UserUpdate, Users, judge_email_change,
    judge_reset, lockout_remaining,
};
use crate::user::{Role, UserRecord, email_key, legacy_email_key, username_key};

type Item = HashMap<String, Av>;

/// The TTL attribute.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// Used link tokens are kept a day after their use, so a re-click says "already activated" (or
/// "already confirmed"); TTL removes them then.
const USED_TOKEN_KEEP_SECS: i64 = 24 * 3600;
/// Unused, expired tokens are kept a day past their validity, so they say "expired"; TTL
/// removes them then (anyone's requests make tokens: none outlives its link by more than a day).
const EXPIRED_TOKEN_KEEP_SECS: i64 = 24 * 3600;
/// Login-failure items are forgotten a day after the last failure.
const FAILURE_MEMORY_SECS: i64 = 24 * 3600;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(DisplayErrorContext(&e).to_string())
}

/// A request the SDK would not build (a missing required field): a bug, reported as unavailable.
fn request_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unavailable(format!("request not built: {e}"))
}

fn broken(what: &str) -> StoreError {
    StoreError::Unavailable(format!("malformed item: {what}"))
}

fn s(v: impl Into<String>) -> Av {
    Av::S(v.into())
}

fn n(v: i64) -> Av {
    Av::N(v.to_string())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

/// The primary key of an item read whole.
fn key_of(item: &Item) -> Item {
    ["pk", "sk"]
        .iter()
        .filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect()
}

fn user_key(user_id: &str) -> Item {
    key(format!("USER#{user_id}"), "USER")
}

fn username_claim(username: &str) -> Item {
    key(format!("USERNAME#{}", username_key(username)), "CLAIM")
}

fn email_claim(email: &str) -> Item {
    key(format!("EMAIL#{}", email_key(email)), "CLAIM")
}

fn token_key(hash: &str) -> Item {
    key(format!("ACTIVATION#{hash}"), "TOKEN")
}

fn session_key(user_id: &str, session_id: &str) -> Item {
    key(format!("USER#{user_id}"), &format!("SESSION#{session_id}"))
}

fn factor_key(user_id: &str) -> Item {
    key(format!("USER#{user_id}"), "MFA")
}

fn failure_key(login: &str) -> Item {
    key(format!("LOGINFAIL#{login}"), "FAIL")
}

/// A link's token item (activation, reset, address change): its user, until when it works, and
/// a TTL some days past that (so an expired token still says "expired").
fn token_item(mut key: Item, user_id: &str, valid_until: i64) -> Item {
    key.insert("user_id".into(), s(user_id));
    key.insert("valid_until".into(), n(valid_until));
    key.insert(
        TTL_ATTRIBUTE.into(),
        n(valid_until + EXPIRED_TOKEN_KEEP_SECS),
    );
    key
}

fn reset_key(hash: &str) -> Item {
    key(format!("RESET#{hash}"), "TOKEN")
}

fn email_change_key(hash: &str) -> Item {
    key(format!("EMAILCHANGE#{hash}"), "TOKEN")
}

fn mail_key(email: &str) -> Item {
    key(format!("MAIL#{}", email_key(email)), "COUNT")
}

/// The condition "the item's `attribute` is `:epoch`", where an absent attribute is epoch 0.
fn epoch_is(attribute: &str, epoch: i64) -> String {
    if epoch == 0 {
        format!("(attribute_not_exists({attribute}) OR {attribute} = :epoch)")
    } else {
        format!("{attribute} = :epoch")
    }
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// An item past its TTL is absent.
fn live(item: Option<Item>, now: i64) -> Option<Item> {
    item.filter(|i| get_n(i, TTL_ATTRIBUTE).is_none_or(|t| t > now))
}

/// The sparse index of user items, for the admins' listing: partition `lpk` (the same value on
/// every user item, and on nothing else), sort `ukey` (the lowercased username); `ekey` (the
/// lowercased address) is projected for the address filter.
pub const USERS_INDEX: &str = "users";
const LIST_PARTITION: &str = "USER";
/// At most this many index items are read for one page (a rare address prefix then gives a
/// short page with a next cursor, not an unbounded read).
const LIST_READ_BUDGET: i32 = 500;

fn user_item(u: &UserRecord) -> StoreResult<Item> {
    let mut item = user_key(&u.user_id);
    item.insert("lpk".into(), s(LIST_PARTITION));
    item.insert("ukey".into(), s(username_key(&u.username)));
    item.insert("ekey".into(), s(email_key(&u.email)));
    item.insert("user_id".into(), s(&u.user_id));
    item.insert("username".into(), s(&u.username));
    item.insert("email".into(), s(&u.email));
    item.insert("password_hash".into(), s(&u.password_hash));
    item.insert("role".into(), s(u.role.as_str()));
    item.insert("activated".into(), Av::Bool(u.activated));
    let data = serde_json::to_string(&u.data).map_err(|e| broken(&e.to_string()))?;
    item.insert("data".into(), s(data));
    item.insert("created_at".into(), n(u.created_at));
    item.insert("updated_at".into(), n(u.updated_at));
    item.insert("auth_epoch".into(), n(u.auth_epoch));
    if let Some(p) = u.pending_until {
        item.insert("pending_until".into(), n(p));
        item.insert(TTL_ATTRIBUTE.into(), n(p));
    }
    Ok(item)
}

fn user_from_item(item: &Item) -> StoreResult<UserRecord> {
    let text = |name: &str| {
        get_s(item, name)
            .map(str::to_string)
            .ok_or_else(|| broken(name))
    };
    Ok(UserRecord {
        user_id: text("user_id")?,
        username: text("username")?,
        email: text("email")?,
        password_hash: text("password_hash")?,
        role: Role::parse(&text("role")?).ok_or_else(|| broken("role"))?,
        activated: item
            .get("activated")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        data: serde_json::from_str(&text("data")?).map_err(|_| broken("data"))?,
        created_at: get_n(item, "created_at").ok_or_else(|| broken("created_at"))?,
        updated_at: get_n(item, "updated_at").ok_or_else(|| broken("updated_at"))?,
        pending_until: get_n(item, "pending_until"),
        auth_epoch: get_n(item, "auth_epoch").unwrap_or(0),
    })
}

fn session_from_item(user_id: &str, item: &Item) -> StoreResult<Session> {
    let sk = get_s(item, "sk").ok_or_else(|| broken("session sk"))?;
    let created_at = get_n(item, "created_at").unwrap_or(0);
    Ok(Session {
        session_id: sk.strip_prefix("SESSION#").unwrap_or(sk).to_string(),
        user_id: user_id.into(),
        created_at,
        expires_at: get_n(item, TTL_ATTRIBUTE).ok_or_else(|| broken("session expiry"))?,
        epoch: get_n(item, "epoch").unwrap_or(0),
        // Sessions made before refresh tokens: generation 0, refreshed when made.
        refresh_gen: get_n(item, "refresh_gen").unwrap_or(0),
        refreshed_at: get_n(item, "refreshed_at").unwrap_or(created_at),
    })
}

/// For a cancelled transaction: which of its items failed their condition.
fn failed_conditions(
    e: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
) -> Option<Vec<bool>> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => Some(
            c.cancellation_reasons()
                .iter()
                .map(|r| r.code() == Some("ConditionalCheckFailed"))
                .collect(),
        ),
        _ => None,
    }
}

fn put(
    table: &str,
    item: Item,
    condition: Option<&str>,
    values: Option<Item>,
) -> StoreResult<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_string))
        .set_expression_attribute_values(values)
        .build()
        .map_err(request_error)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn update(
    table: &str,
    key: Item,
    expression: &str,
    condition: Option<&str>,
    values: Option<Item>,
) -> StoreResult<TransactWriteItem> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(expression)
        .set_condition_expression(condition.map(str::to_string))
        .set_expression_attribute_values(values)
        .build()
        .map_err(request_error)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

fn delete(
    table: &str,
    key: Item,
    condition: Option<&str>,
    values: Option<Item>,
) -> StoreResult<TransactWriteItem> {
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .set_condition_expression(condition.map(str::to_string))
        .set_expression_attribute_values(values)
        .build()
        .map_err(request_error)?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

fn values<const N: usize>(pairs: [(&str, Av); N]) -> Option<Item> {
    Some(value_map(pairs))
}

fn value_map<const N: usize>(pairs: [(&str, Av); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

impl DynamoStore {
    pub fn new(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        DynamoStore {
            client: Client::new(sdk),
            table: table.into(),
        }
    }

    /// Creates the table as template.yaml declares it (for local DynamoDB-compatible servers).
    pub async fn create_table(&self) -> StoreResult<()> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(request_error)
        };
        let schema = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(request_error)
        };
        let users_index = GlobalSecondaryIndex::builder()
            .index_name(USERS_INDEX)
            .key_schema(schema("lpk", KeyType::Hash)?)
            .key_schema(schema("ukey", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(request_error)?;
        self.client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .attribute_definitions(attr("lpk")?)
            .attribute_definitions(attr("ukey")?)
            .key_schema(schema("pk", KeyType::Hash)?)
            .key_schema(schema("sk", KeyType::Range)?)
            .global_secondary_indexes(users_index)
            .billing_mode(BillingMode::PayPerRequest)
            // New items on the stream: the account-event publisher reads it (template.yaml).
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewImage)
                    .build()
                    .map_err(request_error)?,
            )
            .send()
            .await
            .map_err(unavailable)?;
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .map_err(request_error)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Brings user items written by older releases to this one's keys (`accounts
    /// backfill-user-index`, once, after deploying): the listing index's attributes, and the
    /// address's claim and `ekey` under the NFKC key of [`email_key`] (a claim under the key of
    /// then is moved; one whose new key another account holds is left, and logged). One Scan
    /// of the table; each item updated only while its address is the one read (an address
    /// changed meanwhile already wrote them). Safe to run again. The number of items updated.
    pub async fn backfill_user_index(&self) -> StoreResult<usize> {
        let mut updated = 0;
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("sk = :user")
                .expression_attribute_values(":user", s("USER"))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items() {
                let (Some(username), Some(email)) = (get_s(item, "username"), get_s(item, "email"))
                else {
                    continue;
                };
                let ekey = email_key(email);
                if get_s(item, "lpk").is_some() && get_s(item, "ekey") == Some(ekey.as_str()) {
                    continue;
                }
                if legacy_email_key(email) != ekey {
                    updated += usize::from(self.move_email_claim(item, username, email).await?);
                    continue;
                }
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key_of(item)))
                    .update_expression("SET lpk = :l, ukey = :u, ekey = :e")
                    .condition_expression("attribute_exists(pk) AND email = :email")
                    .expression_attribute_values(":l", s(LIST_PARTITION))
                    .expression_attribute_values(":u", s(username_key(username)))
                    .expression_attribute_values(":e", s(email_key(email)))
                    .expression_attribute_values(":email", s(email))
                    .send()
                    .await;
                match result {
                    Ok(_) => updated += 1,
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                    Err(e) => return Err(unavailable(e)),
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(updated),
            }
        }
    }

    /// Moves a user's address claim from the key of older releases to [`email_key`]'s, with the
    /// user item's index attributes, in one transaction. `false` when another account holds the
    /// new key (logged) or the user changed meanwhile.
    async fn move_email_claim(
        &self,
        user: &Item,
        username: &str,
        email: &str,
    ) -> StoreResult<bool> {
        let user_id = get_s(user, "user_id").ok_or_else(|| broken("user_id"))?;
        let old_key = key(format!("EMAIL#{}", legacy_email_key(email)), "CLAIM");
        let mut claim = email_claim(email);
        claim.insert("user_id".into(), s(user_id));
        if let Some(exp) = self
            .get(old_key.clone())
            .await?
            .and_then(|old| old.get(TTL_ATTRIBUTE).cloned())
        {
            claim.insert(TTL_ATTRIBUTE.into(), exp);
        }
        let items = vec![
            put(&self.table, claim, Some("attribute_not_exists(pk)"), None)?,
            delete(
                &self.table,
                old_key,
                Some("attribute_not_exists(pk) OR user_id = :id"),
                values([(":id", s(user_id))]),
            )?,
            update(
                &self.table,
                key_of(user),
                "SET lpk = :l, ukey = :u, ekey = :e",
                Some("attribute_exists(pk) AND email = :email"),
                values([
                    (":l", s(LIST_PARTITION)),
                    (":u", s(username_key(username))),
                    (":e", s(email_key(email))),
                    (":email", s(email)),
                ]),
            )?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) => match failed_conditions(&e) {
                Some(failed) => {
                    if failed.first() == Some(&true) {
                        tracing::warn!(%user_id, "address not re-keyed: another account holds its form");
                    }
                    Ok(false)
                }
                None => Err(unavailable(e)),
            },
        }
    }

    async fn get(&self, key: Item) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>>
    {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
    }

    /// A live user by id: present, and not an account whose activation window has passed.
    async fn live_user(&self, user_id: &str, now: i64) -> StoreResult<Option<UserRecord>> {
        let Some(item) = self.get(user_key(user_id)).await? else {
            return Ok(None);
        };
        let user = user_from_item(&item)?;
        Ok((!user.is_expired_pending(now)).then_some(user))
    }

    /// The user a username or email claim points to, when both are live and agree.
    async fn user_by_claim(&self, claim: Item, now: i64) -> StoreResult<Option<UserRecord>> {
        let Some(claim) = live(self.get(claim).await?, now) else {
            return Ok(None);
        };
        let Some(user_id) = get_s(&claim, "user_id") else {
            return Err(broken("claim user_id"));
        };
        self.live_user(user_id, now).await
    }

    /// Deletes a user's sessions; with `consents`, the consents it gave and its passkeys too
    /// (all its partition holds but the user item and its factor).
    async fn delete_sessions(&self, user_id: &str, consents: bool) -> StoreResult<()> {
        let mut items = self.session_items(user_id).await?;
        if consents {
            items.extend(
                self.items_with_prefix(format!("USER#{user_id}"), "CONSENT#")
                    .await?,
            );
            // Its passkeys, their count, and their credential ids' claims.
            for item in self
                .items_with_prefix(format!("USER#{user_id}"), passkeys::PASSKEY_PREFIX)
                .await?
            {
                if let Some(credential_id) = get_s(&item, "credential_id") {
                    items.push(passkeys::credential_claim(credential_id));
                }
                items.push(item);
            }
        }
        for item in items {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key_of(&item)))
                .send()
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    /// Puts an item that must not exist yet (a token's: 256 random bits never collide, but
    /// nothing is ever overwritten). When the SDK tries again a put whose answer was lost, the
    /// retry finds the first try's item: that one, the same in every attribute, is this put's.
    async fn put_new(&self, item: Item) -> StoreResult<()> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(se)) => match se.err() {
                PutItemError::ConditionalCheckFailedException(c) if c.item() == Some(&item) => {
                    Ok(())
                }
                _ => Err(StoreError::Unavailable(
                    DisplayErrorContext(se.err()).to_string(),
                )),
            },
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Puts an item, replacing one of its key (a retry after a lost answer puts it again).
    async fn put_over(&self, item: Item) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// One conditional update of the item at `key` (its `expression` a `SET` clause first):
    /// `true` if applied. Each call marks what it writes (`write_mark`), so that when the SDK
    /// tries again an update whose answer was lost, and the retry fails its condition on the
    /// first try's own write, the write is still known for this call's: a slow answer never
    /// reads as a refusal.
    async fn update_marked(
        &self,
        key: Item,
        expression: &str,
        condition: &str,
        mut values: Item,
    ) -> StoreResult<bool> {
        let rest = expression
            .strip_prefix("SET ")
            .ok_or_else(|| broken("an update without SET"))?;
        let mark =
            crate::secret::random_token(16).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        values.insert(":write_mark".into(), s(&mark));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(format!("SET write_mark = :write_mark, {rest}"))
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(se)) => match se.err() {
                UpdateItemError::ConditionalCheckFailedException(c) => Ok(c
                    .item()
                    .and_then(|old| get_s(old, "write_mark"))
                    .is_some_and(|m| m == mark)),
                _ => Err(StoreError::Unavailable(
                    DisplayErrorContext(se.err()).to_string(),
                )),
            },
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Every item of partition `pk` whose sort key starts with `sk_prefix`, page after page
    /// (consistent: none written before this call is missed).
    async fn items_with_prefix(&self, pk: String, sk_prefix: &str) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(sk_prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// Every session item of a user.
    async fn session_items(&self, user_id: &str) -> StoreResult<Vec<Item>> {
        self.items_with_prefix(format!("USER#{user_id}"), "SESSION#")
            .await
    }

    /// Deletes the session items of a user that an epoch change has ended. Housekeeping only:
    /// they are dead already, so a failure here is logged, not reported.
    async fn sweep_sessions(&self, user_id: &str, epoch: i64) {
        let swept = async {
            for item in self.session_items(user_id).await? {
                if get_n(&item, "epoch").unwrap_or(0) != epoch {
                    let key = key(
                        format!("USER#{user_id}"),
                        get_s(&item, "sk").ok_or_else(|| broken("session sk"))?,
                    );
                    self.client
                        .delete_item()
                        .table_name(&self.table)
                        .set_key(Some(key))
                        .send()
                        .await
                        .map_err(unavailable)?;
                }
            }
            Ok::<(), StoreError>(())
        };
        if let Err(e) = swept.await {
            tracing::warn!(error = %e, "ended sessions not swept (they stay dead)");
        }
    }

    /// Moves the user's auth epoch from `epoch` on, with `also` set on the user item under
    /// `condition` (and `values`), carrying the session `keep` over; `extra` joins the same
    /// transaction. `Ok(Err(failed))` when a condition failed: which items (the user item first,
    /// then `keep`, then `extra`).
    #[allow(clippy::too_many_arguments)]
    async fn advance_epoch(
        &self,
        user_id: &str,
        epoch: i64,
        also: &str,
        condition: Option<&str>,
        mut set_values: Item,
        keep: Option<&str>,
        extra: Vec<TransactWriteItem>,
    ) -> StoreResult<Result<(), Vec<bool>>> {
        let next = epoch + 1;
        set_values.insert(":epoch".into(), n(epoch));
        set_values.insert(":next".into(), n(next));
        let condition = match condition {
            Some(c) => format!(
                "attribute_exists(pk) AND {} AND {c}",
                epoch_is("auth_epoch", epoch)
            ),
            None => format!("attribute_exists(pk) AND {}", epoch_is("auth_epoch", epoch)),
        };
        let mut items = vec![update(
            &self.table,
            user_key(user_id),
            &format!("SET auth_epoch = :next{also}"),
            Some(&condition),
            Some(set_values),
        )?];
        if let Some(keep) = keep {
            items.push(update(
                &self.table,
                session_key(user_id, keep),
                "SET epoch = :next",
                Some(&format!(
                    "attribute_exists(pk) AND {}",
                    epoch_is("epoch", epoch)
                )),
                values([(":epoch", n(epoch)), (":next", n(next))]),
            )?);
        }
        items.extend(extra);
        match self.transact(items).await {
            Ok(()) => {
                self.sweep_sessions(user_id, next).await;
                Ok(Ok(()))
            }
            Err(e) => match failed_conditions(&e) {
                Some(failed) => Ok(Err(failed)),
                None => Err(unavailable(e)),
            },
        }
    }

    /// Moves the user's auth epoch on (every session but `keep` ends) and, with
    /// `password: Some((old, new))`, replaces the hash while it is still `old`. The epoch is read,
    /// then moved on only if unchanged: a lost race reads it again. `false` when the user is
    /// gone or its hash is no longer `old`.
    async fn end_sessions_and_set_password(
        &self,
        user_id: &str,
        password: Option<(&str, &str)>,
        mut keep: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        for _ in 0..4 {
            let Some(user) = self.live_user(user_id, now).await? else {
                return Ok(false);
            };
            let mut values = value_map([(":now", n(now))]);
            let (also, condition) = match password {
                None => (", updated_at = :now", None),
                Some((old, new)) => {
                    if user.password_hash != old {
                        return Ok(false);
                    }
                    values.insert(":old".into(), s(old));
                    values.insert(":new".into(), s(new));
                    (
                        ", password_hash = :new, updated_at = :now",
                        Some("password_hash = :old"),
                    )
                }
            };
            let moved = self
                .advance_epoch(
                    user_id,
                    user.auth_epoch,
                    also,
                    condition,
                    values,
                    keep,
                    vec![],
                )
                .await?;
            match moved {
                Ok(()) => return Ok(true),
                // The kept session ended meanwhile (a logout): end them all.
                Err(failed) if failed.get(1) == Some(&true) => keep = None,
                Err(_) => {}
            }
        }
        Err(StoreError::Unavailable(
            "ending sessions kept conflicting".into(),
        ))
    }

    async fn found_reset(&self, token_hash: &str) -> StoreResult<Option<FoundReset>> {
        let Some(item) = self.get(reset_key(token_hash)).await? else {
            return Ok(None);
        };
        Ok(Some(FoundReset {
            user_id: get_s(&item, "user_id")
                .ok_or_else(|| broken("reset user_id"))?
                .to_string(),
            epoch: get_n(&item, "epoch").unwrap_or(0),
            email: get_s(&item, "email").map(str::to_string),
            expires_at: get_n(&item, "valid_until").ok_or_else(|| broken("valid_until"))?,
            used: item.contains_key("used_at"),
        }))
    }

    async fn reset_state(&self, token_hash: &str, now: i64) -> StoreResult<ResetTokenState> {
        let Some(found) = self.found_reset(token_hash).await? else {
            return Ok(ResetTokenState::Unknown);
        };
        let user = self.live_user(&found.user_id, now).await?;
        Ok(judge_reset(&found, user, now))
    }

    async fn email_change_state(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<(EmailChangeOutcome, Option<FoundEmailChange>)> {
        let Some(item) = self.get(email_change_key(token_hash)).await? else {
            return Ok((EmailChangeOutcome::Unknown, None));
        };
        let found = FoundEmailChange {
            user_id: get_s(&item, "user_id")
                .ok_or_else(|| broken("change user_id"))?
                .to_string(),
            new_email: get_s(&item, "new_email")
                .ok_or_else(|| broken("new_email"))?
                .to_string(),
            epoch: get_n(&item, "epoch").unwrap_or(0),
            expires_at: get_n(&item, "valid_until").ok_or_else(|| broken("valid_until"))?,
            used: item.contains_key("used_at"),
        };
        let (user, holder) = tokio::join!(
            self.live_user(&found.user_id, now),
            self.find_user_by_email(&found.new_email, now)
        );
        let holder = holder?;
        let outcome = judge_email_change(
            &found,
            user?,
            holder.as_ref().map(|h| h.user_id.as_str()),
            now,
        );
        Ok((outcome, Some(found)))
    }

    /// Removes a user and its two claims (those still pointing to it), then its sessions.
    /// `only_unactivated` makes the removal conditional on the account not being activated.
    async fn remove_user(&self, user_id: &str, only_unactivated: bool) -> StoreResult<bool> {
        // The user item goes only while its address is the one read: an address change
        // confirmed meanwhile moved the email claim, so the user is read again (else the new
        // claim would outlive its user and hold the address for good).
        for _ in 0..4 {
            let Some(item) = self.get(user_key(user_id)).await? else {
                return Ok(false);
            };
            let user = user_from_item(&item)?;
            if only_unactivated && user.activated {
                return Ok(false);
            }
            let mine = values([(":id", s(user_id))]);
            let (user_condition, user_values) = if only_unactivated {
                (
                    "attribute_exists(pk) AND email = :email AND activated = :no",
                    values([(":email", s(&user.email)), (":no", Av::Bool(false))]),
                )
            } else {
                (
                    "attribute_exists(pk) AND email = :email",
                    values([(":email", s(&user.email))]),
                )
            };
            // A claim may have been taken over by a newer account (this one's window having
            // passed): then it is left alone. Two tries cover both claims being taken.
            let mut claims = vec![username_claim(&user.username), email_claim(&user.email)];
            for _ in 0..3 {
                let mut items = vec![delete(
                    &self.table,
                    user_key(user_id),
                    Some(user_condition),
                    user_values.clone(),
                )?];
                for c in &claims {
                    items.push(delete(
                        &self.table,
                        c.clone(),
                        Some("user_id = :id"),
                        mine.clone(),
                    )?);
                }
                // The second factor and a mailed code go with their user (last: no condition,
                // never the failure).
                items.push(delete(&self.table, factor_key(user_id), None, None)?);
                items.push(delete(
                    &self.table,
                    email_codes::email_code_key(user_id),
                    None,
                    None,
                )?);
                match self.transact(items).await {
                    Ok(()) => {
                        self.delete_sessions(user_id, true).await?;
                        return Ok(true);
                    }
                    Err(e) => match failed_conditions(&e) {
                        // Gone, activated, or its address changed: read it again.
                        Some(failed) if failed.first() == Some(&true) => break,
                        Some(failed) => {
                            let mut i = 0;
                            claims.retain(|_| {
                                i += 1;
                                !failed.get(i).copied().unwrap_or(false)
                            });
                        }
                        None => return Err(unavailable(e)),
                    },
                }
            }
        }
        Err(StoreError::Unavailable(
            "user removal kept conflicting".into(),
        ))
    }
}
