//! The service's metrics: CloudWatch embedded metric format (EMF) lines on the binary's standard
//! output, from a walk through the local server (on both stores), each held to the format's
//! specification as written here from AWS's page (not from the writer); and template.yaml's
//! alarms and dashboard against the metrics the code writes.

use std::collections::BTreeMap;
use std::process::Stdio;

use serde_json::{Value, json};

use crate::common::{PASSWORD, free_port};
use crate::process::{accounts, serve, table_ready};

/// The units CloudWatch knows (the specification's `Unit`).
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// One EMF document checked against the specification: its (namespace, dimension set with
/// values, metric name, unit, value) as CloudWatch would extract them, or why it is not one.
/// The rules: the root is a JSON object; `_aws` an object with a `Timestamp` (milliseconds
/// since the epoch, at most two weeks old and two hours ahead) and `CloudWatchMetrics`, an
/// array of metric directives; a directive holds exactly `Namespace` (1-255 characters, not
/// `AWS/`), `Dimensions` (arrays of at most 30 names, each a root member whose value is a
/// string of 1-1024 characters) and `Metrics` (at most 100 definitions: `Name`, a root member
/// whose value is a number or an array of at most 100 numbers; `Unit` one of CloudWatch's;
/// `StorageResolution` 1 or 60; nothing else).
type Extracted = (String, Vec<(String, String)>, String, String, f64);

fn emf(line: &str, now_ms: i64) -> Result<Vec<Extracted>, String> {
    let root: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let root = root.as_object().ok_or("the root is not an object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws object")?;
    let at = aws
        .get("Timestamp")
        .and_then(Value::as_i64)
        .ok_or("no integer Timestamp")?;
    if at < now_ms - 14 * 86_400_000 || at > now_ms + 2 * 3_600_000 {
        return Err(format!("Timestamp {at} out of CloudWatch's window"));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("no CloudWatchMetrics array")?;
    let mut out = Vec::new();
    for d in directives {
        let d = d.as_object().ok_or("a directive is not an object")?;
        if let Some(extra) = d
            .keys()
            .find(|k| !["Namespace", "Dimensions", "Metrics"].contains(&k.as_str()))
        {
            return Err(format!("a directive holds {extra}"));
        }
        let ns = d
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or("no Namespace")?;
        if ns.is_empty() || ns.chars().count() > 255 || ns.starts_with("AWS/") {
            return Err(format!("Namespace {ns:?}"));
        }
        let sets = d
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("no Dimensions array")?;
        let metrics = d
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("no Metrics array")?;
        if metrics.len() > 100 {
            return Err("over 100 metrics in a directive".into());
        }
        for set in sets {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err("over 30 dimensions in a set".into());
            }
            let mut dims = Vec::new();
            for name in set {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                let value = root.get(name).and_then(Value::as_str).ok_or(format!(
                    "dimension {name} is not a string member of the root"
                ))?;
                if value.is_empty() || value.chars().count() > 1024 {
                    return Err(format!("dimension {name}'s value {value:?}"));
                }
                dims.push((name.to_string(), value.to_string()));
            }
            for m in metrics {
                let m = m.as_object().ok_or("a metric is not an object")?;
                if let Some(extra) = m
                    .keys()
                    .find(|k| !["Name", "Unit", "StorageResolution"].contains(&k.as_str()))
                {
                    return Err(format!("a metric definition holds {extra}"));
                }
                let name = m.get("Name").and_then(Value::as_str).ok_or("no Name")?;
                if name.is_empty() || name.chars().count() > 255 {
                    return Err(format!("metric name {name:?}"));
                }
                let unit = match m.get("Unit") {
                    None => "None",
                    Some(u) => u
                        .as_str()
                        .filter(|u| UNITS.contains(u))
                        .ok_or(format!("unit {u}"))?,
                };
                if let Some(r) = m.get("StorageResolution")
                    && r != &json!(1)
                    && r != &json!(60)
                {
                    return Err(format!("StorageResolution {r}"));
                }
                let value = match root.get(name) {
                    Some(Value::Number(n)) => n.as_f64().unwrap(),
                    Some(Value::Array(values))
                        if values.len() <= 100 && values.iter().all(Value::is_number) =>
                    {
                        values.iter().filter_map(Value::as_f64).sum()
                    }
                    other => return Err(format!("metric {name}'s value {other:?}")),
                };
                out.push((
                    ns.to_string(),
                    dims.clone(),
                    name.to_string(),
                    unit.to_string(),
                    value,
                ));
            }
        }
    }
    Ok(out)
}

#[test]
fn the_checker_refuses_what_the_specification_refuses() {
    let now = 1_765_000_000_000_i64;
    let good = json!({
        "_aws": {"Timestamp": now, "CloudWatchMetrics": [{
            "Namespace": "Accounts", "Dimensions": [["Service"]],
            "Metrics": [{"Name": "SignUps", "Unit": "Count"}]}]},
        "Service": "s", "SignUps": 1
    });
    assert_eq!(emf(&good.to_string(), now).unwrap().len(), 1);
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        edit(&mut v);
        emf(&v.to_string(), now)
    };
    for (why, edit) in [
        (
            "no _aws",
            &(|v: &mut Value| v["_aws"] = json!(null)) as &dyn Fn(&mut Value),
        ),
        ("old", &|v| {
            v["_aws"]["Timestamp"] = json!(now - 15 * 86_400_000)
        }),
        ("ahead", &|v| {
            v["_aws"]["Timestamp"] = json!(now + 3 * 3_600_000)
        }),
        ("AWS/", &|v| {
            v["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!("AWS/X")
        }),
        ("extra", &|v| {
            v["_aws"]["CloudWatchMetrics"][0]["X"] = json!(1)
        }),
        ("dimension missing", &|v| v["Service"] = json!(null)),
        ("dimension a number", &|v| v["Service"] = json!(3)),
        ("value missing", &|v| v["SignUps"] = json!(null)),
        ("value a string", &|v| v["SignUps"] = json!("1")),
        ("unit", &|v| {
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Counts")
        }),
        ("resolution", &|v| {
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["StorageResolution"] = json!(5)
        }),
    ] {
        assert!(broken(edit).is_err(), "{why}");
    }
    assert!(emf("{\"_aws\": 1", now).is_err());
}

/// The walk: every metric the functions write, through the binary on loopback (its stdout
/// kept), with the widgets upstream and the migration hook pointing at closed ports and the
/// mail log made unwritable at the end. The counts each step must make.
#[tokio::test]
async fn a_walk_through_the_local_server_writes_each_metric_as_emf_lines() {
    let dir = tempfile::tempdir().unwrap();
    let table = table_ready(dir.path());
    let port = free_port();
    let closed = free_port();
    let out_path = dir.path().join("stdout.log");
    // An account imported without a password (so that its first mail is the reset link: the
    // mail throttle allows one a minute to an address).
    let users = dir.path().join("users.jsonl");
    std::fs::write(
        &users,
        "{\"username\": \"rhea\", \"email\": \"rhea@example.com\"}\n",
    )
    .unwrap();
    let imported = accounts(dir.path(), &table)
        .arg("import-users")
        .arg(&users)
        .output()
        .unwrap();
    assert!(imported.status.success(), "{imported:?}");
    let mut cmd = accounts(dir.path(), &table);
    cmd.env("RUST_LOG", "warn")
        .env("METRICS_SERVICE", "walk-test")
        .env("WIDGETS_API_URL", format!("http://127.0.0.1:{closed}"))
        .env("WIDGETS_API_KEY", "k")
        .env(
            "MIGRATION_HOOK_URL",
            format!("http://127.0.0.1:{closed}/migrate"),
        )
        .env("HOOK_SECRET", "a-hook-secret-long-enough-for-the-service")
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::null());
    let running = serve(cmd, port).await;
    let base = running.base.clone();
    let c = reqwest::Client::new();
    let post = |path: &str, token: Option<&str>, body: Value| {
        crate::process::post(&c, format!("{base}{path}"), token, body)
    };
    let refresh = |token: String| {
        let req = c
            .post(format!("{base}/auth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", "refresh_token")
                    .append_pair("refresh_token", &token)
                    .finish(),
            );
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let mail_log = dir.path().join("mail.log");
    let link = |path: &str| {
        let text = std::fs::read_to_string(&mail_log).unwrap();
        let start = format!("{base}{path}?token=");
        text.lines()
            .rev()
            .flat_map(|l| l.split("\\n").map(str::to_string).collect::<Vec<_>>())
            .find(|l| l.starts_with(&start))
            .map(|l| l[start.len()..].to_string())
            .unwrap()
    };
    let login = json!({"username": "mira", "password": PASSWORD});

    // A sign-up (SignUps, MailSent), its activation (Activations).
    let (status, _) = post(
        "/user",
        None,
        json!({"username": "mira", "email": "mira@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 201);
    let token = link("/activate");
    let r = c
        .get(format!("{base}/activate?token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A wrong password (LoginFailed), a right one (LoginSucceeded).
    let wrong = json!({"username": "mira", "password": "not-the-password-1"});
    assert_eq!(post("/auth", None, wrong.clone()).await.0, 401);
    let (status, pair) = post("/auth", None, login.clone()).await;
    assert_eq!(status, 200, "{pair}");
    let first = pair["refresh_token"].as_str().unwrap().to_string();
    let access = pair["token"].as_str().unwrap().to_string();
    // The widgets upstream is down (WidgetsUpstreamErrors).
    let r = c
        .get(format!("{base}/widgets"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    // Two refreshes (Refreshes x 2), then the first token again (RefreshReuseDetected).
    let (status, second) = refresh(first.clone()).await;
    assert_eq!(status, 200);
    let (status, _) = refresh(second["refresh_token"].as_str().unwrap().into()).await;
    assert_eq!(status, 200);
    assert_eq!(refresh(first).await.0, 400);
    // A name of no account asks the migration hook, which is down (HookFailures).
    let nobody = json!({"username": "nobody", "password": PASSWORD});
    assert_eq!(post("/auth", None, nobody).await.0, 503);
    // A reset link (PasswordResetRequested, MailSent), a second at once (MailThrottled), the
    // link used (PasswordResets, and the notice: MailSent).
    let forgot = json!({"email": "rhea@example.com"});
    assert_eq!(post("/password/forgot", None, forgot.clone()).await.0, 202);
    assert_eq!(post("/password/forgot", None, forgot).await.0, 202);
    let token = link("/password/reset");
    let (status, body) = post(
        "/password/reset",
        None,
        json!({"token": token, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // A new sign-in (the last ended with the reuse: LoginSucceeded), a second factor (its
    // notice: MailSent), then a login with it
    // (SecondStepRequired), finished with a recovery code (SecondStepPassed, LoginSucceeded).
    let (status, pair) = post("/auth", None, login.clone()).await;
    assert_eq!(status, 200);
    let access = pair["token"].as_str().unwrap().to_string();
    let (status, enrolment) = post(
        "/user/mira/mfa/totp",
        Some(&access),
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{enrolment}");
    let secret = crate::common::base32(enrolment["secret"].as_str().unwrap());
    let code = crate::mfa::code_at(&secret, now_secs());
    let (status, on) = post(
        "/user/mira/mfa/totp/verify",
        Some(&access),
        json!({ "code": code }),
    )
    .await;
    assert_eq!(status, 200, "{on}");
    let recovery = on["recovery_codes"][0].as_str().unwrap().to_string();
    let (status, step) = post("/auth", None, login.clone()).await;
    assert_eq!(status, 200);
    let (status, body) = post(
        "/auth/mfa",
        None,
        json!({"mfa_token": step["mfa_token"], "recovery_code": recovery}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Five wrong passwords (LoginFailed x 5), then the throttle (LoginThrottled).
    for _ in 0..5 {
        assert_eq!(post("/auth", None, wrong.clone()).await.0, 401);
    }
    assert_eq!(post("/auth", None, login).await.0, 429);
    // The mail log cannot be written: a sign-up's mail fails (MailFailed).
    std::fs::remove_file(&mail_log).unwrap();
    std::fs::create_dir(&mail_log).unwrap();
    let (status, body) = post(
        "/user",
        None,
        json!({"username": "omar", "email": "omar@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    drop(running);

    let now = now_secs() * 1000;
    let text = std::fs::read_to_string(&out_path).unwrap();
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    let mut lines = 0;
    for line in text.lines().filter(|l| l.contains("\"_aws\"")) {
        let extracted = emf(line, now).unwrap_or_else(|why| panic!("{why}: {line}"));
        assert!(
            extracted.len() <= shared::metrics::METRICS_PER_LINE,
            "{line}"
        );
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["function"], "local", "{line}");
        for (ns, dims, name, unit, value) in extracted {
            assert_eq!(ns, shared::metrics::NAMESPACE);
            assert_eq!(dims, [("Service".to_string(), "walk-test".to_string())]);
            assert_eq!(unit, "Count");
            *counts.entry(name).or_default() += value;
        }
        lines += 1;
    }
    let expected: BTreeMap<String, f64> = [
        ("SignUps", 1.0),
        ("Activations", 1.0),
        ("LoginSucceeded", 3.0),
        ("LoginFailed", 6.0),
        ("LoginThrottled", 1.0),
        ("SecondStepRequired", 1.0),
        ("SecondStepPassed", 1.0),
        ("Refreshes", 2.0),
        ("RefreshReuseDetected", 1.0),
        ("PasswordResetRequested", 1.0),
        ("PasswordResets", 1.0),
        ("HookFailures", 1.0),
        // The activation, the reset link, the password-changed notice, the second factor's
        // notice and the recovery code's.
        ("MailSent", 5.0),
        ("MailFailed", 1.0),
        ("MailThrottled", 1.0),
        ("WidgetsUpstreamErrors", 1.0),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_string(), v))
    .collect();
    assert_eq!(counts, expected, "{lines} lines:\n{text}");
    // Every metric the code knows was written.
    let known: Vec<&str> = shared::metrics::Metric::ALL
        .iter()
        .map(|m| m.name())
        .collect();
    assert_eq!(
        counts.keys().map(String::as_str).collect::<Vec<_>>().len(),
        known.len()
    );
    for name in known {
        assert!(counts.contains_key(name), "{name} never written");
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn template() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"),
    )
    .unwrap()
}

/// The service's metrics template.yaml names: an alarm's `MetricName` under `Namespace:
/// Accounts`, and the dashboard's `["Accounts", "<name>", ...]` rows.
fn template_metrics(text: &str) -> (Vec<String>, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut alarms = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == "Namespace: Accounts" {
            let name = lines[i + 1].trim().strip_prefix("MetricName: ").unwrap();
            alarms.push(name.to_string());
            // The dimension is the one the functions write, valued as METRICS_SERVICE is.
            assert_eq!(lines[i + 2].trim(), "Dimensions:");
            assert_eq!(lines[i + 3].trim(), "- Name: Service");
            assert_eq!(lines[i + 4].trim(), "Value: !Ref AWS::StackName");
        }
    }
    let dashboard = text
        .split("[\"Accounts\", \"")
        .skip(1)
        .map(|rest| {
            let (name, after) = rest.split_once('"').unwrap();
            assert!(
                after.starts_with(", \"Service\", \"${AWS::StackName}\"]"),
                "{name}: {after}"
            );
            name.to_string()
        })
        .collect();
    (alarms, dashboard)
}

#[test]
fn every_metric_the_template_watches_is_one_the_functions_write() {
    let text = template();
    let known: Vec<&str> = shared::metrics::Metric::ALL
        .iter()
        .map(|m| m.name())
        .collect();
    let (alarms, dashboard) = template_metrics(&text);
    for name in alarms.iter().chain(&dashboard) {
        assert!(
            known.contains(&name.as_str()),
            "{name} is written by no function"
        );
    }
    for name in [
        "LoginFailed",
        "RefreshReuseDetected",
        "HookFailures",
        "MailFailed",
    ] {
        assert!(alarms.iter().any(|a| a == name), "no alarm on {name}");
    }
    // The dashboard shows each, once.
    let mut shown = dashboard.clone();
    shown.sort();
    let mut all: Vec<String> = known.iter().map(|s| s.to_string()).collect();
    all.sort();
    assert_eq!(shown, all);
    // The value of the Service dimension the alarms use is what the functions are told.
    assert!(text.contains("        METRICS_SERVICE: !Ref AWS::StackName\n"));
    // The namespace the code writes.
    assert_eq!(shared::metrics::NAMESPACE, "Accounts");
    // Every alarm on the dashboard's alarm widget exists, and every alarm outside the route
    // table's is on it.
    let alarm_ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.strip_suffix("Alarm:"))
        .filter(|id| !id.starts_with(' '))
        .collect();
    for id in &alarm_ids {
        let per_function = text.contains(&format!("  {id}Function:\n"));
        let shown = text.contains(&format!("\"${{{id}Alarm.Arn}}\""));
        assert!(
            per_function || id == &"PublisherErrors" || shown,
            "{id}Alarm not on the dashboard"
        );
    }
    assert!(alarm_ids.len() > 10, "{alarm_ids:?}");
}

#[test]
fn every_scanner_skip_says_why_and_the_security_page_lists_each() {
    let text = template();
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/security.md"),
    )
    .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut ids = std::collections::BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(id) = line.trim().strip_prefix("- id: CKV_") {
            let comment = lines[i + 1].trim().strip_prefix("comment: ").unwrap();
            assert!(comment.len() > 20, "CKV_{id}: {comment}");
            ids.insert(format!("CKV_{id}"));
        }
    }
    assert!(ids.len() >= 8, "{ids:?}");
    for id in ids {
        assert!(
            page.contains(&format!("`{id}`")),
            "docs/security.md does not list {id}"
        );
    }
}

/// The dashboard's body is JSON once CloudFormation has put its values in (each `${...}`), its
/// widgets on the 24-column grid, and every metric row of it a namespace and a name.
#[test]
fn the_dashboard_body_is_json_cloudwatch_reads() {
    let text = template();
    let start = text.find("DashboardBody: !Sub |\n").unwrap() + "DashboardBody: !Sub |\n".len();
    let body: String = text[start..]
        .lines()
        .take_while(|l| l.starts_with("        "))
        .map(|l| format!("{}\n", &l[8..]))
        .collect();
    let mut substituted = String::new();
    let mut rest = body.as_str();
    while let Some(at) = rest.find("${") {
        substituted.push_str(&rest[..at]);
        substituted.push_str("value");
        rest = &rest[at + rest[at..].find('}').unwrap() + 1..];
    }
    substituted.push_str(rest);
    let dashboard: Value = serde_json::from_str(&substituted)
        .unwrap_or_else(|e| panic!("the dashboard is not JSON: {e}\n{substituted}"));
    let widgets = dashboard["widgets"].as_array().unwrap();
    assert!(widgets.len() >= 10);
    for w in widgets {
        let (x, width) = (w["x"].as_u64().unwrap(), w["width"].as_u64().unwrap());
        assert!(x + width <= 24, "{w}");
        for row in w["properties"]["metrics"].as_array().into_iter().flatten() {
            let row = row.as_array().unwrap();
            let first = &row[0];
            assert!(
                first.is_string() && row[1].is_string() || first["expression"].is_string(),
                "{w}"
            );
        }
    }
}
