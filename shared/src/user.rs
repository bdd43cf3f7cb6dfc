//! The user as stored, and the user as the API shows it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::rfc3339;

/// What an account may do: an admin reads and changes any account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A user record as the store keeps it. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub user_id: String,
    /// As signed up (case kept); matched case-insensitively through [`username_key`].
    pub username: String,
    pub email: String,
    /// The argon2id PHC string. Never leaves the store but for verification.
    pub password_hash: String,
    pub role: Role,
    pub activated: bool,
    pub data: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    /// While the account waits for activation: when it expires (and its names are free again).
    pub pending_until: Option<i64>,
    /// Moved on whenever every session must end at once (a password reset or change, "log out
    /// everywhere"): sessions and reset tokens made under an older epoch are dead.
    pub auth_epoch: i64,
}

impl UserRecord {
    /// An account never activated is gone once its activation window has passed.
    pub fn is_expired_pending(&self, now: i64) -> bool {
        !self.activated && self.pending_until.is_some_and(|t| t <= now)
    }
}

/// The profile `data` of a user, serialized, is at most 16 KiB.
pub const MAX_DATA_BYTES: usize = 16 * 1024;

pub const MAX_EMAIL_CHARS: usize = 254;

pub fn valid_username(u: &str) -> bool {
    (3..=32).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// An address the service accepts: one mailbox, `local@domain.tld`, with a local part of
/// printable ASCII and not quoted (SES delivers only to ASCII local parts, and a quoted one such
/// as `"a@b.com,"@example.com` reads as other mailboxes to some mail software), at most 254
/// characters. The domain may be Unicode; addresses are compared by [`crate::user::email_key`].
pub fn valid_email(e: &str) -> bool {
    e.chars().count() <= MAX_EMAIL_CHARS
        && e.trim() == e
        && email_address::EmailAddress::parse_with_options(
            e,
            email_address::Options::default().without_display_text(),
        )
        .is_ok_and(|a| {
            a.domain().contains('.')
                && !a.domain().starts_with('[')
                && a.local_part().is_ascii()
                && !a.local_part().starts_with('"')
        })
}

/// The key a username is unique and matched by: usernames are ASCII, so ASCII lowercase.
pub fn username_key(username: &str) -> String {
    username.to_ascii_lowercase()
}

/// The key an email address is unique and matched by: NFKC, lowercased, NFKC again (Unicode's
/// NFKC_Casefold in effect), so the compatibility forms of a letter are that letter: the
/// Kelvin sign is `k`, fullwidth `ａｌｉｃｅ` is `alice`. Lookalikes from other scripts (a
/// Cyrillic `а`) stay distinct characters: see docs/api-behaviour.md.
pub fn email_key(email: &str) -> String {
    let nfkc = icu_normalizer::ComposingNormalizerBorrowed::new_nfkc();
    let lower = nfkc.normalize(email.trim()).to_lowercase();
    nfkc.normalize(&lower).into_owned()
}

/// The key an address had before [`email_key`] normalized it (trimmed, lowercased): items
/// written then are found by it until `accounts backfill-user-index` moves them.
pub fn legacy_email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// An account as the API shows it (its password hash has no field here, so it cannot leak).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = User)]
pub struct UserView<'a> {
    pub user_id: &'a str,
    /// As signed up (case kept).
    pub username: &'a str,
    /// The profile's `name`, or else the username.
    pub name: &'a str,
    pub email: &'a str,
    pub activated: bool,
    pub role: Role,
    /// The profile data, as given at sign-up or by the last update.
    #[schema(value_type = Object)]
    pub data: &'a Map<String, Value>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl<'a> From<&'a UserRecord> for UserView<'a> {
    fn from(u: &'a UserRecord) -> Self {
        let name = match u.data.get("name") {
            Some(Value::String(s)) => s.as_str(),
            _ => u.username.as_str(),
        };
        UserView {
            user_id: &u.user_id,
            username: &u.username,
            name,
            email: &u.email,
            activated: u.activated,
            role: u.role,
            data: &u.data,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

impl UserRecord {
    /// The user as the API shows it.
    pub fn view(&self) -> UserView<'_> {
        UserView::from(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(data: Value) -> UserRecord {
        UserRecord {
            user_id: "u1".into(),
            username: "Alice".into(),
            email: "alice@example.com".into(),
            password_hash: "$argon2id$secret".into(),
            role: Role::User,
            activated: true,
            data: data.as_object().cloned().unwrap(),
            created_at: 0,
            updated_at: 86_400,
            pending_until: None,
            auth_epoch: 0,
        }
    }

    #[test]
    fn usernames_and_emails_are_checked() {
        for ok in ["abc", "Alice_1.x-y", &"a".repeat(32)] {
            assert!(valid_username(ok), "{ok}");
        }
        for bad in ["ab", &"a".repeat(33), "al ice", "alicé", "a/b", ""] {
            assert!(!valid_username(bad), "{bad}");
        }
        for ok in [
            "a@example.com",
            "A.B+tag@sub.example.org",
            "o'brien@bücher.example",
        ] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@x.com",
            "a@localhost",
            "Alice <a@example.com>",
            " a@example.com",
            "\"<evil@evil.com>\"@example.com",
            "\"evil@evil.com,\"@example.com",
            "\u{212A}ate@example.com",
            "ａｌｉｃｅ@example.com",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
        assert!(!valid_email(&format!("{}@example.com", "a".repeat(250))));
    }

    #[test]
    fn addresses_compare_after_nfkc_and_lowercase() {
        assert_eq!(email_key("Kate@Example.com"), "kate@example.com");
        assert_eq!(
            email_key("\u{212A}ate@example.com"),
            "kate@example.com",
            "Kelvin sign"
        );
        assert_eq!(
            email_key("ａｌｉｃｅ@example.com"),
            "alice@example.com",
            "fullwidth"
        );
        assert_eq!(
            email_key("ＡＬＩＣＥ@ＥＸＡＭＰＬＥ.com"),
            "alice@example.com"
        );
        assert_eq!(email_key(" bob@example.com "), "bob@example.com");
        assert_ne!(
            email_key("\u{430}lice@example.com"),
            "alice@example.com",
            "Cyrillic а"
        );
        assert_eq!(
            legacy_email_key("\u{212A}ate@example.com"),
            "\u{212A}ate@example.com".to_lowercase()
        );
    }

    fn shown(user: &UserRecord) -> Value {
        serde_json::to_value(user.view()).unwrap()
    }

    #[test]
    fn name_is_data_name_when_a_string_else_username() {
        assert_eq!(
            shown(&record(json!({"name": "Alice L"})))["name"],
            "Alice L"
        );
        assert_eq!(shown(&record(json!({"name": 5})))["name"], "Alice");
        assert_eq!(shown(&record(json!({})))["name"], "Alice");
    }

    #[test]
    fn the_view_never_carries_the_hash() {
        let v = shown(&record(json!({})));
        assert!(!v.to_string().contains("argon2"));
        assert_eq!(v["created_at"], "1970-01-01T00:00:00Z");
        assert_eq!(v["updated_at"], "1970-01-02T00:00:00Z");
        assert_eq!(v["role"], "user");
    }
}
