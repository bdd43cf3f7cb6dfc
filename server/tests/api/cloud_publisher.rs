//! The `publish-events` function as Lambda runs it (its binary, a fresh process, the Runtime
//! API's stand-in handing it a batch) on what the table's stream really holds: the routes
//! record events in a table on moto, the test reads the table's stream there (DynamoDB
//! Streams' own API) and hands the records over as Lambda's event source mapping would. The
//! events go to an EventBridge bus on moto, read back through a rule to an SQS queue; the
//! dead-letter queue is an SQS queue there too. moto's EventBridge never fails an entry on its
//! own, so the publisher talks to it through a proxy on loopback that fails chosen entries
//! (by event id) as EventBridge does when it throttles, passing everything else through.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use shared::events::{AccountEvent, Actor, EventType, Outcome, new_id};
use shared::store::Events;

use crate::cloud_functions::{
    call, cloud_config, cloud_vars, config_table, invoke, refused_at_init,
};
use crate::common::{Needs, PASSWORD, can_run, email, moto_endpoint};

/// One call of an AWS JSON API on moto (which reads the service and region from the
/// signature's scope and checks nothing else).
async fn aws(target: &str, body: Value) -> Value {
    let service = match target.split_once('.').unwrap().0 {
        "AmazonSQS" => "sqs",
        "AWSEvents" => "events",
        _ => "dynamodb",
    };
    let scope = format!("Credential=test/20260101/us-east-1/{service}/aws4_request");
    let response = reqwest::Client::new()
        .post(moto_endpoint())
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=0"),
        )
        .header("x-amz-target", target)
        .header("content-type", "application/x-amz-json-1.0")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{target}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Every record of the table's stream so far, as Lambda's event source mapping hands them over.
async fn stream_records(table: &str) -> Vec<Value> {
    let described = aws(
        "DynamoDB_20120810.DescribeTable",
        json!({ "TableName": table }),
    )
    .await;
    let arn = described["Table"]["LatestStreamArn"]
        .as_str()
        .expect("the table has a stream")
        .to_string();
    let stream = aws(
        "DynamoDBStreams_20120810.DescribeStream",
        json!({ "StreamArn": arn }),
    )
    .await;
    let mut records = Vec::new();
    for shard in stream["StreamDescription"]["Shards"].as_array().unwrap() {
        let iterator = aws(
            "DynamoDBStreams_20120810.GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await;
        let got = aws(
            "DynamoDBStreams_20120810.GetRecords",
            json!({ "ShardIterator": iterator["ShardIterator"], "Limit": 1000 }),
        )
        .await;
        for mut record in got["Records"].as_array().unwrap().clone() {
            record["eventSourceARN"] = json!(arn);
            records.push(record);
        }
    }
    records
}

fn is_event_record(record: &Value) -> bool {
    record["eventName"] == "INSERT"
        && record["dynamodb"]["Keys"]["sk"]["S"]
            .as_str()
            .is_some_and(|sk| sk.starts_with("EVENT#"))
}

fn event_id_of(record: &Value) -> String {
    let body = record["dynamodb"]["NewImage"]["body"]["S"]
        .as_str()
        .unwrap();
    serde_json::from_str::<Value>(body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A queue on moto: (its URL, its ARN).
async fn queue(name: &str) -> (String, String) {
    let created = aws("AmazonSQS.CreateQueue", json!({ "QueueName": name })).await;
    let url = created["QueueUrl"].as_str().unwrap().to_string();
    (url, format!("arn:aws:sqs:us-east-1:123456789012:{name}"))
}

/// Every message the queue holds now (each taken off it).
async fn drain(url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let got = aws(
            "AmazonSQS.ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0}),
        )
        .await;
        let Some(messages) = got["Messages"].as_array().filter(|m| !m.is_empty()) else {
            return out;
        };
        for m in messages {
            out.push(serde_json::from_str(m["Body"].as_str().unwrap()).unwrap());
            aws(
                "AmazonSQS.DeleteMessage",
                json!({"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]}),
            )
            .await;
        }
    }
}

/// The stand-in for EventBridge's failures: entries to fail (by event id: the error code and
/// how many more times), and each `PutEvents` call's event ids as it arrived.
#[derive(Clone, Default)]
struct Faults {
    rules: Arc<Mutex<HashMap<String, (String, u32)>>>,
    calls: Arc<Mutex<Vec<Vec<String>>>>,
}

impl Faults {
    fn fail(&self, id: &str, code: &str, times: u32) {
        self.rules
            .lock()
            .unwrap()
            .insert(id.to_string(), (code.to_string(), times));
    }
    fn take_calls(&self) -> Vec<Vec<String>> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

const PUT_EVENTS: &str = "AWSEvents.PutEvents";

async fn proxy(
    State(faults): State<Faults>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut forward = body.to_vec();
    // Per entry: the failure injected, or None where moto's answer goes.
    let mut injected: Vec<Option<Value>> = Vec::new();
    if target == PUT_EVENTS {
        let mut request: Value = serde_json::from_slice(&body).unwrap();
        let entries = request["Entries"].as_array().unwrap().clone();
        let ids: Vec<String> = entries
            .iter()
            .map(|e| {
                let detail: Value = serde_json::from_str(e["Detail"].as_str().unwrap()).unwrap();
                detail["id"].as_str().unwrap().to_string()
            })
            .collect();
        faults.calls.lock().unwrap().push(ids.clone());
        let mut kept = Vec::new();
        let mut rules = faults.rules.lock().unwrap();
        for (entry, id) in entries.into_iter().zip(&ids) {
            match rules.get_mut(id) {
                Some((code, times)) if *times > 0 => {
                    *times -= 1;
                    injected.push(Some(
                        json!({"ErrorCode": code, "ErrorMessage": "injected by the test"}),
                    ));
                }
                _ => {
                    injected.push(None);
                    kept.push(entry);
                }
            }
        }
        drop(rules);
        if kept.is_empty() {
            let count = injected.len();
            let entries: Vec<Value> = injected.into_iter().flatten().collect();
            return json_answer(json!({"FailedEntryCount": count, "Entries": entries}));
        }
        request["Entries"] = json!(kept);
        forward = request.to_string().into_bytes();
    }
    let mut outgoing = reqwest::Client::new()
        .post(format!("{}{}", moto_endpoint(), uri))
        .body(forward);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = outgoing.send().await.unwrap();
    let status = answer.status().as_u16();
    let content_type = answer
        .headers()
        .get("content-type")
        .and_then(|c| c.to_str().ok())
        .unwrap_or("application/x-amz-json-1.1")
        .to_string();
    let text = answer.bytes().await.unwrap();
    if target != PUT_EVENTS || status != 200 {
        let status = axum::http::StatusCode::from_u16(status).unwrap();
        return (status, [("content-type", content_type)], text).into_response();
    }
    let moto: Value = serde_json::from_slice(&text).unwrap();
    let mut from_moto = moto["Entries"].as_array().unwrap().clone().into_iter();
    let entries: Vec<Value> = injected
        .into_iter()
        .map(|i| i.unwrap_or_else(|| from_moto.next().unwrap()))
        .collect();
    let failed = entries
        .iter()
        .filter(|e| e.get("ErrorCode").is_some())
        .count();
    json_answer(json!({"FailedEntryCount": failed, "Entries": entries}))
}

fn json_answer(body: Value) -> Response {
    (
        [("content-type", "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

/// The proxy on loopback: its URL.
async fn start_proxy(faults: Faults) -> String {
    let app = axum::Router::new().fallback(proxy).with_state(faults);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Runs the publisher on `records`; its answer (`batchItemFailures`).
async fn publish(vars: &[(String, String)], records: &[Value]) -> Value {
    let (kind, answer) = invoke("publish-events", vars, json!({ "Records": records })).await;
    assert_eq!(
        kind, "response",
        "the publisher reported an error: {answer}"
    );
    answer
}

fn failures(answer: &Value) -> Vec<String> {
    answer["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect()
}

fn sequence(record: &Value) -> String {
    record["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn cloud_publisher_puts_recorded_events_on_eventbridge() {
    if !can_run(Needs::Moto) || !can_run(Needs::FunctionBinaries) {
        return;
    }
    let (vars, _) = cloud_vars().await;
    let table = config_table(&vars);
    let run = uuid::Uuid::new_v4().simple().to_string();

    // The routes record: a sign-up, its activation, a failed and a good login (through their
    // functions), and nine more events through the store the routes use: 13 in all.
    let username = format!("pub{}", &run[..12]);
    let sign_up = json!({"username": username, "email": email(&username), "password": PASSWORD});
    let (status, body) = call("signup", &vars, ("POST", "/user", ""), None, Some(sign_up)).await;
    assert_eq!(status, 201, "{body}");
    let wrong = json!({"username": username, "password": "not the password"});
    let (status, body) = call("login", &vars, ("POST", "/auth", ""), None, Some(wrong)).await;
    assert!([401, 403].contains(&status), "{status} {body}");
    let config = cloud_config(&vars);
    let sdk = shared::aws::sdk_config(&config).await;
    let store = shared::store::dynamodb::DynamoStore::new(&sdk, table.clone());
    use shared::store::Users;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let user_id = store
        .find_user_by_username(&username, now_ms / 1000)
        .await
        .unwrap()
        .unwrap()
        .user_id;
    for n in 0..10 {
        let event = AccountEvent {
            id: new_id(now_ms + n),
            kind: EventType::ProfileUpdated,
            at_ms: now_ms + n,
            user_id: Some(user_id.clone()),
            username: Some(username.clone()),
            actor: Actor::service(),
            source_ip: Some("203.0.113.10".into()),
            user_agent: Some("test".into()),
            session_id: None,
            outcome: Outcome::Success,
            detail: json!({ "members": ["plan"], "n": n })
                .as_object()
                .unwrap()
                .clone(),
        };
        store
            .record_event(&event, now_ms / 1000 + 86_400)
            .await
            .unwrap();
    }

    let records = stream_records(&table).await;
    let event_records: Vec<&Value> = records.iter().filter(|r| is_event_record(r)).collect();
    assert_eq!(
        event_records.len(),
        12,
        "the stream holds each recorded event once: {records:#?}"
    );
    assert!(
        records.len() > event_records.len(),
        "the stream holds the user's own items too"
    );
    let ids: Vec<String> = event_records.iter().map(|r| event_id_of(r)).collect();

    // A bus of this test's own, a rule sending what the service publishes to a queue, a
    // dead-letter queue, and the proxy in front of EventBridge.
    let bus = format!("accounts-{run}");
    aws("AWSEvents.CreateEventBus", json!({ "Name": bus })).await;
    let (subscriber, subscriber_arn) = queue(&format!("subscriber-{run}")).await;
    let (dead_letters, _) = queue(&format!("dlq-{run}")).await;
    aws(
        "AWSEvents.PutRule",
        json!({"Name": "accounts", "EventBusName": bus, "State": "ENABLED",
               "EventPattern": json!({"source": ["accounts"]}).to_string()}),
    )
    .await;
    aws(
        "AWSEvents.PutTargets",
        json!({"Rule": "accounts", "EventBusName": bus,
               "Targets": [{"Id": "subscriber", "Arn": subscriber_arn}]}),
    )
    .await;
    let faults = Faults::default();
    let proxy = start_proxy(faults.clone()).await;
    let mut publisher_vars: Vec<(String, String)> = vars
        .iter()
        .filter(|(k, _)| k.starts_with("AWS_"))
        .cloned()
        .collect();
    publisher_vars.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    publisher_vars.extend(
        [
            ("AWS_ENDPOINT_URL", proxy.as_str()),
            ("EVENT_BUS_NAME", bus.as_str()),
            ("DEAD_LETTER_QUEUE_URL", dead_letters.as_str()),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );

    // 1. The whole stream as one batch, two entries throttled once: every event published
    //    once, in calls of at most 10, the throttled ones again alone; the rest skipped.
    faults.fail(&ids[2], "ThrottlingException", 1);
    faults.fail(&ids[11], "InternalFailure", 1);
    let answer = publish(&publisher_vars, &records).await;
    assert_eq!(failures(&answer), Vec::<String>::new(), "{answer}");
    let calls = faults.take_calls();
    assert!(calls.iter().all(|c| c.len() <= 10), "{calls:?}");
    let first: BTreeSet<&String> = calls.iter().take(2).flatten().collect();
    assert_eq!(
        first,
        ids.iter().collect(),
        "the first two calls hold all 12"
    );
    let retried: BTreeSet<&String> = calls.iter().skip(2).flatten().collect();
    assert_eq!(retried, BTreeSet::from([&ids[2], &ids[11]]), "{calls:?}");
    let published = drain(&subscriber).await;
    let mut got: Vec<String> = published
        .iter()
        .map(|m| m["detail"]["id"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want, "each event once on the bus");
    for m in &published {
        assert_eq!(m["source"], "accounts");
        assert_eq!(m["detail-type"], m["detail"]["type"], "{m}");
        assert_eq!(m["detail"]["username"], json!(username), "{m}");
        let text = m.to_string();
        assert!(
            !text.contains(PASSWORD)
                && !text.contains("not the password")
                && !text.contains("argon2"),
            "{m}"
        );
    }
    let types: BTreeSet<&str> = published
        .iter()
        .map(|m| m["detail-type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        BTreeSet::from(["signed_up", "login_failed", "profile_updated"])
    );
    assert!(drain(&dead_letters).await.is_empty());

    // 2. An entry EventBridge keeps failing: tried three times, then its record is answered
    //    as a batch item failure for Lambda to retry from; the others are published.
    faults.fail(&ids[5], "InternalFailure", u32::MAX);
    let batch: Vec<Value> = event_records[3..8].iter().map(|r| (*r).clone()).collect();
    let answer = publish(&publisher_vars, &batch).await;
    assert_eq!(failures(&answer), [sequence(event_records[5])], "{answer}");
    let calls = faults.take_calls();
    let tries = calls.iter().flatten().filter(|id| **id == ids[5]).count();
    assert_eq!(tries, publisher::ATTEMPTS as usize, "{calls:?}");
    let published: BTreeSet<String> = drain(&subscriber)
        .await
        .iter()
        .map(|m| m["detail"]["id"].as_str().unwrap().to_string())
        .collect();
    let others: BTreeSet<String> = [3, 4, 6, 7].map(|i| ids[i].clone()).into();
    assert_eq!(published, others);

    // 3. Records that can never be published go to the dead-letter queue whole, with the
    //    reason, and the batch goes on: an unreadable event, and an entry EventBridge refuses.
    let mut unreadable = event_records[8].clone();
    unreadable["dynamodb"]["NewImage"]["body"] = json!({"S": "not an event"});
    faults.fail(&ids[9], "InvalidArgument", u32::MAX);
    let batch = vec![
        unreadable.clone(),
        event_records[9].clone(),
        event_records[10].clone(),
    ];
    let answer = publish(&publisher_vars, &batch).await;
    assert_eq!(failures(&answer), Vec::<String>::new(), "{answer}");
    let parked = drain(&dead_letters).await;
    let mut parked_ids: Vec<&str> = parked
        .iter()
        .map(|m| m["eventID"].as_str().unwrap())
        .collect();
    parked_ids.sort();
    let mut want: Vec<&str> = [&unreadable, event_records[9]]
        .iter()
        .map(|r| r["eventID"].as_str().unwrap())
        .collect();
    want.sort();
    assert_eq!(parked_ids, want, "{parked:#?}");
    for m in &parked {
        assert!(m["reason"].as_str().is_some_and(|r| !r.is_empty()), "{m}");
        assert_eq!(
            m["record"]["eventID"], m["eventID"],
            "the record whole: {m}"
        );
    }
    let published: Vec<String> = drain(&subscriber)
        .await
        .iter()
        .map(|m| m["detail"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(published, [ids[10].clone()]);

    // 4. The stream batch of events/stream/ (what docs/deploying.md invokes by hand): its one new
    //    event is published; the claim item and the expired event's removal are not.
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/stream/publish-events.json");
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(sample).unwrap()).unwrap();
    let answer = publish(&publisher_vars, sample["Records"].as_array().unwrap()).await;
    assert_eq!(failures(&answer), Vec::<String>::new(), "{answer}");
    let published = drain(&subscriber).await;
    assert_eq!(published.len(), 1, "{published:#?}");
    assert_eq!(
        (
            &published[0]["detail-type"],
            &published[0]["detail"]["username"]
        ),
        (&json!("signed_up"), &json!("alice"))
    );
    assert!(drain(&dead_letters).await.is_empty());

    // 5. With no dead-letter queue to take it, an unreadable record is left for Lambda too.
    let mut no_queue = publisher_vars.clone();
    no_queue.retain(|(k, _)| k != "DEAD_LETTER_QUEUE_URL");
    no_queue.push((
        "DEAD_LETTER_QUEUE_URL".into(),
        format!("{}/123456789012/no-such-queue-{run}", moto_endpoint()),
    ));
    let answer = publish(&no_queue, std::slice::from_ref(&unreadable)).await;
    assert_eq!(failures(&answer), [sequence(&unreadable)], "{answer}");
}

/// Without a dead-letter queue configured, the publisher refuses to start (Lambda reports an
/// init error) rather than lose what it cannot publish.
#[test]
fn cloud_publisher_refuses_to_start_without_a_dead_letter_queue() {
    if !can_run(Needs::FunctionBinaries) {
        return;
    }
    let stderr = refused_at_init("publish-events", &[("AWS_REGION", "us-east-1")]);
    assert!(stderr.contains("DEAD_LETTER_QUEUE_URL"), "{stderr}");
}
