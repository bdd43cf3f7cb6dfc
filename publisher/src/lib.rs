//! The account-event publisher: the table's stream, as Lambda hands it over, to EventBridge.
//!
//! Each new item whose sort key starts `EVENT#` is an account event (the recording routes
//! write them; `shared::events`). The publisher puts each on the bus as `source: accounts`,
//! `detail-type` the event's type, `detail` the event as `GET /user/{username}/events` shows
//! it, `time` the event's. Other changes on the stream (users, sessions, throttles, TTL
//! deletions) are skipped; the event source mapping's filter keeps most of them away already.
//!
//! What can go wrong, and what happens then:
//! - **An entry EventBridge could not take for now** (throttled, internal error, the call
//!   itself failing): retried here, up to [`ATTEMPTS`] times with a short back-off, only the
//!   entries that failed. Left failing, the records are answered as batch item failures, so
//!   Lambda retries from the first of them (bisecting, up to the mapping's retry limit) and
//!   then hands the batch's description to the dead-letter queue.
//! - **A record that can never be published** (its event unreadable, or an entry EventBridge
//!   refuses as invalid): sent whole to the dead-letter queue at once with the reason, so it
//!   does not hold up its shard; if the queue cannot take it either, it is a failure as above.
//!
//! A record may so be published more than once (Lambda retries from the first failure, and
//! the records after it go again): subscribers keep `detail.id`, the event's own id, to drop
//! a repeat.

use std::time::Duration;

use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use futures::StreamExt;
use serde_json::{Value, json};
use shared::events::AccountEvent;

/// EventBridge's limit of entries in one `PutEvents`.
pub const MAX_ENTRIES: usize = 10;
/// EventBridge's limit of one `PutEvents`' size (entries counted as EventBridge counts them).
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Tries of one entry here before its record is left to Lambda's retries.
pub const ATTEMPTS: u32 = 3;
/// The first pause before an entry is tried again (doubled each time).
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// `PutEvents` calls in flight at once for one invocation.
const CONCURRENT_CALLS: usize = 4;
/// The `source` of every entry.
pub const SOURCE: &str = "accounts";
/// Entry error codes that no retry can mend: the record goes to the dead-letter queue.
const PERMANENT: [&str; 3] = ["InvalidArgument", "MalformedDetail", "ValidationException"];

/// Where the publisher sends: the bus, and the dead-letter queue for what it cannot publish.
pub struct Publisher {
    pub events: aws_sdk_eventbridge::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub bus: String,
    pub dead_letter_queue_url: String,
}

/// One event to put, and the record (its position in the batch) it came from.
struct Pending {
    record: usize,
    entry: PutEventsRequestEntry,
    size: usize,
}

/// What became of one `PutEvents` chunk: the records left failing, and those to park.
#[derive(Default)]
struct ChunkOutcome {
    failed: Vec<usize>,
    permanent: Vec<(usize, String)>,
}

impl Publisher {
    /// From the process's environment: `EVENT_BUS_NAME` (default: the account's default bus)
    /// and `DEAD_LETTER_QUEUE_URL`; the AWS SDK's own variables (region, credentials,
    /// `AWS_ENDPOINT_URL`).
    pub async fn from_env() -> Result<Publisher, String> {
        let bus = std::env::var("EVENT_BUS_NAME")
            .ok()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "default".into());
        let dead_letter_queue_url = std::env::var("DEAD_LETTER_QUEUE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .ok_or(
                "DEAD_LETTER_QUEUE_URL is not set: the queue for events that cannot be published",
            )?;
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(1))
            .operation_attempt_timeout(Duration::from_secs(3))
            .operation_timeout(Duration::from_secs(8))
            .build();
        let sdk = shared::aws::load(None, None, timeouts, 2).await;
        Ok(Publisher {
            events: aws_sdk_eventbridge::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            bus,
            dead_letter_queue_url,
        })
    }

    /// Publishes a batch of stream records (Lambda's event, read one record at a time, so one
    /// unreadable record does not fail the others); answers the records Lambda should retry.
    pub async fn publish(&self, batch: Value) -> Result<DynamoDbEventResponse, String> {
        let records = match batch {
            Value::Object(mut batch) => batch.remove("Records"),
            _ => None,
        };
        let Some(Value::Array(records)) = records else {
            return Err("not a DynamoDB stream batch: no Records".into());
        };
        let mut pending = Vec::new();
        let mut park: Vec<(usize, String)> = Vec::new();
        for (i, raw) in records.iter().enumerate() {
            if !is_account_event(raw) {
                continue;
            }
            match self.entry(raw) {
                Some(entry) => pending.push(Pending {
                    record: i,
                    size: entry_size(&entry),
                    entry,
                }),
                None => park.push((i, "the record holds no readable account event".into())),
            }
        }
        let published = pending.len();
        let outcomes: Vec<ChunkOutcome> = futures::stream::iter(chunks(pending))
            .map(|chunk| self.put_chunk(chunk))
            .buffer_unordered(CONCURRENT_CALLS)
            .collect()
            .await;
        let mut failed: Vec<usize> = Vec::new();
        for outcome in outcomes {
            failed.extend(outcome.failed);
            park.extend(outcome.permanent);
        }
        let parked = park.len();
        for (i, reason) in park {
            if !self.dead_letter(&records[i], &reason).await {
                failed.push(i);
            }
        }
        failed.sort_unstable();
        failed.dedup();
        if failed.is_empty() {
            tracing::info!(
                records = records.len(),
                published,
                parked,
                "account events published"
            );
        } else {
            tracing::error!(
                records = records.len(),
                failed = failed.len(),
                "account events left for Lambda to retry"
            );
        }
        let mut response = DynamoDbEventResponse::default();
        for i in failed {
            let Some(sequence) = sequence_number(&records[i]) else {
                // Without its sequence number a record cannot be named: the whole batch again.
                return Err("a record that failed has no sequence number".into());
            };
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence.to_string());
            response.batch_item_failures.push(failure);
        }
        Ok(response)
    }

    /// The entry of a record's event, if the record holds a readable one.
    fn entry(&self, record: &Value) -> Option<PutEventsRequestEntry> {
        let body = record["dynamodb"]["NewImage"]["body"]["S"].as_str()?;
        let event: AccountEvent = serde_json::from_str(body).ok()?;
        let detail = serde_json::to_string(&event.view()).ok()?;
        Some(
            PutEventsRequestEntry::builder()
                .source(SOURCE)
                .detail_type(event.kind.as_str())
                .detail(detail)
                .time(DateTime::from_millis(event.at_ms))
                .event_bus_name(&self.bus)
                .build(),
        )
    }

    /// Puts one chunk, retrying the entries that failed for now.
    async fn put_chunk(&self, mut chunk: Vec<Pending>) -> ChunkOutcome {
        let mut outcome = ChunkOutcome::default();
        let mut delay = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            let entries = chunk.iter().map(|p| p.entry.clone()).collect();
            let answer = self
                .events
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await;
            let out = match answer {
                Ok(out) => out,
                Err(e) => {
                    tracing::warn!(
                        attempt,
                        entries = chunk.len(),
                        error = %aws_sdk_eventbridge::error::DisplayErrorContext(&e),
                        "PutEvents failed"
                    );
                    continue;
                }
            };
            if out.failed_entry_count() == 0 {
                return outcome;
            }
            let results = out.entries();
            let mut again = Vec::new();
            for (n, pending) in chunk.into_iter().enumerate() {
                // The answer lists one result per entry, in order; a missing one is a failure.
                let code = match results.get(n) {
                    Some(r) if r.error_code().is_none() && r.event_id().is_some() => continue,
                    Some(r) => r.error_code().unwrap_or("unknown").to_string(),
                    None => "missing".to_string(),
                };
                if PERMANENT.contains(&code.as_str()) {
                    outcome
                        .permanent
                        .push((pending.record, format!("EventBridge refused it: {code}")));
                } else {
                    tracing::warn!(attempt, code, "an entry was not put");
                    again.push(pending);
                }
            }
            chunk = again;
            if chunk.is_empty() {
                return outcome;
            }
        }
        outcome.failed = chunk.iter().map(|p| p.record).collect();
        outcome
    }

    /// Parks a record that cannot be published on the dead-letter queue; whether it is there.
    async fn dead_letter(&self, record: &Value, reason: &str) -> bool {
        let message = json!({
            "reason": reason,
            "eventID": record.get("eventID"),
            "sequence_number": sequence_number(record),
            "record": record,
        });
        let event_id = record.get("eventID").and_then(Value::as_str).unwrap_or("");
        let sent = self
            .sqs
            .send_message()
            .queue_url(&self.dead_letter_queue_url)
            .message_body(message.to_string())
            .send()
            .await;
        match sent {
            Ok(_) => {
                tracing::error!(
                    event_id,
                    reason,
                    "a record that cannot be published was sent to the dead-letter queue"
                );
                true
            }
            Err(e) => {
                tracing::error!(
                    event_id,
                    error = %aws_sdk_sqs::error::DisplayErrorContext(&e),
                    "the dead-letter queue did not take a record"
                );
                false
            }
        }
    }
}

/// A new item of an account event: inserted, its sort key `EVENT#...`.
fn is_account_event(record: &Value) -> bool {
    record["eventName"] == "INSERT"
        && record["dynamodb"]["Keys"]["sk"]["S"]
            .as_str()
            .is_some_and(|sk| sk.starts_with("EVENT#"))
}

/// The record's place in its shard: what Lambda is told to retry from.
fn sequence_number(record: &Value) -> Option<&str> {
    record["dynamodb"]["SequenceNumber"].as_str()
}

/// An entry's size as EventBridge counts it toward a call's limit.
fn entry_size(entry: &PutEventsRequestEntry) -> usize {
    14 + [entry.source(), entry.detail_type(), entry.detail()]
        .iter()
        .map(|s| s.map_or(0, str::len))
        .sum::<usize>()
}

/// The entries in calls of at most [`MAX_ENTRIES`] and [`MAX_BATCH_BYTES`], in order.
fn chunks(pending: Vec<Pending>) -> Vec<Vec<Pending>> {
    let mut out: Vec<Vec<Pending>> = Vec::new();
    let mut bytes = 0;
    for p in pending {
        let full = out
            .last()
            .is_none_or(|c| c.len() == MAX_ENTRIES || bytes + p.size > MAX_BATCH_BYTES);
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += p.size;
        out.last_mut().unwrap().push(p);
    }
    out
}
