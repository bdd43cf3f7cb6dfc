//! Mail: the trait, the activation mail, and the logging mailer used locally (each mail goes to
//! the log and, as one JSON line, to `mail.log` in the data directory).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use maud::{Markup, html};
use serde::Serialize;

pub use crate::config::mailbox;
use crate::style::{ACCENT, BACKGROUND, FONT_STACK, MUTED, TEXT, document};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
#[error("mail not sent: {0}")]
pub struct MailError(pub String);

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

/// The HTML part of every mail: the pages' look with inline styles (mail programs drop style
/// sheets), one column, no image and no script. A maud template: every text is escaped.
fn html_mail(subject: &str, paragraphs: Markup) -> String {
    let body_style = format!("margin:0;padding:0;background:{BACKGROUND}");
    let column_style = format!(
        "max-width:32rem;margin:0 auto;padding:24px 20px;font-family:{FONT_STACK};\
         font-size:16px;line-height:1.5;color:{TEXT}"
    );
    let body = html! { body style=(body_style) { div style=(column_style) { (paragraphs) } } };
    document(subject, html! {}, body).into_string()
}

/// The words of a mail whose point is one link.
struct LinkMail<'a> {
    subject: &'a str,
    /// What the link does and for how long, ending in a colon.
    before: &'a str,
    /// The words on the button.
    button: &'a str,
    /// What to do if the mail was not expected.
    after: &'a str,
}

/// A mail whose point is one link: in the text part the link whole on a line of its own; in
/// the HTML part a button, and the link written out below it for mail programs that show no
/// button (or a person who would rather copy it).
fn link_mail(to: &str, username: &str, link: &str, words: LinkMail) -> Mail {
    let text = format!(
        "Hello {username},\n\n{}\n\n{link}\n\n{}\n",
        words.before, words.after
    );
    let button_style = format!(
        "display:inline-block;padding:12px 20px;background:{ACCENT};color:#ffffff;\
         font-weight:600;text-decoration:none;border-radius:4px"
    );
    let html = html_mail(
        words.subject,
        html! {
            p { "Hello " (username) "," }
            p { (words.before) }
            p style="margin:24px 0" { a href=(link) style=(button_style) { (words.button) } }
            p style=(format!("font-size:14px;color:{MUTED}")) {
                "Or open this address in your browser:"
                br;
                a href=(link) style=(format!("color:{ACCENT};word-break:break-all")) { (link) }
            }
            p { (words.after) }
        },
    );
    Mail {
        to: to.to_string(),
        subject: words.subject.into(),
        text,
        html,
    }
}

/// A notice of a completed change: no link that changes anything.
fn notice(to: &str, subject: &str, username: &str, body: &str) -> Mail {
    let text = format!("Hello {username},\n\n{body}\n");
    let html = html_mail(
        subject,
        html! {
            p { "Hello " (username) "," }
            p { (body) }
        },
    );
    Mail {
        to: to.to_string(),
        subject: subject.into(),
        text,
        html,
    }
}

/// The activation mail.
pub fn activation_mail(to: &str, username: &str, link: &str) -> Mail {
    link_mail(
        to,
        username,
        link,
        LinkMail {
            subject: "Activate your account",
            before: "Welcome! To activate your account, open this link within 24 hours:",
            button: "Activate my account",
            after: "If you did not sign up, ignore this mail: the account is removed by itself.",
        },
    )
}

/// The password reset mail.
pub fn reset_mail(to: &str, username: &str, link: &str) -> Mail {
    link_mail(
        to,
        username,
        link,
        LinkMail {
            subject: "Reset your password",
            before: "Someone (we hope you) asked to reset the password of your account. To choose a new one, open this link within 1 hour:",
            button: "Choose a new password",
            after: "If you did not ask for this, ignore this mail: your password stays as it is.",
        },
    )
}

/// The mail of a sign-in code: the code, large, and a link to a page that shows it again (a
/// mail scanner that opens the link spends nothing). Never the code in the subject: subjects
/// show on locked screens.
pub fn email_code_mail(to: &str, username: &str, code: &str, link: &str) -> Mail {
    let subject = "Your sign-in code";
    let text = format!(
        "Hello {username},\n\nYour sign-in code is:\n\n    {code}\n\nType it where you asked \
         for it, within 10 minutes. It works once. If this mail program cannot copy it, this \
         page shows it again:\n\n{link}\n\nIf you did not ask for it, ignore this mail: no \
         one can sign in without the code.\n"
    );
    let code_style = format!(
        "font-size:32px;font-weight:700;letter-spacing:6px;font-family:ui-monospace,monospace;\
         color:{TEXT};margin:24px 0"
    );
    let html = html_mail(
        subject,
        html! {
            p { "Hello " (username) "," }
            p { "Your sign-in code is:" }
            p style=(code_style) { (code) }
            p { "Type it where you asked for it, within 10 minutes. It works once." }
            p style=(format!("font-size:14px;color:{MUTED}")) {
                "This page shows it again: "
                a href=(link) style=(format!("color:{ACCENT};word-break:break-all")) { (link) }
            }
            p { "If you did not ask for it, ignore this mail: no one can sign in without the code." }
        },
    );
    Mail {
        to: to.to_string(),
        subject: subject.into(),
        text,
        html,
    }
}

/// The confirmation mail of a change of address, sent to the new address.
pub fn email_confirmation_mail(to: &str, username: &str, link: &str) -> Mail {
    link_mail(
        to,
        username,
        link,
        LinkMail {
            subject: "Confirm your new email address",
            before: "To make this the address of your account, open this link within 24 hours:",
            button: "Confirm my new address",
            after: "If you did not ask for this, ignore this mail: nothing changes.",
        },
    )
}

/// The notice that the password was changed (by a reset or by its owner).
pub fn password_changed_notice(
    to: &str,
    username: &str,
    cancelled_email_change: bool,
    removed_factor: bool,
) -> Mail {
    let mut body = String::from(
        "The password of your account was just changed, and every other session was ended. ",
    );
    if cancelled_email_change {
        body.push_str(CANCELLED_EMAIL_CHANGE);
        body.push(' ');
    }
    if removed_factor {
        body.push_str(REMOVED_UNUSED_FACTOR);
        body.push(' ');
    }
    body.push_str(
        "If this was not you, reset your password at once (\"forgot my password\") and tell us.",
    );
    notice(to, "Your password was changed", username, &body)
}

/// What a reset's notice says when it removed a second factor never used to sign in.
const REMOVED_UNUSED_FACTOR: &str = "Two-factor sign-in, turned on for your account but never \
     used to sign in, was turned off: if you turned it on yourself, turn it on again.";

const CANCELLED_EMAIL_CHANGE: &str = "A change of your account's address that was waiting \
     for its confirmation link was cancelled: its link no longer works.";

/// The notice that ending every session cancelled a pending change of address.
pub fn email_change_cancelled_notice(to: &str, username: &str) -> Mail {
    notice(
        to,
        "A change of your address was cancelled",
        username,
        &format!(
            "Every session of your account was just ended. {CANCELLED_EMAIL_CHANGE} If you did \
             not ask for that change, someone may know your password: change it."
        ),
    )
}

/// The notice that two-factor sign-in was turned on.
pub fn mfa_enabled_notice(to: &str, username: &str) -> Mail {
    notice(
        to,
        "Two-factor sign-in is on",
        username,
        "Two-factor sign-in was just turned on for your account: from now on, signing in asks \
         for a code from your authenticator app after the password. Keep your recovery codes \
         somewhere safe. If this was not you, reset your password at once and tell us.",
    )
}

/// The notice that two-factor sign-in was turned off, by its owner or by an admin.
pub fn mfa_disabled_notice(to: &str, username: &str, by_admin: bool) -> Mail {
    let who = if by_admin {
        "by an administrator"
    } else {
        "from your account"
    };
    notice(
        to,
        "Two-factor sign-in is off",
        username,
        &format!(
            "Two-factor sign-in was just turned off {who}: signing in asks for the password \
             alone now. If you did not ask for this, reset your password at once and tell us."
        ),
    )
}

/// The notice that a passkey was added to the account.
pub fn passkey_added_notice(to: &str, username: &str, name: &str) -> Mail {
    notice(
        to,
        "A passkey was added",
        username,
        &format!(
            "A passkey named \"{name}\" was just added to your account: it signs you in with \
             your fingerprint, face or device PIN. If this was not you, remove it, reset your \
             password at once and tell us."
        ),
    )
}

/// The notice that a passkey was removed, by its owner or by an admin.
pub fn passkey_removed_notice(to: &str, username: &str, name: &str, by_admin: bool) -> Mail {
    let who = if by_admin {
        "by an administrator"
    } else {
        "from your account"
    };
    notice(
        to,
        "A passkey was removed",
        username,
        &format!(
            "The passkey named \"{name}\" was just removed {who}: it no longer signs you in. \
             If you did not ask for this, reset your password at once and tell us."
        ),
    )
}

/// The notice that new recovery codes were made (the previous ones no longer work).
pub fn recovery_codes_replaced_notice(to: &str, username: &str) -> Mail {
    notice(
        to,
        "New recovery codes",
        username,
        "New recovery codes were just made for your account's two-factor sign-in: the ones you \
         had before no longer work. If this was not you, reset your password at once and tell us.",
    )
}

/// The notice that a recovery code was used to sign in.
pub fn recovery_code_used_notice(to: &str, username: &str, left: usize) -> Mail {
    notice(
        to,
        "A recovery code was used",
        username,
        &format!(
            "A recovery code was just used to sign in to your account in place of a code from \
             your authenticator app; {left} unused ones are left. If this was not you, reset \
             your password at once and tell us."
        ),
    )
}

/// The notice to the old address that the account's address was changed.
pub fn email_changed_notice(to: &str, username: &str, new_email: &str) -> Mail {
    notice(
        to,
        "Your email address was changed",
        username,
        &format!(
            "The address of your account was just changed from this one to {new_email}. \
             If this was not you, tell us at once."
        ),
    )
}

/// Writes each mail to the log and appends it to a file. For local runs: nothing is sent.
pub struct LogMailer {
    path: PathBuf,
    /// The `From` the mail would have had.
    from: String,
    file_lock: Mutex<()>,
}

impl LogMailer {
    pub fn new(path: PathBuf, from: impl Into<String>) -> Self {
        LogMailer {
            path,
            from: from.into(),
            file_lock: Mutex::new(()),
        }
    }
}

/// One line of `mail.log`: the mail and its `From`.
#[derive(Serialize)]
struct LoggedMail<'a> {
    from: &'a str,
    #[serde(flatten)]
    mail: &'a Mail,
}

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let logged = LoggedMail {
            from: &self.from,
            mail,
        };
        let line = serde_json::to_string(&logged).map_err(|e| MailError(e.to_string()))?;
        {
            let _guard = self.file_lock.lock().unwrap_or_else(|p| p.into_inner());
            // The data directory may not exist yet (with STORE=dynamodb nothing else makes it).
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| MailError(format!("{}: {e}", dir.display())))?;
            }
            // Readable by its owner only: it holds live links.
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(&self.path)
                .map_err(|e| MailError(format!("{}: {e}", self.path.display())))?;
            #[cfg(unix)]
            if let Ok(meta) = file.metadata() {
                use std::os::unix::fs::PermissionsExt;
                if meta.permissions().mode() & 0o077 != 0 {
                    // Left open to others by an older release.
                    let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
                }
            }
            writeln!(file, "{line}").map_err(|e| MailError(e.to_string()))?;
        }
        tracing::info!(to = %mail.to, subject = %mail.subject, "mail (logged, not sent):\n{}", mail.text);
        Ok(())
    }
}

/// Sends through Amazon SES (v1 `SendEmail`), a plain-text and an HTML body.
pub struct SesMailer {
    client: aws_sdk_ses::Client,
    /// The `Source`: the sender's name and verified address, as [`mailbox`] writes them.
    from: String,
}

impl SesMailer {
    pub fn new(client: aws_sdk_ses::Client, from: impl Into<String>) -> Self {
        SesMailer {
            client,
            from: from.into(),
        }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        use aws_sdk_ses::types::{Body, Content, Destination, Message};
        let content = |text: &str| {
            Content::builder()
                .data(text)
                .charset("UTF-8")
                .build()
                .map_err(|e| MailError(e.to_string()))
        };
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(
                Body::builder()
                    .text(content(&mail.text)?)
                    .html(content(&mail.html)?)
                    .build(),
            )
            .build();
        self.client
            .send_email()
            .source(&self.from)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .message(message)
            .send()
            .await
            .map_err(|e| MailError(aws_sdk_ses::error::DisplayErrorContext(&e).to_string()))?;
        tracing::info!(subject = %mail.subject, "mail sent through SES");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_link_mail_holds_the_link_whole_as_a_button_and_written_out() {
        let link = "http://x/activate?token=abc&n=1";
        for m in [
            activation_mail("a@example.com", "a<b", link),
            reset_mail("a@example.com", "a<b", link),
            email_confirmation_mail("a@example.com", "a<b", link),
        ] {
            assert!(m.text.starts_with("Hello a<b,\n\n"), "{}", m.text);
            assert!(m.text.lines().any(|l| l == link), "{}", m.text);
            assert!(
                !m.text.contains("<p>") && !m.text.contains("&amp;"),
                "{}",
                m.text
            );
            let escaped = "http://x/activate?token=abc&amp;n=1";
            // The button and the written-out link: two anchors to the link, the second showing it.
            assert_eq!(
                m.html.matches(&format!("href=\"{escaped}\"")).count(),
                2,
                "{}",
                m.html
            );
            assert!(m.html.contains(&format!(">{escaped}</a>")), "{}", m.html);
            assert!(m.html.contains("a&lt;b"), "{}", m.html);
            assert!(
                m.html.starts_with("<!doctype html><html lang=\"en\">"),
                "{}",
                m.html
            );
            assert!(
                m.html.contains(&format!("<title>{}</title>", m.subject)),
                "{}",
                m.html
            );
            assert!(
                !m.html.contains("<script") && !m.html.contains("<img"),
                "{}",
                m.html
            );
        }
        let n = email_changed_notice("old@example.com", "a", "new@example.com");
        assert!(n.text.contains("new@example.com") && n.html.contains("new@example.com"));
        assert!(
            !n.html.contains("href"),
            "a notice holds no link: {}",
            n.html
        );
    }

    #[test]
    fn a_mailbox_quotes_or_encodes_the_name() {
        assert_eq!(mailbox("Acme", "a@x.example"), "\"Acme\" <a@x.example>");
        assert_eq!(
            mailbox("a\"b\\c", "a@x.example"),
            "\"a\\\"b\\\\c\" <a@x.example>"
        );
        assert_eq!(
            mailbox("Café", "a@x.example"),
            "=?UTF-8?B?Q2Fmw6k=?= <a@x.example>"
        );
    }

    #[tokio::test]
    async fn the_log_mailer_appends_json_lines_and_fails_when_it_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = LogMailer::new(dir.path().join("mail.log"), "\"A\" <a@localhost>");
        let m = activation_mail("a@example.com", "alice", "http://x/activate?token=abc");
        mailer.send(&m).await.unwrap();
        mailer.send(&m).await.unwrap();
        let text = std::fs::read_to_string(dir.path().join("mail.log")).unwrap();
        assert_eq!(text.lines().count(), 2);
        let back: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(back["to"], "a@example.com");
        assert_eq!(back["from"], "\"A\" <a@localhost>");
        assert_eq!(back["subject"], "Activate your account");

        let nested = LogMailer::new(dir.path().join("not/yet/there/mail.log"), "a@localhost");
        nested.send(&m).await.unwrap();

        let broken = LogMailer::new(dir.path().to_path_buf(), "a@localhost"); // a directory: cannot append
        assert!(broken.send(&m).await.is_err());
    }
}
