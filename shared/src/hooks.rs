//! Hooks: the operator's own service, asked before a sign-up, before a token is issued, and
//! (migration) when a login or a reset names no account here.
//!
//! Each hook is off unless set, and is either an HTTP(S) endpoint (`SIGNUP_HOOK_URL`,
//! `TOKEN_HOOK_URL`) that receives one JSON `POST`, signed with `HOOK_SECRET` so the endpoint
//! knows the request is this service's (`X-Accounts-Signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256 of "<t>.<body>">`; the endpoint recomputes it and refuses a stale `t`), or a
//! Lambda function (`SIGNUP_HOOK_ARN`, `TOKEN_HOOK_ARN`) invoked synchronously with the same
//! JSON as its event, under the calling function's IAM role (which only it holds), its result
//! the answer. Each request carries an `id` of its own. None holds a token or a hash, and only
//! the migration hook's login question holds a password (the one typed, for the old system to
//! check).
//!
//! - **Before a sign-up**: `{"type": "before_signup", "id", "at", "user": {"username", "email",
//!   "data"}, "source_ip", "user_agent"}`. It answers `{"allow": true}`, or `{"allow": false,
//!   "reason": "..."}` and the sign-up is refused (`403 signup_refused`, the reason shown).
//! - **Before a token**: `{"type": "before_token", "id", "at", "user": {"id", "username",
//!   "email", "role", "data"}, "scope", "amr"}`. It answers `{"claims": {...}}` (or `{}`), a
//!   JSON object of at most [`MAX_CLAIMS_BYTES`] that goes into the access token under the one
//!   claim [`CLAIMS_CLAIM`], never beside the token's own claims.
//!
//! - **Migration** (`MIGRATION_HOOK_URL`, `MIGRATION_HOOK_ARN`): asked when a login or a
//!   password reset names no account here, so people of an old system that is still running
//!   move at their next sign-in: `{"type": "migrate_user", "id", "at", "trigger": "login" |
//!   "forgot_password", "username" | "email" (the name as typed; one of them), "password"
//!   (login only), "source_ip", "user_agent"}`. It answers `{"migrate": false}` (not known
//!   there, or, with a password, a wrong one) or `{"migrate": true, "user": {"username",
//!   "email", "data"}}`. This is the one hook that is sent a password: the old system must
//!   check it. It is never logged.
//!
//! A hook that fails, answers anything else, or takes longer than [`HOOK_TIMEOUT`] refuses
//! (fail closed): `503 hook_unavailable`, and the cause in the log.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::caller::Caller;
use crate::config::HookTarget;
use crate::error::{ApiError, ApiResult};
use crate::metrics::{Metric, Metrics};
use crate::user::UserRecord;

/// The longest a hook may take, connection included.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(2);
/// The header of the signature.
pub const SIGNATURE_HEADER: &str = "x-accounts-signature";
/// The access token's claim that holds what the token hook adds.
pub const CLAIMS_CLAIM: &str = "ext";
/// The most the token hook may add, as compact JSON.
pub const MAX_CLAIMS_BYTES: usize = 4096;
/// The longest reason a sign-up hook's refusal may show, in characters.
pub const MAX_REASON_CHARS: usize = 200;
/// The most of a hook's answer that is read.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// The hooks configured (`None` where a hook is off), and their signing secret.
pub struct Hooks {
    /// For hook URLs; `None` when both hooks are Lambda functions.
    client: Option<reqwest::Client>,
    signup: Option<HookTarget>,
    token: Option<HookTarget>,
    migration: Option<HookTarget>,
    secret: Vec<u8>,
    /// The Lambda client, made on the first call of a Lambda hook.
    lambda: tokio::sync::OnceCell<aws_sdk_lambda::Client>,
    lambda_endpoint_url: Option<String>,
    aws_region: Option<String>,
    /// Each failure is counted ([`Metric::HookFailures`]).
    metrics: Metrics,
}

/// `X-Accounts-Signature` for `body` sent at `t`: `t=<t>,v1=<hex HMAC-SHA256("<t>.<body>")>`.
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

impl Hooks {
    /// The hooks `config` names; `None` when it names none.
    pub fn new(
        config: &crate::config::HooksConfig,
        metrics: Metrics,
    ) -> Result<Option<Hooks>, reqwest::Error> {
        if config.signup.is_none() && config.token.is_none() && config.migration.is_none() {
            return Ok(None);
        }
        let has_url = [&config.signup, &config.token, &config.migration]
            .iter()
            .any(|h| matches!(h, Some(HookTarget::Url(_))));
        let client = has_url
            .then(|| {
                reqwest::Client::builder()
                    // A signed request goes where it was configured to, and nowhere else.
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
            })
            .transpose()?;
        Ok(Some(Hooks {
            client,
            signup: config.signup.clone(),
            token: config.token.clone(),
            migration: config.migration.clone(),
            secret: config.secret.clone().into_bytes(),
            lambda: tokio::sync::OnceCell::new(),
            lambda_endpoint_url: config.lambda_endpoint_url.clone(),
            aws_region: config.aws_region.clone(),
            metrics,
        }))
    }

    /// Asks `target` with `body`, within [`HOOK_TIMEOUT`]; the JSON object it answers with.
    async fn call(
        &self,
        hook: &'static str,
        target: &HookTarget,
        body: Value,
        now: i64,
    ) -> ApiResult<Map<String, Value>> {
        let fail = |why: String| {
            tracing::error!(hook, cause = %why, "a hook failed: refused (fail closed)");
            self.metrics.count(Metric::HookFailures);
            ApiError::HookUnavailable(format!("{hook}: {why}"))
        };
        let asked = async {
            match target {
                HookTarget::Url(url) => self.post(url, body, now).await,
                HookTarget::Lambda(arn) => self.invoke(arn, body).await,
            }
        };
        let bytes = match tokio::time::timeout(HOOK_TIMEOUT, asked).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(why)) => return Err(fail(why)),
            Err(_) => {
                return Err(fail(format!(
                    "no answer within {} ms",
                    HOOK_TIMEOUT.as_millis()
                )));
            }
        };
        if bytes.len() > MAX_ANSWER_BYTES {
            return Err(fail("answered too much".into()));
        }
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(fail("did not answer a JSON object".into())),
        }
    }

    /// `POST`s `body` to `url`, signed: the answer's body, if it was a success.
    async fn post(&self, url: &str, body: Value, now: i64) -> Result<Vec<u8>, String> {
        let body = body.to_string().into_bytes();
        let signed = signature(&self.secret, now, &body);
        let client = self.client.as_ref().ok_or("no client for hook URLs")?;
        let answer = client
            .post(url)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signed)
            .body(body)
            .send()
            .await
            .map_err(|_| "could not be reached".to_string())?;
        let status = answer.status();
        if !status.is_success() {
            return Err(format!("answered {status}"));
        }
        if answer
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err("answered too much".into());
        }
        let bytes = answer
            .bytes()
            .await
            .map_err(|_| "its answer broke off".to_string())?;
        Ok(bytes.to_vec())
    }

    /// Invokes the Lambda function `arn` with `body` as its event: its result, if it ran well.
    async fn invoke(&self, arn: &str, body: Value) -> Result<Vec<u8>, String> {
        let client = self
            .lambda
            .get_or_init(|| async {
                // One try: a retry could not finish within the hook's time anyway (which
                // [`Hooks::call`] bounds, this client's making included).
                let sdk = crate::aws::load(
                    self.lambda_endpoint_url.as_deref(),
                    self.aws_region.as_deref(),
                    aws_config::timeout::TimeoutConfig::disabled(),
                    1,
                )
                .await;
                aws_sdk_lambda::Client::new(&sdk)
            })
            .await;
        let out = client
            .invoke()
            .function_name(arn)
            .invocation_type(aws_sdk_lambda::types::InvocationType::RequestResponse)
            .payload(aws_sdk_lambda::primitives::Blob::new(body.to_string()))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "could not be invoked: {}",
                    aws_sdk_lambda::error::DisplayErrorContext(&e)
                )
            })?;
        if let Some(error) = out.function_error() {
            return Err(format!("the function failed ({error})"));
        }
        Ok(out
            .payload()
            .map(|p| p.as_ref().to_vec())
            .unwrap_or_default())
    }

    /// Asks the sign-up hook, if there is one, whether this sign-up may go on.
    pub async fn before_signup(
        &self,
        username: &str,
        email: &str,
        data: &Map<String, Value>,
        now: i64,
    ) -> ApiResult<()> {
        let Some(target) = &self.signup else {
            return Ok(());
        };
        let caller = Caller::current();
        let body = json!({
            "type": "before_signup",
            "id": uuid::Uuid::new_v4().to_string(),
            "at": now,
            "user": {"username": username, "email": email, "data": data},
            "source_ip": caller.ip,
            "user_agent": caller.user_agent,
        });
        let answer = self.call("signup", target, body, now).await?;
        match answer.get("allow") {
            Some(Value::Bool(true)) => Ok(()),
            Some(Value::Bool(false)) => {
                let reason = answer
                    .get("reason")
                    .and_then(Value::as_str)
                    .map(clean_reason)
                    .filter(|r| !r.is_empty());
                tracing::info!("a sign-up was refused by the sign-up hook");
                Err(ApiError::SignUpRefused(reason))
            }
            _ => {
                tracing::error!(hook = "signup", "a hook answered without allow: refused");
                self.metrics.count(Metric::HookFailures);
                Err(ApiError::HookUnavailable("signup: no allow".into()))
            }
        }
    }

    /// Asks the token hook, if there is one, for the claims to add to `user`'s access token.
    pub async fn before_token(
        &self,
        user: &UserRecord,
        scope: &[String],
        amr: &[impl AsRef<str>],
        now: i64,
    ) -> ApiResult<Option<Map<String, Value>>> {
        let amr: Vec<&str> = amr.iter().map(AsRef::as_ref).collect();
        let Some(target) = &self.token else {
            return Ok(None);
        };
        let body = json!({
            "type": "before_token",
            "id": uuid::Uuid::new_v4().to_string(),
            "at": now,
            "user": {
                "id": user.user_id, "username": user.username, "email": user.email,
                "role": user.role.as_str(), "data": user.data,
            },
            "scope": scope,
            "amr": amr,
        });
        let answer = self.call("token", target, body, now).await?;
        let claims = match answer.get("claims") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(claims)) => claims,
            Some(_) => {
                tracing::error!(hook = "token", "claims that are not an object: refused");
                self.metrics.count(Metric::HookFailures);
                return Err(ApiError::HookUnavailable(
                    "token: claims not an object".into(),
                ));
            }
        };
        let size = serde_json::to_vec(claims).map_or(usize::MAX, |v| v.len());
        if size > MAX_CLAIMS_BYTES {
            tracing::error!(hook = "token", size, "claims over the limit: refused");
            self.metrics.count(Metric::HookFailures);
            return Err(ApiError::HookUnavailable("token: claims too large".into()));
        }
        Ok((!claims.is_empty()).then(|| claims.clone()))
    }
}

/// What asked the migration hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationTrigger {
    /// A login (a password to check), by username or by address.
    Login { by_email: bool },
    /// A request for a password reset link, by address.
    ForgotPassword,
}

impl MigrationTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationTrigger::Login { .. } => "login",
            MigrationTrigger::ForgotPassword => "forgot_password",
        }
    }
}

impl Hooks {
    /// Whether the migration hook is set.
    pub fn migrates(&self) -> bool {
        self.migration.is_some()
    }

    /// Asks the migration hook whether the old system knows the person named `name` (and,
    /// at a login, that `password` is theirs): the `user` object it answered, or `None`.
    pub async fn migrate_user(
        &self,
        trigger: MigrationTrigger,
        name: &str,
        password: Option<&str>,
        now: i64,
    ) -> ApiResult<Option<Map<String, Value>>> {
        let Some(target) = &self.migration else {
            return Ok(None);
        };
        let caller = Caller::current();
        let mut body = json!({
            "type": "migrate_user",
            "id": uuid::Uuid::new_v4().to_string(),
            "at": now,
            "trigger": trigger.as_str(),
            "source_ip": caller.ip,
            "user_agent": caller.user_agent,
        });
        let by_email = match trigger {
            MigrationTrigger::Login { by_email } => by_email,
            MigrationTrigger::ForgotPassword => true,
        };
        body[if by_email { "email" } else { "username" }] = json!(name);
        if let Some(p) = password {
            body["password"] = json!(p);
        }
        let answer = self.call("migration", target, body, now).await?;
        match (answer.get("migrate"), answer.get("user")) {
            (Some(Value::Bool(false)), _) => Ok(None),
            (Some(Value::Bool(true)), Some(Value::Object(user))) => Ok(Some(user.clone())),
            _ => {
                tracing::error!(
                    hook = "migration",
                    "an answer without migrate and its user: refused"
                );
                self.metrics.count(Metric::HookFailures);
                Err(ApiError::HookUnavailable("migration: no migrate".into()))
            }
        }
    }
}

/// A refusal's reason as people may be shown it: one line of printable text, bounded (the line
/// and paragraph separators U+2028 and U+2029, which are not control characters, break lines
/// too).
fn clean_reason(reason: &str) -> String {
    reason
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .take(MAX_REASON_CHARS)
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // Computed apart from this code, by Python's hmac module:
        // hmac.new(b"secret", b"1700000000.{}", "sha256").hexdigest()
        assert_eq!(
            signature(b"secret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn reasons_are_one_bounded_line() {
        assert_eq!(
            clean_reason(" no\nsign-ups\tfrom here "),
            "no sign-ups from here"
        );
        assert_eq!(
            clean_reason("no\u{2028}sign-ups\u{2029}here\u{85}now"),
            "no sign-ups here now"
        );
        assert_eq!(clean_reason(&"x".repeat(500)).len(), MAX_REASON_CHARS);
    }
}
