//! Stored data of this release, kept: a SQLite store file and the DynamoDB items of an account
//! with its second factor on (a TOTP secret, ten recovery codes), as schema 7 writes them. The
//! test reads them with the code of now and signs in with both kinds of second step: a later
//! release that stores credentials differently (more than one authenticator, passkeys) must
//! still read these. They were written by `write_the_store_fixtures` (ignored; run it with
//! `--run-ignored only`, once without and once with TEST_STORE=dynamodb), under the test
//! servers' MFA_ENCRYPTION_KEY (`common::MFA_KEY`): neither may change without writing them
//! again.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value, json};

use crate::common::{PASSWORD, Server, dynamodb_mode, moto_endpoint};
use crate::mfa::{code_at, enrolled, first_step, second_step};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const USERNAME: &str = "fixture";

fn meta_path() -> String {
    let store = if dynamodb_mode() {
        "dynamodb"
    } else {
        "sqlite"
    };
    format!("{DIR}/store-v7-{store}.json")
}

/// An item as DynamoDB's JSON writes it (`{"S": ..}`, `{"N": ..}`, ...).
fn to_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Ss(ss) => json!({ "SS": ss }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(to_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => {
            let map: Map<String, Value> = m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
            json!({ "M": map })
        }
        other => panic!("an attribute of a kind this service does not write: {other:?}"),
    }
}

fn from_json(value: &Value) -> AttributeValue {
    let (kind, v) = value.as_object().unwrap().iter().next().unwrap();
    match kind.as_str() {
        "S" => AttributeValue::S(v.as_str().unwrap().into()),
        "N" => AttributeValue::N(v.as_str().unwrap().into()),
        "BOOL" => AttributeValue::Bool(v.as_bool().unwrap()),
        "SS" => AttributeValue::Ss(
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().into())
                .collect(),
        ),
        "NULL" => AttributeValue::Null(true),
        "L" => AttributeValue::L(v.as_array().unwrap().iter().map(from_json).collect()),
        "M" => AttributeValue::M(
            v.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), from_json(v)))
                .collect(),
        ),
        other => panic!("{other}"),
    }
}

async fn dynamodb() -> aws_sdk_dynamodb::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&sdk)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// Writes the fixture of the store the tests run on (SQLite, or DynamoDB with TEST_STORE).
#[tokio::test]
#[ignore = "writes tests/fixtures: run once when the stored data's shape is to be kept anew"]
async fn write_the_store_fixtures() {
    let s = Server::start().await;
    let e = enrolled(&s, USERNAME).await;
    let mut meta = json!({
        "username": USERNAME,
        "password": PASSWORD,
        "totp_secret_hex": hex(&e.secret),
        "recovery_codes": e.recovery,
        "written_by": "schema 7 (SQLite user_version 7; DynamoDB items of the same release)",
    });
    std::fs::create_dir_all(DIR).unwrap();
    match &s.table {
        None => {
            let copy = format!("{DIR}/store-v7.db");
            let _ = std::fs::remove_file(&copy);
            let db = rusqlite::Connection::open(s.data_dir.join("accounts.db")).unwrap();
            db.execute("VACUUM INTO ?1", [&copy]).unwrap();
        }
        Some(table) => {
            let out = dynamodb()
                .await
                .scan()
                .table_name(table)
                .send()
                .await
                .unwrap();
            let items: Vec<Value> = out
                .items()
                .iter()
                .map(|item| {
                    let map: Map<String, Value> =
                        item.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
                    Value::Object(map)
                })
                .collect();
            meta["items"] = Value::Array(items);
        }
    }
    let text = serde_json::to_string_pretty(&meta).unwrap() + "\n";
    std::fs::write(meta_path(), text).unwrap();
}

/// The stored data of schema 7, read by today's code: the password step asks for the second
/// factor, a code of the stored secret signs in (`amr` with `otp`), and so does a stored
/// recovery code, once.
#[tokio::test]
async fn stored_data_of_schema_7_signs_in_with_its_second_factor() {
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(meta_path()).unwrap()).unwrap();
    let s = match dynamodb_mode() {
        false => {
            let dir = tempfile::tempdir().unwrap().keep();
            std::fs::copy(format!("{DIR}/store-v7.db"), dir.join("accounts.db")).unwrap();
            Server::start_in(&dir, &[]).await
        }
        true => {
            let s = Server::start().await;
            let client = dynamodb().await;
            for item in meta["items"].as_array().unwrap() {
                let item: HashMap<String, AttributeValue> = item
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), from_json(v)))
                    .collect();
                client
                    .put_item()
                    .table_name(s.table.as_deref().unwrap())
                    .set_item(Some(item))
                    .send()
                    .await
                    .unwrap();
            }
            s
        }
    };
    assert_eq!(meta["password"], PASSWORD);
    let secret = unhex(meta["totp_secret_hex"].as_str().unwrap());
    // Past the step its last code used (written moments ago, when the fixture is new).
    s.clock.advance(60);
    let t = first_step(&s, USERNAME).await;
    let signed = second_step(&s, &t, json!({"code": code_at(&secret, s.clock.now())}))
        .await
        .expect(200, None);
    let claims = crate::common::jwt_part(signed["access_token"].as_str().unwrap(), 1);
    assert_eq!(
        (claims["amr"].clone(), claims["acr"].clone()),
        (json!(["pwd", "otp"]), json!("aal2"))
    );
    let recovery = meta["recovery_codes"][0].as_str().unwrap();
    let t = first_step(&s, USERNAME).await;
    second_step(&s, &t, json!({ "recovery_code": recovery }))
        .await
        .expect(200, None);
    let t = first_step(&s, USERNAME).await;
    second_step(&s, &t, json!({ "recovery_code": recovery }))
        .await
        .expect(400, Some("invalid_mfa_code"));
}
