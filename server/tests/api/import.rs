//! Users imported with the hashes their old system made (`accounts import-users`), on both
//! stores: hashes written by the real libraries of each source (fixtures/import/hashes.json,
//! made by its make_hashes.py) imported and signed in with, each replaced by argon2id at the
//! first right password; a wrong password throttled as any other; every kind of bad line
//! refused with its line number; a dry run; an account with no hash set by the reset mail;
//! imports at once, interrupted and run again, creating each user once.

use std::io::Cursor;
use std::sync::{Arc, Mutex};

use accounts::import::{Report, Summary, import_users};
use serde_json::{Value, json};

use crate::common::{Server, email};

const CURRENT: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

fn fixtures() -> Vec<Value> {
    serde_json::from_str(include_str!("../fixtures/import/hashes.json")).unwrap()
}

/// Imports `text`; the summary and every report.
async fn import(s: &Server, text: &str, dry_run: bool) -> (Summary, Vec<Report>) {
    let reports = Mutex::new(Vec::new());
    let summary = import_users(
        &s.state,
        Cursor::new(text.as_bytes().to_vec()),
        dry_run,
        accounts::import::IN_FLIGHT,
        |r| reports.lock().unwrap().push(r),
        |_, _| {},
    )
    .await;
    (summary, reports.into_inner().unwrap())
}

async fn stored_hash(s: &Server, username: &str) -> Option<String> {
    s.stored_user(username).await.map(|u| u.password_hash)
}

async fn all_users(s: &Server) -> Vec<shared::user::UserRecord> {
    let mut users = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s
            .state
            .store
            .list_users(after.as_deref(), None, 100, s.clock.now())
            .await
            .unwrap();
        users.extend(page.users);
        match page.next_after {
            Some(next) => after = Some(next),
            None => return users,
        }
    }
}

#[tokio::test]
async fn every_source_signs_in_once_with_its_own_hash_then_with_argon2id() {
    let s = Server::start().await;
    let hashes = fixtures();
    let file: String = hashes
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let line = json!({"username": format!("imp{i}"), "email": email(&format!("imp{i}")),
                "password_hash": h["hash"], "data": {"source": h["source"]}});
            format!("{line}\n")
        })
        .collect();
    let (summary, reports) = import(&s, &file, false).await;
    let weak: Vec<usize> = (0..hashes.len())
        .filter(|i| hashes[*i]["weak"] == true)
        .collect();
    assert_eq!(summary.imported, hashes.len(), "{reports:?}");
    assert_eq!((summary.refused, summary.skipped), (0, 0));
    assert_eq!(summary.flagged, weak.len());
    let flagged: Vec<usize> = reports
        .iter()
        .map(|r| match r {
            Report::Flagged { line, .. } => line - 1,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(flagged, weak, "the hashes under the floor, by line");

    for (i, h) in hashes.iter().enumerate() {
        let name = format!("imp{i}");
        let source = h["source"].as_str().unwrap();
        let imported = h["hash"].as_str().unwrap();
        assert_eq!(stored_hash(&s, &name).await.as_deref(), Some(imported));
        // A wrong password leaves it as it is.
        assert!(
            s.log_in_with_password(&name, "not the password at all")
                .await
                .is_none(),
            "{source}"
        );
        assert_eq!(stored_hash(&s, &name).await.as_deref(), Some(imported));
        let password = h["password"].as_str().unwrap();
        let token = s
            .log_in_with_password(&name, password)
            .await
            .unwrap_or_else(|| panic!("{source}: the right password refused"));
        let now = stored_hash(&s, &name).await.unwrap();
        assert!(now.starts_with(CURRENT), "{source}: {now}");
        assert!(!now.contains(imported));
        // The same password over the new hash; the old hash is nowhere.
        assert!(s.log_in_with_password(&name, password).await.is_some());
        assert_eq!(stored_hash(&s, &name).await.unwrap(), now, "rehashed once");
        let me = s.get("/user", Some(&token)).await.expect(200, None);
        assert_eq!(me["data"]["source"], h["source"]);
        assert!(!me.to_string().contains("$v=19$") && !me.to_string().contains(imported));
        let events = s.events_of(&name, &token).await;
        let of = |t: &str| events.iter().filter(|(k, _)| k == t).count();
        assert_eq!(of("password_rehashed"), 1, "{source}: {events:?}");
        let rehashed = &events
            .iter()
            .find(|(k, _)| k == "password_rehashed")
            .unwrap()
            .1;
        assert_eq!(rehashed["from"], h["kind"]);
        let imported_event = &events.iter().find(|(k, _)| k == "user_imported").unwrap().1;
        assert_eq!(imported_event["hash"], h["kind"]);
        assert_eq!(imported_event.get("weak_hash").is_some(), h["weak"] == true);
    }
}

#[tokio::test]
async fn a_wrong_password_of_an_imported_user_is_throttled_as_any_other() {
    let s = Server::start().await;
    let h = &fixtures()[1]; // bcrypt, as Supabase and Auth0 export it
    let line = json!({"username": "tess", "email": email("tess"), "password_hash": h["hash"]});
    assert_eq!(import(&s, &line.to_string(), false).await.0.imported, 1);
    for _ in 0..5 {
        assert!(
            s.log_in_with_password("tess", "wrong wrong wrong")
                .await
                .is_none()
        );
    }
    assert!(
        s.stored_failures()
            .await
            .contains(&("u:tess".to_string(), 5)),
        "{:?}",
        s.stored_failures().await
    );
    // Locked: the right password waits like a wrong one, and nothing is rehashed.
    let right = json!({"username": "tess", "password": h["password"]});
    s.post("/auth", None, right.clone())
        .await
        .expect(429, Some("too_many_attempts"));
    assert_eq!(
        stored_hash(&s, "tess").await.unwrap(),
        h["hash"].as_str().unwrap()
    );
    s.clock.advance(2);
    s.post("/auth", None, right).await.expect(200, None);
    assert!(stored_hash(&s, "tess").await.unwrap().starts_with(CURRENT));
}

#[tokio::test]
async fn every_kind_of_bad_line_is_refused_with_its_number_and_reason() {
    let s = Server::start().await;
    s.user("held").await; // signed up here before the import
    let bcrypt = fixtures()[0]["hash"].as_str().unwrap().to_string();
    let good = |name: &str| {
        json!({"username": name, "email": email(name), "password_hash": bcrypt}).to_string()
    };
    let with = |name: &str, key: &str, value: Value| {
        let mut line = json!({"username": name, "email": email(name), "password_hash": bcrypt});
        line[key] = value;
        line.to_string()
    };
    let lines: Vec<(String, Option<&str>)> = vec![
        (good("fine1"), None),
        ("not json".into(), Some("not a JSON object")),
        ("[1, 2]".into(), Some("not a JSON object")),
        (with("x1", "pasword_hash", json!("typo")), Some("unknown field `pasword_hash`")),
        (json!({"username": "x2"}).to_string(), Some("missing field `email`")),
        (with("x3", "email", json!("not an address")), Some("bad email")),
        (with("x4", "email", json!("a@b")), Some("bad email")),
        (with("x5 space", "email", json!("x5@example.com")), Some("bad username")),
        (with("x6", "password_hash", json!("md5$salt$abc")), Some("bad hash: not a hash of a known form")),
        (with("x7", "password_hash", json!(format!("$2b$15${}", &bcrypt[7..]))), Some("over the ceiling")),
        (with("x8", "password_hash", json!("$2b$10$tooshort")), Some("bad hash")),
        (with("x9", "password_hash", json!("pbkdf2_sha256$9000000$salt$P4UiMPVduVWIe/jw7RXKSTmAnMVmPWjbhKnLwLNTfKo=")), Some("over the ceiling")),
        (with("x10", "password_hash", json!("$argon2id$v=19$m=1048576,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")), Some("over the ceiling")),
        (with("x11", "data", json!({"role": "admin"})), Some("bad data: role")),
        (with("x12", "data", json!({"blob": "y".repeat(17 * 1024)})), Some("bad data: more than")),
        (with("x13", "role", json!("root")), Some("bad role")),
        (with("x14", "created_at", json!("2999-01-01T00:00:00Z")), Some("bad created_at")),
        (with("x15", "created_at", json!("yesterday")), Some("bad created_at")),
        (with("x16", "activated", json!("yes")), Some("not a JSON object")),
        (with("fine1", "email", json!(email("other"))), Some("duplicate username")),
        (with("x17", "email", json!(email("FINE1").to_uppercase())), Some("duplicate address")),
        (with("HELD", "email", json!(email("someone"))), Some("duplicate username")),
        (json!({"username": "x18", "email": email("x18"), "data": {"pad": "z".repeat(70 * 1024)}}).to_string(), Some("longer than 65536 bytes")),
        (String::new(), None), // blank: not a line of the count
        (good("fine2"), None),
        (good("fine1"), None), // the same account again: skipped
    ];
    let mut file = String::new();
    for (text, _) in &lines {
        file.push_str(text);
        file.push('\n');
    }
    // A line that is not UTF-8, then a last line with no newline.
    let mut bytes = file.into_bytes();
    bytes.extend_from_slice(b"{\"username\": \"\xff\xfe\"}\n");
    bytes.extend_from_slice(good("fine3").as_bytes());
    let reports = Mutex::new(Vec::new());
    let summary = import_users(
        &s.state,
        Cursor::new(bytes),
        false,
        accounts::import::IN_FLIGHT,
        |r| reports.lock().unwrap().push(r),
        |_, _| {},
    )
    .await;
    let reports = reports.into_inner().unwrap();
    let refused: Vec<(usize, String)> = reports
        .iter()
        .filter_map(|r| match r {
            Report::Refused { line, why } => Some((*line, why.clone())),
            _ => None,
        })
        .collect();
    let mut expected: Vec<(usize, &str)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, (_, why))| why.map(|w| (i + 1, w)))
        .collect();
    expected.push((lines.len() + 1, "not UTF-8"));
    assert_eq!(refused.len(), expected.len(), "{refused:#?}");
    for ((line, why), (want_line, want)) in refused.iter().zip(&expected) {
        assert_eq!(line, want_line, "{why}");
        assert!(why.contains(want), "line {line}: {why} (wanted {want})");
        assert!(!why.contains(&bcrypt), "no hash echoed: {why}");
    }
    assert_eq!(
        (
            summary.imported,
            summary.skipped,
            summary.refused,
            summary.lines
        ),
        (3, 1, expected.len(), 3 + 1 + expected.len())
    );
    assert!(summary.stopped.is_none());
    for name in [
        "x1", "x3", "x6", "x7", "x11", "x13", "x14", "x17", "x18", "other",
    ] {
        assert_eq!(
            stored_hash(&s, name).await,
            None,
            "{name} refused, nothing stored"
        );
    }
    assert!(stored_hash(&s, "fine3").await.is_some());
    let held = s.stored_user("held").await.unwrap();
    assert_eq!(held.email, email("held"), "the account here left as it was");
}

#[tokio::test]
async fn a_dry_run_checks_and_writes_nothing() {
    let s = Server::start().await;
    s.user("held").await;
    let h = &fixtures()[4];
    let file = [
        json!({"username": "dry1", "email": email("dry1"), "password_hash": h["hash"]}),
        json!({"username": "dry2", "email": email("held")}),
        json!({"username": "dry3", "email": email("dry3"), "password_hash": "sha1$x$y"}),
    ]
    .map(|l| l.to_string())
    .join("\n");
    let (summary, reports) = import(&s, &file, true).await;
    assert_eq!((summary.imported, summary.refused), (1, 2), "{reports:?}");
    assert_eq!(stored_hash(&s, "dry1").await, None);
    let (summary, _) = import(&s, &file, false).await;
    assert_eq!((summary.imported, summary.refused), (1, 2));
    assert!(stored_hash(&s, "dry1").await.is_some());
}

#[tokio::test]
async fn an_account_without_a_hash_signs_in_after_the_reset_mail_and_its_settings_hold() {
    let s = Server::start().await;
    let file = [
        json!({"username": "nohash", "email": email("nohash"), "data": {"plan": "pro"},
               "created_at": "2019-03-01T10:00:00Z"}),
        json!({"username": "boss", "email": email("boss"), "role": "admin",
               "password_hash": fixtures()[0]["hash"], "created_at": 1_500_000_000}),
        json!({"username": "asleep", "email": email("asleep"), "activated": false,
               "password_hash": fixtures()[1]["hash"]}),
    ]
    .map(|l| l.to_string())
    .join("\n");
    assert_eq!(import(&s, &file, false).await.0.imported, 3);
    // No password matches: the same answer as any wrong one.
    for guess in ["", "!none", "none", "password"] {
        let r = s
            .post(
                "/auth",
                None,
                json!({"username": "nohash", "password": guess}),
            )
            .await;
        assert!(
            matches!(r.status.as_u16(), 400 | 401),
            "{guess}: {}",
            r.status
        );
    }
    s.post("/password/forgot", None, json!({"email": email("nohash")}))
        .await
        .expect(202, None);
    let new = "a brand new passphrase here";
    s.reset_by_link(&email("nohash"), new).await;
    let token = s.log_in_with_password("nohash", new).await.unwrap();
    let me = s.get("/user", Some(&token)).await.expect(200, None);
    assert_eq!(me["data"]["plan"], "pro");
    assert_eq!(me["created_at"], "2019-03-01T10:00:00Z");

    let boss = s
        .log_in_with_password("boss", "correct horse battery staple")
        .await
        .unwrap();
    let me = s.get("/user", Some(&boss)).await.expect(200, None);
    assert_eq!(
        (me["role"].as_str(), me["created_at"].as_str()),
        (Some("admin"), Some("2017-07-14T02:40:00Z"))
    );
    // Imported deactivated: refused as a deactivated account is, until an admin activates it.
    let asleep = json!({"username": "asleep", "password": fixtures()[1]["password"]});
    let r = s.post("/auth", None, asleep.clone()).await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.text);
    s.put("/user/asleep", Some(&boss), json!({"activated": true}))
        .await
        .expect(200, None);
    s.post("/auth", None, asleep).await.expect(200, None);
}

#[tokio::test]
async fn imports_at_once_and_again_after_an_interruption_create_each_user_once() {
    let s = Server::start().await;
    let h = &fixtures()[1];
    let n = 40;
    let file: String = (0..n)
        .map(|i| {
            let name = format!("many{i}");
            format!(
                "{}\n",
                json!({"username": name, "email": email(&name), "password_hash": h["hash"]})
            )
        })
        .collect();
    // Interrupted: the run is dropped once 10 lines are done (lines in flight may or may not
    // have been written, each whole or not at all).
    let done = Arc::new(tokio::sync::Notify::new());
    let seen = done.clone();
    let run = import_users(
        &s.state,
        Cursor::new(file.clone().into_bytes()),
        false,
        accounts::import::IN_FLIGHT,
        |_| {},
        move |sum, _| {
            if sum.lines == 10 {
                seen.notify_one();
            }
        },
    );
    tokio::select! {
        _ = run => panic!("not interrupted"),
        _ = done.notified() => {}
    }
    // A write the dropped run had begun settles (SQLite's runs on a thread of its own).
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let after_interruption = all_users(&s).await.len();
    assert!(
        (10..n).contains(&after_interruption),
        "{after_interruption}"
    );
    // Two runs of the whole file at once, then one more.
    let (a, b) = tokio::join!(import(&s, &file, false), import(&s, &file, false));
    let (a, b) = (a.0, b.0);
    assert_eq!((a.refused, b.refused), (0, 0), "{a:?} {b:?}");
    assert_eq!(
        a.imported + b.imported,
        n - after_interruption,
        "{a:?} {b:?}"
    );
    assert_eq!(a.imported + a.skipped, n);
    assert_eq!(b.imported + b.skipped, n);
    let (again, _) = import(&s, &file, false).await;
    assert_eq!((again.imported, again.skipped), (0, n));
    let users = all_users(&s).await;
    assert_eq!(users.len(), n);
    let mut names: Vec<String> = users.iter().map(|u| u.username.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n, "each user once");
    // Each whole: found by its address too, and signs in.
    for i in [0, n / 2, n - 1] {
        let name = format!("many{i}");
        let by_email = s.stored_user_by_email(&email(&name)).await;
        assert_eq!(by_email.map(|u| u.username), Some(name.clone()));
    }
    assert!(
        s.log_in_with_password("many7", h["password"].as_str().unwrap())
            .await
            .is_some()
    );
}
