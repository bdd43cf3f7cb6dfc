//! Metrics as CloudWatch embedded metric format (EMF) lines: one JSON object a line on standard
//! output, which Lambda hands to CloudWatch Logs, which makes the metrics of it. No call to
//! CloudWatch on the request path, and no permission beyond writing logs. The local server
//! writes the same lines to its log.
//!
//! Every metric is a count (unit `Count`), in namespace [`NAMESPACE`], with one dimension,
//! [`DIMENSION`] (`Service`): the stack's name on AWS (`METRICS_SERVICE`; `accounts` by
//! default), so that two stacks in one account keep their figures apart and an alarm names
//! exactly one series. One line counts one thing: its one metric, with the value 1 (CloudWatch
//! sums them). The line also says which function wrote it (`function`, not a dimension: no
//! metric per function is made of it, but Logs Insights can group by it).

use std::io::Write as _;
use std::sync::Arc;

use serde_json::json;

/// The CloudWatch namespace of every metric here.
pub const NAMESPACE: &str = "Accounts";
/// The one dimension of every metric: the service (the stack on AWS).
pub const DIMENSION: &str = "Service";
/// How many metrics one line holds (the format allows 100 a directive).
pub const METRICS_PER_LINE: usize = 1;

/// What is counted. The names are the CloudWatch metric names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// An account was created by a sign-up.
    SignUps,
    /// An account was activated (by its link, or by a mailed code).
    Activations,
    /// A sign-in ended with tokens or a browser session (any first factor; after the second
    /// step when there is one).
    LoginSucceeded,
    /// A sign-in was refused: a wrong password, an unknown name, an account not yet activated,
    /// a wrong second-step code or mailed code, a passkey that did not verify.
    LoginFailed,
    /// A sign-in was refused unchecked: the account's or the name's failures were too many.
    LoginThrottled,
    /// A first factor was right and the second step was asked for.
    SecondStepRequired,
    /// A second step was proven (a TOTP code, a recovery code or a passkey).
    SecondStepPassed,
    /// A refresh token was exchanged for a new pair (rotated, or within the reuse grace).
    Refreshes,
    /// A spent refresh token came back: the sign-in was ended (a possible theft).
    RefreshReuseDetected,
    /// A reset link was mailed.
    PasswordResetRequested,
    /// A password was set by a reset link.
    PasswordResets,
    /// A hook (sign-up, token, migration) failed or answered nonsense: the request was refused.
    HookFailures,
    /// A mail was handed to SES (or, locally, to the mail log).
    MailSent,
    /// A mail could not be sent (SES refused it or did not answer).
    MailFailed,
    /// A mail was not sent: the address's mail throttle.
    MailThrottled,
    /// The widgets upstream failed (an error status, a bad body, no answer in time).
    WidgetsUpstreamErrors,
}

impl Metric {
    /// Every metric, in docs/deploying.md's order.
    pub const ALL: [Metric; 16] = [
        Metric::SignUps,
        Metric::Activations,
        Metric::LoginSucceeded,
        Metric::LoginFailed,
        Metric::LoginThrottled,
        Metric::SecondStepRequired,
        Metric::SecondStepPassed,
        Metric::Refreshes,
        Metric::RefreshReuseDetected,
        Metric::PasswordResetRequested,
        Metric::PasswordResets,
        Metric::HookFailures,
        Metric::MailSent,
        Metric::MailFailed,
        Metric::MailThrottled,
        Metric::WidgetsUpstreamErrors,
    ];

    /// The CloudWatch metric name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::SignUps => "SignUps",
            Metric::Activations => "Activations",
            Metric::LoginSucceeded => "LoginSucceeded",
            Metric::LoginFailed => "LoginFailed",
            Metric::LoginThrottled => "LoginThrottled",
            Metric::SecondStepRequired => "SecondStepRequired",
            Metric::SecondStepPassed => "SecondStepPassed",
            Metric::Refreshes => "Refreshes",
            Metric::RefreshReuseDetected => "RefreshReuseDetected",
            Metric::PasswordResetRequested => "PasswordResetRequested",
            Metric::PasswordResets => "PasswordResets",
            Metric::HookFailures => "HookFailures",
            Metric::MailSent => "MailSent",
            Metric::MailFailed => "MailFailed",
            Metric::MailThrottled => "MailThrottled",
            Metric::WidgetsUpstreamErrors => "WidgetsUpstreamErrors",
        }
    }

    /// The metric an account event counts as, if any (`failed`: the event records a failure).
    /// The rest are counted where they happen (a refused mailed code among them: its event
    /// is recorded only when the address is an account's).
    pub fn of_event(kind: crate::account_event::EventType, failed: bool) -> Option<Metric> {
        use crate::account_event::EventType as E;
        match (kind, failed) {
            (E::SignedUp, false) => Some(Metric::SignUps),
            (E::Activated, false) => Some(Metric::Activations),
            (E::LoggedIn, false) => Some(Metric::LoginSucceeded),
            (E::LoginFailed, _) => Some(Metric::LoginFailed),
            (E::LoginThrottled, _) => Some(Metric::LoginThrottled),
            (E::RefreshReuseDetected, _) => Some(Metric::RefreshReuseDetected),
            (E::PasswordResetRequested, false) => Some(Metric::PasswordResetRequested),
            (E::PasswordReset, false) => Some(Metric::PasswordResets),
            _ => None,
        }
    }
}

/// The longest `METRICS_SERVICE` (a dimension's value may be 1,024 characters; a stack's name
/// is at most 128).
pub const MAX_SERVICE_CHARS: usize = 255;

/// Where the lines go.
#[derive(Clone)]
enum Out {
    Stdout,
    /// Kept in memory (the crate's own tests).
    #[cfg(test)]
    Memory(Arc<std::sync::Mutex<Vec<String>>>),
}

/// The metrics writer: cheap to clone, one per process.
#[derive(Clone)]
pub struct Metrics {
    service: Arc<str>,
    /// The function writing (`AWS_LAMBDA_FUNCTION_NAME`), or `local`.
    function: Arc<str>,
    out: Out,
}

impl Metrics {
    /// Lines to standard output, with `service` as the dimension's value.
    pub fn stdout(service: &str) -> Metrics {
        let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
        Metrics {
            service: service.into(),
            function: function.into(),
            out: Out::Stdout,
        }
    }

    /// Counts one `metric`: one line, written at once.
    pub fn count(&self, metric: Metric) {
        let at_ms = chrono::Utc::now().timestamp_millis();
        let mut line = self.line(metric, at_ms);
        match &self.out {
            Out::Stdout => {
                line.push('\n');
                // One write of the whole line, under the lock the log's lines take too: lines
                // of two requests never interleave. A closed standard output loses the count.
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
            #[cfg(test)]
            Out::Memory(lines) => lines.lock().unwrap().push(line),
        }
    }

    /// The line counting `metric` at `at_ms` (milliseconds since the epoch).
    pub fn line(&self, metric: Metric, at_ms: i64) -> String {
        let name = metric.name();
        let mut root = json!({
            "_aws": {
                "Timestamp": at_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": "Count"}],
                }],
            },
            "function": &*self.function,
        });
        root[DIMENSION] = json!(&*self.service);
        root[name] = json!(1);
        root.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_its_one_metric_its_dimension_and_holds_both_at_the_root() {
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let metrics = Metrics {
            service: "prod-accounts".into(),
            function: "login".into(),
            out: Out::Memory(lines.clone()),
        };
        metrics.count(Metric::LoginFailed);
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Accounts");
        assert_eq!(directive["Dimensions"], json!([["Service"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "LoginFailed", "Unit": "Count"}])
        );
        assert_eq!(v["Service"], "prod-accounts");
        assert_eq!(v["LoginFailed"], 1);
        assert_eq!(v["function"], "login");
        let now = chrono::Utc::now().timestamp_millis();
        let at = v["_aws"]["Timestamp"].as_i64().unwrap();
        assert!(now - at < 60_000 && at <= now, "{at} against {now}");
        assert!(!lines[0].contains('\n'));
    }

    #[test]
    fn names_are_unique_and_none_is_a_member_the_line_holds_besides() {
        let names: std::collections::BTreeSet<_> = Metric::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Metric::ALL.len());
        for reserved in ["_aws", DIMENSION, "function"] {
            assert!(!names.contains(reserved), "{reserved}");
        }
    }
}
