//! Mail: the trait, the activation mail, and the logging mailer used locally (each mail goes to
//! the log and, as one JSON line, to `mail.log` in the data directory).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::Serialize;

use crate::pages::escape as html_escape;

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

/// A mail whose point is one link: the link whole, on a line of its own, in the text and the
/// HTML bodies, between `before` and `after` (plain sentences).
fn link_mail(
    to: &str,
    subject: &str,
    username: &str,
    before: &str,
    link: &str,
    after: &str,
) -> Mail {
    let text = format!("Hello {username},\n\n{before}\n\n{link}\n\n{after}\n");
    let (u, l) = (html_escape(username), html_escape(link));
    let html = format!(
        "<p>Hello {u},</p><p>{}</p><p><a href=\"{l}\">{l}</a></p><p>{}</p>",
        html_escape(before),
        html_escape(after)
    );
    Mail {
        to: to.to_string(),
        subject: subject.into(),
        text,
        html,
    }
}

/// A notice of a completed change: no link that changes anything.
fn notice(to: &str, subject: &str, username: &str, body: &str) -> Mail {
    let text = format!("Hello {username},\n\n{body}\n");
    let html = format!(
        "<p>Hello {},</p><p>{}</p>",
        html_escape(username),
        html_escape(body)
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
        "Activate your account",
        username,
        "To activate your account, open this link within 24 hours:",
        link,
        "If you did not sign up, ignore this mail: the account expires by itself.",
    )
}

/// The password reset mail.
pub fn reset_mail(to: &str, username: &str, link: &str) -> Mail {
    link_mail(
        to,
        "Reset your password",
        username,
        "To choose a new password, open this link within 1 hour:",
        link,
        "If you did not ask for this, ignore this mail: your password stays as it is.",
    )
}

/// The confirmation mail of a change of address, sent to the new address.
pub fn email_confirmation_mail(to: &str, username: &str, link: &str) -> Mail {
    link_mail(
        to,
        "Confirm your new email address",
        username,
        "To make this the address of your account, open this link within 24 hours:",
        link,
        "If you did not ask for this, ignore this mail: nothing changes.",
    )
}

/// The notice that the password was changed (by a reset or by its owner).
pub fn password_changed_notice(to: &str, username: &str) -> Mail {
    notice(
        to,
        "Your password was changed",
        username,
        "The password of your account was just changed, and every other session was ended. \
         If this was not you, reset your password at once (\"forgot my password\") and tell us.",
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
    file_lock: Mutex<()>,
}

impl LogMailer {
    pub fn new(path: PathBuf) -> Self {
        LogMailer {
            path,
            file_lock: Mutex::new(()),
        }
    }
}

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let line = serde_json::to_string(mail).map_err(|e| MailError(e.to_string()))?;
        {
            let _guard = self.file_lock.lock().unwrap_or_else(|p| p.into_inner());
            // The data directory may not exist yet (with STORE=dynamodb nothing else makes it).
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| MailError(format!("{}: {e}", dir.display())))?;
            }
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| MailError(format!("{}: {e}", self.path.display())))?;
            writeln!(file, "{line}").map_err(|e| MailError(e.to_string()))?;
        }
        tracing::info!(to = %mail.to, subject = %mail.subject, "mail (logged, not sent):\n{}", mail.text);
        Ok(())
    }
}

/// Sends through Amazon SES (v1 `SendEmail`), a plain-text and an HTML body.
pub struct SesMailer {
    client: aws_sdk_ses::Client,
    sender: String,
}

impl SesMailer {
    pub fn new(client: aws_sdk_ses::Client, sender: impl Into<String>) -> Self {
        SesMailer {
            client,
            sender: sender.into(),
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
            .source(&self.sender)
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
    fn the_activation_mail_holds_the_link_whole_and_escapes_html() {
        let m = activation_mail("a@example.com", "a<b", "http://x/activate?token=abc");
        assert!(m.text.lines().any(|l| l == "http://x/activate?token=abc"));
        assert!(m.html.contains("href=\"http://x/activate?token=abc\""));
        assert!(m.html.contains("a&lt;b"));
    }

    #[tokio::test]
    async fn the_log_mailer_appends_json_lines_and_fails_when_it_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = LogMailer::new(dir.path().join("mail.log"));
        let m = activation_mail("a@example.com", "alice", "http://x/activate?token=abc");
        mailer.send(&m).await.unwrap();
        mailer.send(&m).await.unwrap();
        let text = std::fs::read_to_string(dir.path().join("mail.log")).unwrap();
        assert_eq!(text.lines().count(), 2);
        let back: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(back["to"], "a@example.com");

        let nested = LogMailer::new(dir.path().join("not/yet/there/mail.log"));
        nested.send(&m).await.unwrap();

        let broken = LogMailer::new(dir.path().to_path_buf()); // a directory: cannot append
        assert!(broken.send(&m).await.is_err());
    }
}
