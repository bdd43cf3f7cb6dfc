//! The browser session of the hosted sign-in pages, and their forms' CSRF tokens.
//!
//! A person who signs in on the hosted page gets one of the account's sessions (listed by
//! `GET /auth/sessions`, ended as every other is) and a cookie that names it: the user, the
//! session, how the person signed in (`amr`), and a MAC over them. The MAC is what makes the
//! cookie unforgeable: a session id is not a secret (access tokens carry it as `sid`). The
//! session itself is read on every use, so a cookie outlives no end of its session.
//!
//! The forms are protected by a signed double submit: a random value in a cookie of its own,
//! and in each form the MAC of that value. A page of another site can neither read nor set the
//! cookie, so it cannot make a form that passes (nor sign a person in as someone else).
//!
//! The MAC key is derived from `LOGIN_NAME_KEY`, which the functions that check passwords hold
//! already (HMAC-SHA256 of it with a label of this use alone; the login throttle's MACs are of
//! names prefixed `u:` or `e:`, so no input of one use is an input of the other).

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The label the key is derived with.
const KEY_LABEL: &[u8] = b"accounts: browser sessions and the hosted pages' forms, v1";

/// The cookie of the browser session, and the CSRF cookie, by their names over https (the
/// `__Host-` prefix: `Secure`, `Path=/`, no `Domain`, so no other host of the site can set it).
const SESSION_COOKIE: &str = "__Host-accounts-session";
const CSRF_COOKIE: &str = "__Host-accounts-csrf";

/// What the cookie of a browser session names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    pub user_id: String,
    pub session_id: String,
    /// How the person signed in (RFC 8176 values).
    pub amr: Vec<String>,
}

/// The key of the browser sessions' cookies and the forms' CSRF tokens, and how cookies are
/// named and written for this deployment (over https, or plain http locally).
#[derive(Clone)]
pub struct BrowserKey {
    key: [u8; 32],
    secure: bool,
}

impl std::fmt::Debug for BrowserKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserKey")
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

impl BrowserKey {
    /// Derived from `LOGIN_NAME_KEY`; `public_base_url` says whether cookies are `Secure`.
    pub fn derive(login_name_key: &[u8], public_base_url: &str) -> Self {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(login_name_key).expect("HMAC takes any key");
        mac.update(KEY_LABEL);
        BrowserKey {
            key: mac.finalize().into_bytes().into(),
            secure: public_base_url.starts_with("https://"),
        }
    }

    fn mac(&self, purpose: &str, data: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("any key");
        mac.update(purpose.as_bytes());
        mac.update(b"\n");
        mac.update(data.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    fn session_name(&self) -> &'static str {
        if self.secure {
            SESSION_COOKIE
        } else {
            &SESSION_COOKIE[7..]
        }
    }

    fn csrf_name(&self) -> &'static str {
        if self.secure {
            CSRF_COOKIE
        } else {
            &CSRF_COOKIE[7..]
        }
    }

    /// A cookie of this deployment: `HttpOnly`, `SameSite=Lax` (sent on the app's redirect to
    /// the authorization endpoint, a top-level navigation; never on another site's requests),
    /// `Path=/`, `Secure` over https; for `max_age` seconds (0 removes it), or the browser's
    /// session.
    fn cookie(&self, name: &'static str, value: String, max_age: Option<i64>) -> HeaderValue {
        let mut c = Cookie::new(name, value);
        c.set_http_only(true);
        c.set_same_site(SameSite::Lax);
        c.set_path("/");
        c.set_secure(self.secure);
        if let Some(secs) = max_age {
            c.set_max_age(cookie::time::Duration::seconds(secs.max(0)));
        }
        HeaderValue::from_str(&c.to_string()).expect("cookie text is a header value")
    }

    /// The `Set-Cookie` value of `session`'s cookie, for `max_age` seconds (until the session's
    /// end).
    pub fn session_cookie(&self, session: &BrowserSession, max_age: i64) -> HeaderValue {
        let data = format!(
            "{}.{}.{}",
            session.user_id,
            session.session_id,
            session.amr.join("+")
        );
        let mac = self.mac("session", &data);
        self.cookie(self.session_name(), format!("{data}.{mac}"), Some(max_age))
    }

    /// The `Set-Cookie` value that removes the session's cookie.
    pub fn end_session_cookie(&self) -> HeaderValue {
        self.cookie(self.session_name(), String::new(), Some(0))
    }

    /// Whether the request carries a session cookie, whatever it holds.
    pub fn has_session_cookie(&self, headers: &HeaderMap) -> bool {
        cookie_value(headers, self.session_name()).is_some()
    }

    /// The browser session the request's cookie names, if its MAC holds (whether the session is
    /// live is the store's to say).
    pub fn session(&self, headers: &HeaderMap) -> Option<BrowserSession> {
        let value = cookie_value(headers, self.session_name())?;
        let (data, mac) = value.rsplit_once('.')?;
        let expected = self.mac("session", data);
        if !bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
            return None;
        }
        let mut parts = data.splitn(3, '.');
        let (user_id, session_id, amr) = (parts.next()?, parts.next()?, parts.next()?);
        Some(BrowserSession {
            user_id: user_id.to_string(),
            session_id: session_id.to_string(),
            amr: amr
                .split('+')
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }

    /// The CSRF value of this browser (its cookie's), and the `Set-Cookie` value that gives it
    /// one when it has none yet.
    pub fn csrf(
        &self,
        headers: &HeaderMap,
    ) -> Result<(String, Option<HeaderValue>), crate::ApiError> {
        match cookie_value(headers, self.csrf_name()) {
            Some(v) if v.len() == 43 => Ok((v, None)),
            _ => {
                let value = crate::secret::random_token(32)?;
                let set = self.cookie(self.csrf_name(), value.clone(), None);
                Ok((value, Some(set)))
            }
        }
    }

    /// The token a form carries for a browser of CSRF value `csrf`.
    pub fn form_token(&self, csrf: &str) -> String {
        self.mac("form", csrf)
    }

    /// Whether a form's token is the one of the request's CSRF cookie.
    pub fn form_token_holds(&self, headers: &HeaderMap, token: &str) -> bool {
        let Some(csrf) = cookie_value(headers, self.csrf_name()) else {
            return false;
        };
        let expected = self.form_token(&csrf);
        bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
    }
}

/// The value of the request's cookie `name` (the first, of every `Cookie` header).
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(set: &HeaderValue) -> HeaderMap {
        let pair = set.to_str().unwrap().split(';').next().unwrap().to_string();
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(&pair).unwrap());
        h
    }

    #[test]
    fn a_session_cookie_reads_back_only_with_its_mac_and_key() {
        let key = BrowserKey::derive(&[7; 32], "https://id.example.com");
        let s = BrowserSession {
            user_id: "0b7c-4f".into(),
            session_id: "s-_1".into(),
            amr: vec!["pwd".into(), "otp".into()],
        };
        let set = key.session_cookie(&s, 3600);
        let text = set.to_str().unwrap();
        for attr in [
            "__Host-accounts-session=",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
        ] {
            assert!(text.contains(attr), "{text}");
        }
        assert_eq!(key.session(&with_cookie(&set)), Some(s.clone()));
        // Another key, or one byte changed, reads nothing.
        let other = BrowserKey::derive(&[8; 32], "https://id.example.com");
        assert_eq!(other.session(&with_cookie(&set)), None);
        let forged = text.replacen("0b7c", "0b7d", 1);
        assert_eq!(
            key.session(&with_cookie(&HeaderValue::from_str(&forged).unwrap())),
            None
        );
        // Plain http (local): no prefix, not Secure.
        let local = BrowserKey::derive(&[7; 32], "http://127.0.0.1:3000");
        let text = local.session_cookie(&s, 60).to_str().unwrap().to_string();
        assert!(
            text.starts_with("accounts-session=") && !text.contains("Secure"),
            "{text}"
        );
    }

    #[test]
    fn a_form_token_holds_only_with_its_browsers_cookie() {
        let key = BrowserKey::derive(&[7; 32], "https://id.example.com");
        let (csrf, set) = key.csrf(&HeaderMap::new()).unwrap();
        let headers = with_cookie(&set.unwrap());
        let token = key.form_token(&csrf);
        assert!(key.form_token_holds(&headers, &token));
        assert!(!key.form_token_holds(&HeaderMap::new(), &token));
        assert!(!key.form_token_holds(&headers, &key.form_token("another")));
        // A browser that has one keeps it.
        assert_eq!(key.csrf(&headers).unwrap(), (csrf, None));
    }
}
