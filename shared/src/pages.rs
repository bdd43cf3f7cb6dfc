//! The HTML pages a person meets from a link in a mail (activation, password reset, address
//! confirmation): one shell, no script, no outside asset, and strict headers. Every page is a
//! maud template, which escapes whatever text it is given: no function here takes HTML.

use axum::http::{HeaderValue, StatusCode, header};
use maud::{Markup, PreEscaped, html};

use crate::error::ApiError;
use crate::style::document;
pub use crate::style::{ACCENT, BACKGROUND, ERROR, FONT_STACK, MUTED, TEXT};
use crate::user::MAX_EMAIL_CHARS;
use std::sync::LazyLock;

use axum::response::{Html, IntoResponse, Response};

/// Allows only what the pages use: their inline style, and forms posting to this service.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What a page that offers passkeys allows besides: its script, a file of this service
/// ([`PASSKEY_SCRIPT`]), and that script's requests for options, to this service.
const SCRIPT_POLICY: &str = "script-src 'self'; connect-src 'self'; ";

/// The script of the pages that offer passkeys, served at `GET /assets/passkey.js`.
pub const PASSKEY_SCRIPT: &str = include_str!("../assets/passkey.js");

/// The one style sheet, inline in every page (the CSP allows inline style and nothing else).
static STYLE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "*{{box-sizing:border-box}}\
         body{{font-family:{FONT_STACK};font-size:1.0625rem;line-height:1.5;color:{TEXT};\
         background:{BACKGROUND};margin:0}}\
         main{{max-width:32rem;margin:0 auto;padding:2.5rem 1.25rem}}\
         h1{{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}}\
         h2{{font-size:1.125rem;margin:2rem 0 .5rem}}\
         section h2{{font-size:1.0625rem;margin:0 0 .25rem}}\
         section{{border-top:1px solid #c4c4c4;padding:1rem 0 1.5rem}}\
         p{{margin:0 0 1rem}}.hint{{color:{MUTED};font-size:.95rem}}\
         label{{display:block;font-weight:600;margin:1rem 0 .25rem}}\
         input{{font:inherit;width:100%;padding:.625rem .75rem;border:1px solid #6b6b6b;\
         border-radius:4px;background:#fff;color:{TEXT}}}\
         input[aria-invalid=true]{{border:2px solid {ERROR}}}\
         button{{font:inherit;font-weight:600;margin-top:1.25rem;padding:.625rem 1.25rem;\
         min-height:2.75rem;border:0;border-radius:4px;background:{ACCENT};color:#fff;\
         cursor:pointer}}\
         button.secondary{{background:#fff;color:{ACCENT};border:2px solid {ACCENT}}}\
         ul{{margin:0 0 1rem;padding-left:1.25rem}}form+p{{margin-top:1.5rem}}\
         details{{margin:1.5rem 0}}summary{{cursor:pointer;color:{ACCENT};font-weight:600}}\
         a{{color:{ACCENT}}}\
         :focus-visible{{outline:3px solid {ACCENT};outline-offset:2px}}\
         .error{{color:{ERROR};font-weight:600;margin:.5rem 0 0}}"
    )
});

/// A page: `title` as its title and heading, then `body`.
fn page(status: StatusCode, title: &str, body: Markup) -> Response {
    page_sending_to(status, title, body, None)
}

/// The CSP of a page whose form's answer redirects to `origin` (an app's): `form-action`
/// governs the redirects after a form's post too, so the app's origin is allowed there, and
/// nothing else changes.
/// With `script`, the passkeys' script and its requests are allowed too ([`SCRIPT_POLICY`]).
fn policy_sending_to(origin: Option<&str>, script: bool) -> Option<HeaderValue> {
    let mut policy = CONTENT_SECURITY_POLICY.to_string();
    if let Some(origin) = origin {
        // An origin is `scheme://host[:port]` as the URL standard writes it: nothing in it can
        // end the directive, but it is checked all the same.
        if origin.is_empty()
            || !origin
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
        {
            return None;
        }
        policy = policy.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin}"),
        );
    }
    if script {
        policy = policy.replace("style-src", &format!("{SCRIPT_POLICY}style-src"));
    }
    HeaderValue::from_str(&policy).ok()
}

/// A page (see [`page`]) whose forms may end in a redirect to `origin`.
fn page_sending_to(
    status: StatusCode,
    title: &str,
    body: Markup,
    origin: Option<&str>,
) -> Response {
    page_with(status, title, body, origin, false)
}

/// A page whose forms may end in a redirect to `origin`, with the passkeys' script when
/// `script`.
fn page_with(
    status: StatusCode,
    title: &str,
    body: Markup,
    origin: Option<&str>,
    script: bool,
) -> Response {
    // The style sheet is this module's own constant text, never a caller's.
    let style = html! {
        style { (PreEscaped(STYLE.as_str())) }
        @if script {
            script src="../assets/passkey.js" defer {}
        }
    };
    let html = document(
        title,
        style,
        html! { body { main { h1 { (title) } (body) } } },
    );
    let mut response = (status, Html(html.into_string())).into_response();
    let headers = response.headers_mut();
    let policy = policy_sending_to(origin, script)
        .unwrap_or(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    // Pages are reached by links that hold a token: it must not travel on in a Referer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// `GET /assets/passkey.js`: the pages' script ([`PASSKEY_SCRIPT`]), cached a while (the
/// pages name it without a version: five minutes is how long a new release may take to reach a
/// browser that has it).
pub fn passkey_script() -> Response {
    let mut response = (StatusCode::OK, PASSKEY_SCRIPT).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A page that says one thing.
pub fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    page(status, title, html! { p { (text) } })
}

/// What a form's input is: its type and the browser's checks (the service checks again).
struct Input<'a> {
    kind: &'static str,
    autocomplete: &'static str,
    minlength: Option<usize>,
    maxlength: usize,
    /// The value typed before, shown again (an address; never a password).
    value: Option<&'a str>,
}

/// The input of the account's current password (never shown again).
fn current_password() -> Input<'static> {
    Input {
        kind: "password",
        autocomplete: "current-password",
        minlength: None,
        maxlength: crate::password::MAX_PASSWORD_CHARS,
        value: None,
    }
}

/// A labelled, required input named and identified `name`. `hint` is shown under the label;
/// `error` under the input, announced when the page opens (`role="alert"`). Both are tied to
/// the input (`aria-describedby`), so a screen reader reads them with it.
fn field(name: &str, label: &str, input: Input, hint: Option<&str>, error: Option<&str>) -> Markup {
    field_with_id(name, name, label, input, hint, error)
}

/// A field (see [`field`]) identified `id` and named `name`: for a page with many forms that
/// have a field of the same name.
fn field_with_id(
    id: &str,
    name: &str,
    label: &str,
    input: Input,
    hint: Option<&str>,
    error: Option<&str>,
) -> Markup {
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described: Vec<&str> = [
        hint.map(|_| hint_id.as_str()),
        error.map(|_| error_id.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let described = (!described.is_empty()).then(|| described.join(" "));
    html! {
        label for=(id) { (label) }
        @if let Some(hint) = hint {
            p id=(hint_id) class="hint" { (hint) }
        }
        input id=(id) name=(name) type=(input.kind) autocomplete=(input.autocomplete)
            minlength=[input.minlength] maxlength=(input.maxlength) required
            value=[input.value] aria-describedby=[described]
            aria-invalid=[error.map(|_| "true")];
        @if let Some(error) = error {
            p id=(error_id) class="error" role="alert" { (error) }
        }
    }
}

/// A form of one email field posting to `action` (relative to the page's own address, so it
/// works under any base path).
fn email_form(action: &str, button: &str, email: &str, error: Option<&str>) -> Markup {
    let input = Input {
        kind: "email",
        autocomplete: "email",
        minlength: None,
        maxlength: MAX_EMAIL_CHARS,
        value: Some(email),
    };
    html! {
        form method="post" action=(action) {
            (field("email", "Email address", input, None, error))
            button type="submit" { (button) }
        }
    }
}

/// The form behind a reset link: a new password, posted with the token to `POST
/// /password/reset`. `error` is shown next to the field when a first try was refused.
pub fn reset_form(status: StatusCode, token: &str, error: Option<&str>) -> Response {
    let input = Input {
        kind: "password",
        autocomplete: "new-password",
        minlength: Some(8),
        maxlength: crate::password::MAX_PASSWORD_CHARS,
        value: None,
    };
    let hint = "At least 8 characters; not a common password, nor one built from your username \
                or address.";
    let body = html! {
        p {
            "Choose the password you will log in with from now on. Every session of your \
             account ends when it is set."
        }
        form method="post" action="reset" {
            input type="hidden" name="token" value=(token);
            (field("password", "New password", input, Some(hint), error))
            button type="submit" { "Set the new password" }
        }
    };
    page(status, "Choose a new password", body)
}

/// The hidden fields a hosted sign-in page's form carries: the authorization request it
/// continues (checked again when the form comes back), the step, and the CSRF token.
pub type Carried<'a> = &'a [(&'static str, String)];

fn hidden(carried: Carried) -> Markup {
    html! {
        @for (name, value) in carried {
            input type="hidden" name=(name) value=(value);
        }
    }
}

/// The app a hosted page is for: its name, shown, and the origin of its redirect URI, where the
/// page's forms may end (see [`policy_sending_to`]).
pub struct App<'a> {
    pub name: &'a str,
    pub origin: &'a str,
}

/// The hosted sign-in page: a username or address and a password, posted to `POST
/// /oauth/authorize` with the request it continues. `login` is shown again (the login hint, or
/// what was typed), never the password; `error` next to the first field.
pub fn sign_in_page(
    status: StatusCode,
    app: &App,
    carried: Carried,
    login: &str,
    error: Option<&str>,
    passkey: Option<Carried>,
    email_code: Option<Carried>,
) -> Response {
    let name = Input {
        kind: "text",
        // The browser's autofill offers passkeys too where the page offers them.
        autocomplete: if passkey.is_some() {
            "username webauthn"
        } else {
            "username"
        },
        minlength: None,
        maxlength: MAX_EMAIL_CHARS,
        value: Some(login),
    };
    let password = current_password();
    let body = html! {
        p { "to continue to " strong { (app.name) } "." }
        form method="post" action="authorize" {
            (hidden(carried))
            (field("login", "Username or email address", name, None, error))
            (field("password", "Password", password, None, None))
            button type="submit" { "Sign in" }
        }
        @if let Some(passkey) = passkey {
            (passkey_offer(passkey, "Sign in with a passkey", true))
        }
        @if let Some(carried) = email_code {
            details {
                summary { "No password at hand? Get a code by mail" }
                form method="post" action="authorize" {
                    (hidden(carried))
                    (field_with_id("code-email", "login", "Email address", Input {
                        kind: "email",
                        autocomplete: "email",
                        minlength: None,
                        maxlength: MAX_EMAIL_CHARS,
                        value: None,
                    }, None, None))
                    button type="submit" class="secondary" { "Mail me a sign-in code" }
                }
            }
        }
        p { a href="../password/forgot" { "Forgot your password?" } }
    };
    let script = passkey.is_some();
    page_with(status, "Sign in", body, Some(app.origin), script)
}

/// The hosted page that takes a mailed sign-in code: the same whether or not `email` has an
/// account (it says "if"), its form posting the code with the request it continues.
pub fn email_code_page(
    status: StatusCode,
    app: &App,
    carried: Carried,
    email: &str,
    error: Option<&str>,
) -> Response {
    let code = Input {
        kind: "text",
        autocomplete: "one-time-code",
        minlength: None,
        maxlength: 32,
        value: None,
    };
    let hint = "6 digits. It works once, for 10 minutes; a newer code replaces it.";
    let body = html! {
        p {
            "If an account may sign in with " strong { (email) } ", a code is on its way there, \
             to continue to " strong { (app.name) } "."
        }
        form method="post" action="authorize" {
            (hidden(carried))
            (field("code", "Code from the mail", code, Some(hint), error))
            button type="submit" { "Continue" }
        }
    };
    page_sending_to(status, "Enter the code we mailed", body, Some(app.origin))
}

/// What a page that offers passkeys holds (the script, [`PASSKEY_SCRIPT`], shows it and posts
/// its form): a button, hidden until the script finds the browser able; a status line; and the
/// hidden form of step `carried` the script fills with the browser's answer.
fn passkey_offer(carried: Carried, label: &str, sign_in: bool) -> Markup {
    html! {
        div id="passkey" hidden data-options="../auth/passkey/options" {
            button type="button" id="passkey-button" class="secondary" { (label) }
            p id="passkey-status" class="error" role="status" {}
        }
        form id="passkey-form" method="post" action="authorize" hidden {
            (hidden(carried))
            @if sign_in {
                input type="hidden" name="passkey_token" value="";
            }
            input type="hidden" name="credential" value="";
        }
    }
}

/// The second step of a hosted sign-in: a code from the authenticator app, or else a recovery
/// code. `error` next to the field when a first try was refused.
pub fn second_step_page(
    status: StatusCode,
    app: &App,
    carried: Carried,
    error: Option<&str>,
    passkey: Option<Carried>,
) -> Response {
    let code = Input {
        kind: "text",
        autocomplete: "one-time-code",
        minlength: None,
        maxlength: 32,
        value: None,
    };
    let hint = "The 6-digit code your authenticator app shows now, or one of your recovery codes.";
    let body = html! {
        p { "Your account asks for a second step to continue to " strong { (app.name) } "." }
        form method="post" action="authorize" {
            (hidden(carried))
            (field("code", "Code", code, Some(hint), error))
            button type="submit" { "Continue" }
        }
        @if let Some(passkey) = passkey {
            (passkey_offer(passkey, "Use a passkey instead", false))
        }
    };
    let script = passkey.is_some();
    page_with(status, "Enter your code", body, Some(app.origin), script)
}

/// The consent page: the app, what it asks for (each scope with what it means), and two
/// buttons, each its own form (allow, or deny).
pub fn consent_page(
    app: &App,
    username: &str,
    asked: &[&str],
    allow: Carried,
    deny: Carried,
) -> Response {
    let body = html! {
        p { strong { (app.name) } " asks to use your account " strong { (username) } " to:" }
        ul {
            @for scope in asked {
                li { (scope) }
            }
        }
        p class="hint" {
            "You can withdraw this at any time; the app then asks again."
        }
        form method="post" action="authorize" {
            (hidden(allow))
            button type="submit" { "Allow" }
        }
        form method="post" action="authorize" {
            (hidden(deny))
            button type="submit" class="secondary" { "Deny" }
        }
    };
    page_sending_to(StatusCode::OK, "Allow access?", body, Some(app.origin))
}

/// The question of a sign-out an app asked for without naming the person: one button, its form
/// posted to `POST /oauth/logout` (relative: `logout`) with the request and its CSRF token.
pub fn sign_out_page(username: &str, carried: Carried, back_to: Option<&str>) -> Response {
    let body = html! {
        p { "You are signed in as " strong { (username) } " on this browser. Sign out?" }
        form method="post" action="logout" {
            (hidden(carried))
            button type="submit" { "Sign out" }
        }
    };
    page_sending_to(StatusCode::OK, "Sign out?", body, back_to)
}

/// A passkey as the account page lists it.
pub struct PasskeyRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    /// RFC 3339.
    pub created_at: &'a str,
    /// RFC 3339; `None`: never used.
    pub last_used_at: Option<&'a str>,
}

/// What the page of an account's passkeys shows.
pub struct PasskeysView<'a> {
    pub username: &'a str,
    pub passkeys: &'a [PasskeyRow<'a>],
    /// The forms' CSRF token.
    pub csrf: &'a str,
    /// Adding asks for the password (the sign-in is not two-factor and recent).
    pub ask_password: bool,
    /// Removing asks for a code (the account has TOTP on, and the sign-in is not two-factor
    /// and recent).
    pub ask_code: bool,
    /// The account holds as many passkeys as it may.
    pub full: bool,
    /// What was just done, said at the top.
    pub done: Option<&'a str>,
    /// Why the last form was refused.
    pub error: Option<&'a str>,
}

/// The input of a passkey's name.
fn passkey_name(value: Option<&str>) -> Input<'_> {
    Input {
        kind: "text",
        autocomplete: "off",
        minlength: None,
        maxlength: crate::store::MAX_PASSKEY_NAME_CHARS,
        value,
    }
}

/// The day of an RFC 3339 time, as the page shows it.
fn day(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or(rfc3339)
}

/// The page of an account's passkeys (`/account/passkeys`): each with its dates, a form to
/// rename it and one to remove it; and the form that adds one, shown by the passkeys' script
/// ([`PASSKEY_SCRIPT`]) where the browser can make passkeys. Every form posts to `POST
/// /account/passkeys` (relative: `passkeys`) with the CSRF token.
pub fn passkeys_page(status: StatusCode, view: &PasskeysView) -> Response {
    let password = current_password();
    let body = html! {
        p {
            "Signed in as " strong { (view.username) } ". "
            a href="../oauth/logout" { "Sign out" }
        }
        @if let Some(done) = view.done {
            p role="status" { strong { (done) } }
        }
        @if let Some(error) = view.error {
            p class="error" role="alert" { (error) }
        }
        p {
            "A passkey signs you in with your device's fingerprint, face or screen lock, \
             instead of your password and code. No one can guess it or trick you into \
             giving it away."
        }
        @if view.passkeys.is_empty() {
            p { "You have no passkey yet." }
        }
        @for (n, p) in view.passkeys.iter().enumerate() {
            section class="passkey" aria-labelledby=(format!("passkey-{n}")) {
                h2 id=(format!("passkey-{n}")) { (p.name) }
                p class="hint" {
                    "Added " time datetime=(p.created_at) { (day(p.created_at)) } "; "
                    @match p.last_used_at {
                        Some(used) => { "last used " time datetime=(used) { (day(used)) } "." }
                        None => { "never used." }
                    }
                }
                form method="post" action="passkeys" {
                    input type="hidden" name="csrf" value=(view.csrf);
                    input type="hidden" name="action" value="rename";
                    input type="hidden" name="id" value=(p.id);
                    (field_with_id(&format!("name-{n}"), "name", "New name", passkey_name(Some(p.name)), None, None))
                    button type="submit" class="secondary" { "Rename" }
                }
                form method="post" action="passkeys" {
                    input type="hidden" name="csrf" value=(view.csrf);
                    input type="hidden" name="action" value="remove";
                    input type="hidden" name="id" value=(p.id);
                    @if view.ask_code {
                        (field_with_id(&format!("code-{n}"), "code", "Code from your authenticator app", Input {
                            kind: "text",
                            autocomplete: "one-time-code",
                            minlength: None,
                            maxlength: 32,
                            value: None,
                        }, None, None))
                    }
                    button type="submit" class="secondary" { "Remove" }
                }
            }
        }
        h2 { "Add a passkey" }
        @if view.full {
            p { "You have as many passkeys as an account may hold. Remove one to add another." }
        } @else {
            p id="passkey-unsupported" class="hint" {
                "Adding a passkey needs a browser that makes them, with scripts on."
            }
            form id="passkey-add" method="post" action="passkeys" data-options="passkeys/options"
                hidden {
                input type="hidden" name="csrf" value=(view.csrf);
                input type="hidden" name="action" value="add";
                input type="hidden" name="credential" value="";
                (field("name", "Name", passkey_name(None),
                    Some("What you call this device: Laptop, Phone."), None))
                @if view.ask_password {
                    (field("password", "Your password", password, None, None))
                }
                button type="submit" { "Add a passkey" }
                p id="passkey-status" class="error" role="status" {}
            }
        }
    };
    page_with(status, "Your passkeys", body, None, true)
}

/// The page behind a mailed sign-in code's link (`GET /auth/email-code/link`): one button,
/// posting the link's account and token back (relative: `link`), to show the code. A mail
/// scanner that opens the link sees no code and spends nothing.
pub fn email_code_ask_page(user: &str, token: &str) -> Response {
    let body = html! {
        p { "The code mailed to you works once, for 10 minutes, where you asked for it." }
        form method="post" action="link" {
            input type="hidden" name="user" value=(user);
            input type="hidden" name="token" value=(token);
            button type="submit" { "Show my code" }
        }
        p class="hint" {
            "This page asks first so that a program that opens the links in your mail (to check \
             them for danger) cannot see the code."
        }
    };
    page(StatusCode::OK, "Your sign-in code", body)
}

/// The code of a mailed sign-in, shown (`POST /auth/email-code/link`); nothing is spent.
pub fn email_code_shown_page(code: &str) -> Response {
    let style = "font-size:2rem;font-weight:700;letter-spacing:.4rem;\
                 font-family:ui-monospace,monospace;margin:1.5rem 0";
    let body = html! {
        p { "Type this code where you asked for it:" }
        p id="code" style=(style) { (code) }
        p { "It works once, within 10 minutes of the mail. A newer code replaces it." }
    };
    page(StatusCode::OK, "Your sign-in code", body)
}

/// Where a page that offers the activation link again is served from: the form's action is
/// relative to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServedAt {
    /// `GET /activate` (a dead link).
    ActivationLink,
    /// `POST /activate/resend` (the form, sent again with an error).
    ResendRoute,
}

/// Why a link is a dead end, then the heading of the way forward; nothing when the page is the
/// form itself, sent again.
fn why_then(why: Option<&str>, next: &str) -> Markup {
    html! {
        @if let Some(why) = why {
            p { (why) }
            h2 { (next) }
        }
    }
}

/// A dead end of the activation link, with the way forward: a form that mails a new link.
pub fn resend_page(
    status: StatusCode,
    title: &str,
    why: Option<&str>,
    served_at: ServedAt,
    email: &str,
    error: Option<&str>,
) -> Response {
    let action = match served_at {
        ServedAt::ActivationLink => "activate/resend",
        ServedAt::ResendRoute => "resend",
    };
    let body = html! {
        (why_then(why, "Get a new activation link"))
        p {
            "Enter the address you signed up with. If its account is waiting to be activated, \
             a new link is mailed to it."
        }
        (email_form(action, "Mail me a new link", email, error))
    };
    page(status, title, body)
}

/// A dead end of the reset link, with the way forward: the forgot-password form (served from
/// `/password/reset` and `/password/forgot`, so `forgot` is the same route from both).
pub fn forgot_page(
    status: StatusCode,
    title: &str,
    why: Option<&str>,
    email: &str,
    error: Option<&str>,
) -> Response {
    let body = html! {
        (why_then(why, "Get a new link"))
        p { "Enter your account's address: a link to choose a new password is mailed to it." }
        (email_form("forgot", "Mail me a reset link", email, error))
    };
    page(status, title, body)
}

/// A failure answered to a person, logged as the JSON answer would be (a 5xx's message is
/// generic; its cause stays in the log).
pub fn error_page(e: ApiError) -> Response {
    e.log();
    let title = if e.status().is_server_error() {
        "Please try again in a minute"
    } else {
        "That did not work"
    };
    message_page(e.status(), title, &e.message())
}

/// The answer to a form that asked for a mail: the same whether or not an account matched.
pub fn mail_sent_page(status: StatusCode, what: &str) -> Response {
    let body = html! {
        p { (what) }
        p class="hint" {
            "Nothing after a few minutes? Check your spam folder; a mail to the same address \
             goes out at most once a minute."
        }
    };
    page(status, "Check your mail", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(r: Response) -> String {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn pages_escape_and_carry_strict_headers() {
        let r = message_page(StatusCode::GONE, "<t>", "a&b");
        assert_eq!(r.status(), StatusCode::GONE);
        assert_eq!(
            r.headers()[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(r.headers()[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
        let html = text(r).await;
        assert!(html.contains("<title>&lt;t&gt;</title>"), "{html}");
        assert!(html.contains("<p>a&amp;b</p>"), "{html}");
        assert!(html.contains("width=device-width"), "{html}");

        let form = text(reset_form(StatusCode::OK, "x\"><b>", Some("too <weak>"))).await;
        assert!(form.contains("value=\"x&quot;&gt;&lt;b&gt;\""), "{form}");
        assert!(form.contains("too &lt;weak&gt;"), "{form}");
        assert!(form.contains("autocomplete=\"new-password\""), "{form}");
        assert!(!form.contains("<script"), "{form}");
    }
}
