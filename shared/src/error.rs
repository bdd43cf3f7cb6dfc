//! The one error type. Every failure a handler can meet is a variant; `IntoResponse` maps each
//! to the status and `error` code of API.md. A 5xx logs its cause and tells the client only a
//! generic sentence.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Per-field validation messages, in a stable order.
pub type FieldErrors = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// A body whose `Content-Type` is not one the route reads: what it reads.
    #[error("a body of another media type than {0}")]
    UnsupportedMediaType(&'static str),
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("weak password")]
    WeakPassword(String),
    #[error("unknown scope")]
    InvalidScope(String),
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("unknown activation token")]
    InvalidActivationToken,
    #[error("expired activation token")]
    ActivationTokenExpired,
    #[error("unknown reset token")]
    InvalidResetToken,
    #[error("expired reset token")]
    ResetTokenExpired,
    #[error("unknown confirmation token")]
    InvalidConfirmationToken,
    #[error("expired confirmation token")]
    ConfirmationTokenExpired,
    /// A token request (`POST /auth/token`) whose members are missing or mistyped: OAuth's
    /// `invalid_request`, with the fields as `validation_failed` gives them.
    #[error("invalid token request")]
    InvalidRequest(FieldErrors),
    /// A refresh token that is unknown, spent, revoked or expired: one answer for all.
    #[error("invalid grant")]
    InvalidGrant,
    #[error("unsupported grant type")]
    UnsupportedGrantType,
    /// An authorization code that is unknown, spent or expired, or not issued to the client,
    /// the redirect URI or the PKCE verifier presented: one answer for all (`invalid_grant`).
    #[error("invalid authorization code")]
    InvalidAuthorizationCode,
    /// A client that is unknown or whose authentication failed (`invalid_client`, RFC 6749
    /// section 5.2).
    #[error("invalid client")]
    InvalidClient,
    /// No consent of the user for that client.
    #[error("consent not found")]
    ConsentNotFound,
    /// A passkey the browser made that cannot be added: no ceremony of the account waits for
    /// it (none, spent, expired), or it fails the relying party's checks (origin, RP ID, user
    /// verification, signature), or its credential is registered already.
    #[error("invalid passkey")]
    InvalidPasskey,
    /// No passkey of that id on the account.
    #[error("passkey not found")]
    PasskeyNotFound,
    /// The account holds as many passkeys as it may.
    #[error("too many passkeys")]
    TooManyPasskeys(usize),
    /// No relying party is configured here (passkeys are off).
    #[error("passkeys are off")]
    PasskeysUnavailable,
    /// A mailed sign-in code that is wrong, used, replaced, expired or out of tries, or of an
    /// address with no account that may sign in: one answer for all.
    #[error("invalid email code")]
    InvalidEmailCode,
    /// Sign-in by mailed code is turned off here (`EMAIL_CODE_LOGIN=off`).
    #[error("email code sign-in is off")]
    EmailCodeUnavailable,
    /// A code of the second factor (or a recovery code) that is wrong, used, or too old.
    #[error("invalid MFA code")]
    InvalidMfaCode,
    /// An `mfa_token` that is unknown, spent, expired or out of attempts: one answer for all.
    #[error("invalid MFA token")]
    InvalidMfaToken,
    #[error("step-up required")]
    StepUpRequired,
    #[error("MFA already enabled")]
    MfaAlreadyEnabled,
    #[error("MFA not enabled")]
    MfaNotEnabled,
    #[error("no MFA key is configured")]
    MfaUnavailable,
    #[error("no token")]
    Unauthorized,
    #[error("invalid token")]
    InvalidToken,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("account not activated")]
    AccountNotActivated,
    #[error("insufficient scope")]
    InsufficientScope(&'static str),
    #[error("user not found")]
    UserNotFound,
    #[error("OAuth client not found")]
    ClientNotFound,
    /// As many OAuth clients as may be are registered (the limit).
    #[error("too many OAuth clients")]
    TooManyClients(usize),
    #[error("no such route")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("username taken")]
    UsernameTaken,
    #[error("email taken")]
    EmailTaken,
    #[error("too many attempts, retry after {0} s")]
    TooManyAttempts(u64),
    #[error("mail unavailable: {0}")]
    MailUnavailable(String),
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
    #[error("widgets upstream failed: {0}")]
    UpstreamError(String),
    #[error("widgets upstream timed out")]
    UpstreamTimeout,
    #[error("no widgets upstream is configured")]
    WidgetsUnavailable,
    /// The sign-up hook said no, with its reason (already bounded and cleaned).
    #[error("sign-up refused by the hook")]
    SignUpRefused(Option<String>),
    /// A hook failed, timed out or answered what it may not: refused (fail closed).
    #[error("hook failed: {0}")]
    HookUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Every error's body: `error`, a code for programs; `message`, a sentence for people;
/// `fields`, what is wrong with each field of an invalid body.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    #[schema(pattern = "^[a-z_]+$")]
    error: &'a str,
    /// RFC 6749 section 5.2's name for the message, on the OAuth endpoints' errors (whose
    /// schema is `OAuthError`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    error_description: Option<&'a str>,
    message: &'a str,
    /// What is wrong with each member of the body, by its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, String>>, nullable = false)]
    fields: Option<&'a FieldErrors>,
}

/// An error of the token and revocation endpoints, as RFC 6749 section 5.2 writes it (with the
/// service's `message`, the same sentence, beside).
// (The body is `ErrorBody` with `error_description` set; this type only describes it.)
#[derive(utoipa::ToSchema)]
#[schema(as = OAuthError)]
#[allow(dead_code)]
pub struct OAuthErrorBody {
    /// invalid_request, invalid_grant or unsupported_grant_type on a 400; the service's own
    /// code on a 429 or 5xx.
    #[schema(pattern = "^[a-z_]+$")]
    error: String,
    error_description: String,
    message: String,
    #[schema(nullable = false)]
    fields: Option<BTreeMap<String, String>>,
}

impl ApiError {
    /// One field is wrong.
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(FieldErrors::from([(name.to_string(), message.into())]))
    }

    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            InvalidJson(_)
            | Validation(_)
            | WeakPassword(_)
            | InvalidScope(_)
            | InvalidQuery(_)
            | InvalidActivationToken
            | InvalidResetToken
            | InvalidConfirmationToken
            | InvalidRequest(_)
            | InvalidGrant
            | UnsupportedGrantType
            | InvalidAuthorizationCode
            | InvalidMfaCode
            | InvalidPasskey => StatusCode::BAD_REQUEST,
            PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Unauthorized | InvalidToken | InvalidCredentials | InvalidMfaToken | InvalidClient
            | InvalidEmailCode => StatusCode::UNAUTHORIZED,
            Forbidden(_) | AccountNotActivated | InsufficientScope(_) | StepUpRequired
            | SignUpRefused(_) => StatusCode::FORBIDDEN,
            UserNotFound | NotFound | MfaNotEnabled | ClientNotFound | ConsentNotFound
            | PasskeyNotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            UsernameTaken | EmailTaken | MfaAlreadyEnabled | TooManyClients(_)
            | TooManyPasskeys(_) => StatusCode::CONFLICT,
            ActivationTokenExpired | ResetTokenExpired | ConfirmationTokenExpired => {
                StatusCode::GONE
            }
            TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            MailUnavailable(_) | StoreUnavailable(_) | WidgetsUnavailable | MfaUnavailable
            | PasskeysUnavailable | EmailCodeUnavailable | HookUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            UpstreamError(_) => StatusCode::BAD_GATEWAY,
            UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            PayloadTooLarge(_) => "payload_too_large",
            UnsupportedMediaType(_) => "unsupported_media_type",
            Validation(_) => "validation_failed",
            WeakPassword(_) => "weak_password",
            InvalidScope(_) => "invalid_scope",
            InvalidQuery(_) => "invalid_query",
            InvalidActivationToken => "invalid_activation_token",
            ActivationTokenExpired => "activation_token_expired",
            InvalidResetToken => "invalid_reset_token",
            ResetTokenExpired => "reset_token_expired",
            InvalidConfirmationToken => "invalid_confirmation_token",
            ConfirmationTokenExpired => "confirmation_token_expired",
            InvalidRequest(_) => "invalid_request",
            InvalidGrant => "invalid_grant",
            UnsupportedGrantType => "unsupported_grant_type",
            InvalidAuthorizationCode => "invalid_grant",
            InvalidClient => "invalid_client",
            InvalidMfaCode => "invalid_mfa_code",
            InvalidMfaToken => "invalid_mfa_token",
            StepUpRequired => "step_up_required",
            MfaAlreadyEnabled => "mfa_already_enabled",
            MfaNotEnabled => "mfa_not_enabled",
            MfaUnavailable => "mfa_unavailable",
            Unauthorized => "unauthorized",
            InvalidToken => "invalid_token",
            InvalidCredentials => "invalid_credentials",
            Forbidden(_) => "forbidden",
            AccountNotActivated => "account_not_activated",
            InsufficientScope(_) => "insufficient_scope",
            UserNotFound => "user_not_found",
            ClientNotFound => "client_not_found",
            ConsentNotFound => "consent_not_found",
            InvalidPasskey => "invalid_passkey",
            PasskeyNotFound => "passkey_not_found",
            TooManyPasskeys(_) => "too_many_passkeys",
            PasskeysUnavailable => "passkeys_unavailable",
            InvalidEmailCode => "invalid_email_code",
            EmailCodeUnavailable => "email_code_unavailable",
            TooManyClients(_) => "too_many_clients",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            UsernameTaken => "username_taken",
            EmailTaken => "email_taken",
            TooManyAttempts(_) => "too_many_attempts",
            MailUnavailable(_) => "mail_unavailable",
            StoreUnavailable(_) => "service_unavailable",
            UpstreamError(_) => "upstream_error",
            UpstreamTimeout => "upstream_timeout",
            WidgetsUnavailable => "widgets_unavailable",
            SignUpRefused(_) => "signup_refused",
            HookUnavailable(_) => "hook_unavailable",
            Internal(_) => "internal_error",
        }
    }

    /// The sentence for people. For 5xx it is generic: the cause is only logged.
    pub fn message(&self) -> String {
        use ApiError::*;
        match self {
            InvalidJson(_) => "The request body must be a valid JSON object.".into(),
            PayloadTooLarge(limit) => format!("The request body must be at most {limit} bytes."),
            UnsupportedMediaType(types) => format!("The request body must be sent as {types}."),
            Validation(_) => "Some fields are missing or invalid.".into(),
            WeakPassword(why) => format!("The password is too weak: {why}"),
            InvalidScope(scope) => format!("Unknown scope: {scope}."),
            InvalidQuery(why) => format!("Invalid query: {}.", why.trim_end_matches('.')),
            InvalidActivationToken => "This activation link is not valid.".into(),
            ActivationTokenExpired => {
                "This activation link has expired; sign up again or ask for a new link.".into()
            }
            InvalidResetToken => {
                "This password reset link is not valid (it may have been used already).".into()
            }
            ResetTokenExpired => "This password reset link has expired; ask for a new one.".into(),
            InvalidConfirmationToken => "This confirmation link is not valid.".into(),
            ConfirmationTokenExpired => {
                "This confirmation link has expired; ask for the change again.".into()
            }
            InvalidRequest(_) => "Some fields are missing or invalid.".into(),
            InvalidGrant => {
                "The refresh token is not valid: it is unknown, used, revoked or expired.".into()
            }
            UnsupportedGrantType => {
                "Only grant_type authorization_code and refresh_token are supported here.".into()
            }
            InvalidAuthorizationCode => "The authorization code is not valid: it is unknown, \
                                         used or expired, or was issued for another client, \
                                         redirect URI or code verifier."
                .into(),
            InvalidClient => "The client is unknown, or its authentication failed.".into(),
            InvalidMfaCode => "The code is wrong, used already, or too old.".into(),
            InvalidMfaToken => {
                "The sign-in's second step is unknown, finished, expired or out of tries; log in again."
                    .into()
            }
            StepUpRequired => {
                "Prove it is you again: a code (or your password, to turn two-factor sign-in on) in the request, or a sign-in in the last 10 minutes."
                    .into()
            }
            MfaAlreadyEnabled => "Two-factor sign-in is on already.".into(),
            MfaNotEnabled => "Two-factor sign-in is not on for this account.".into(),
            MfaUnavailable => "Two-factor sign-in is not configured here.".into(),
            Unauthorized => "This route needs a bearer token.".into(),
            InvalidToken => "The bearer token is malformed, expired or revoked.".into(),
            InvalidCredentials => "Unknown user or wrong password.".into(),
            Forbidden(why) => format!("Forbidden: {}.", why.trim_end_matches('.')),
            AccountNotActivated => {
                "The account is not activated yet: follow the link in the activation mail.".into()
            }
            InsufficientScope(scope) => format!("The token lacks the scope `{scope}`."),
            UserNotFound => "No such user.".into(),
            ClientNotFound => "No such OAuth client.".into(),
            ConsentNotFound => "This account has allowed no such app anything.".into(),
            InvalidPasskey => "This passkey cannot be added: ask for new options and try again."
                .into(),
            PasskeyNotFound => "This account has no such passkey.".into(),
            TooManyPasskeys(limit) => {
                format!("An account holds at most {limit} passkeys: remove one first.")
            }
            PasskeysUnavailable => "Passkeys are not configured here.".into(),
            InvalidEmailCode => {
                "This code is wrong, used, replaced by a newer one, or expired: ask for a new one."
                    .into()
            }
            EmailCodeUnavailable => "Sign-in with a mailed code is turned off here.".into(),
            TooManyClients(limit) => format!(
                "{limit} OAuth clients are registered: remove one before registering another."
            ),
            NotFound => "No such route.".into(),
            MethodNotAllowed => "This method is not allowed on this route.".into(),
            UsernameTaken => "This username is taken.".into(),
            EmailTaken => "This email address is already registered.".into(),
            TooManyAttempts(secs) => {
                format!("Too many failed attempts; retry in {secs} seconds.")
            }
            MailUnavailable(_) => {
                "A mail could not be sent, so nothing was changed; please try again later.".into()
            }
            StoreUnavailable(_) => "The service is unavailable; please try again later.".into(),
            UpstreamError(_) => "The widgets service failed; please try again later.".into(),
            UpstreamTimeout => "The widgets service did not answer in time.".into(),
            WidgetsUnavailable => "The widgets service is not configured here.".into(),
            SignUpRefused(Some(reason)) => format!("Sign-up was refused: {reason}"),
            SignUpRefused(None) => "Sign-up was refused.".into(),
            HookUnavailable(_) => "The service cannot complete this now; please try again later.".into(),
            Internal(_) => "Something went wrong on our side.".into(),
        }
    }
}

impl ApiError {
    /// Logs the refusal or failure: a 5xx with its cause (which stays in the log; the client
    /// gets the generic sentence of [`ApiError::message`]).
    pub fn log(&self) {
        if self.status().is_server_error() {
            tracing::error!(code = self.code(), cause = %self, "request failed");
        } else {
            tracing::debug!(code = self.code(), "request refused");
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.respond(false)
    }
}

/// A failure of an OAuth endpoint (the token endpoint, `POST /auth/token`, and revocation,
/// `POST /auth/revoke`), answered as RFC 6749 section 5.2 and RFC 7009 section 2.2.1 write it:
/// `error` from their list where one applies (a body that is not a form or a JSON object, too
/// large, or with a parameter missing, wrong or repeated is `invalid_request`), the sentence as
/// `error_description` (and as `message`, as every other error of the service), and
/// `Cache-Control: no-store` with `Pragma: no-cache`.
pub struct OAuthError(pub ApiError);

impl From<ApiError> for OAuthError {
    fn from(e: ApiError) -> Self {
        OAuthError(e)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = self.0.respond(true);
        response
            .headers_mut()
            .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

impl ApiError {
    /// The `error` code of RFC 6749 section 5.2 for this failure at an OAuth endpoint.
    fn oauth_code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::UnsupportedMediaType(_)
            | ApiError::Validation(_)
            | ApiError::InvalidRequest(_) => "invalid_request",
            other => other.code(),
        }
    }

    fn respond(self, oauth: bool) -> Response {
        let status = self.status();
        self.log();
        let message = self.message();
        let fields = match &self {
            ApiError::Validation(f) | ApiError::InvalidRequest(f) => Some(f),
            _ => None,
        };
        let body = ErrorBody {
            error: if oauth {
                self.oauth_code()
            } else {
                self.code()
            },
            error_description: oauth.then_some(message.as_str()),
            message: &message,
            fields,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::InvalidClient => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"accounts\""),
                );
            }
            ApiError::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"accounts\""),
                );
            }
            ApiError::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"accounts\", error=\"invalid_token\""),
                );
            }
            ApiError::InsufficientScope(scope) => {
                if let Ok(v) = HeaderValue::from_str(&format!(
                    "Bearer realm=\"accounts\", error=\"insufficient_scope\", scope=\"{scope}\""
                )) {
                    headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            ApiError::TooManyAttempts(secs) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*secs));
            }
            _ => {}
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_end_with_one_full_stop() {
        let cases = [
            ApiError::Forbidden("only an admin may list the users"),
            ApiError::Forbidden("a reason that ends with its own stop."),
            ApiError::InvalidQuery("limit must be a whole number from 1 to 100.".into()),
            ApiError::InvalidQuery("created_start must be a date".into()),
            ApiError::InvalidToken,
            ApiError::TooManyAttempts(3),
            ApiError::Internal("cause".into()),
        ];
        for e in cases {
            let m = e.message();
            assert!(m.ends_with('.') && !m.ends_with(".."), "{m}");
        }
    }
}
