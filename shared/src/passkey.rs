//! The WebAuthn relying party (webauthn-rs): its ID (`WEBAUTHN_RP_ID`, default the host of
//! `PUBLIC_BASE_URL`) and the origins allowed to run its ceremonies (`WEBAUTHN_ORIGINS`,
//! default the origin of `PUBLIC_BASE_URL`). Passkeys are user-verified (a fingerprint, a face,
//! a device PIN), need no attestation, and their signature counter must not go back.
//!
//! A host that cannot be an RP ID (an IP address such as `127.0.0.1`) leaves passkeys off,
//! with a notice, unless `WEBAUTHN_RP_ID` is set: start-up never fails for that reason.

use url::Url;
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// A setting the relying party cannot be made from: which, and why (the configuration names
/// it at start-up; this module knows no configuration).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var} is invalid: {reason}")]
pub struct SettingError {
    pub var: &'static str,
    pub reason: String,
}

/// The relying party, and its ID.
pub struct RelyingParty {
    pub webauthn: Webauthn,
    pub rp_id: String,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("rp_id", &self.rp_id)
            .finish_non_exhaustive()
    }
}

/// Whether `host` may be an RP ID: a domain name (not an IP address), lower case.
fn is_domain(host: &str) -> bool {
    !host.is_empty()
        && host.parse::<std::net::IpAddr>().is_err()
        && !host.starts_with('[')
        && host
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
        && host
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

/// The relying party the settings describe: `None` (passkeys off) when `WEBAUTHN_RP_ID` is not
/// set and the base URL's host cannot be one.
pub fn relying_party(
    rp_id: Option<&str>,
    origins: &[String],
    public_base_url: &str,
    rp_name: &str,
) -> Result<Option<RelyingParty>, SettingError> {
    let invalid = |var: &'static str, reason: String| SettingError { var, reason };
    let base = Url::parse(public_base_url).ok();
    let base_host = base.as_ref().and_then(|u| u.host_str()).unwrap_or("");
    let rp_id = match rp_id.map(str::trim) {
        Some(id) if is_domain(id) => id.to_string(),
        Some(id) => {
            return Err(invalid(
                "WEBAUTHN_RP_ID",
                format!("{id:?} is not a domain name (lower case, no scheme, port or IP address)"),
            ));
        }
        None if is_domain(base_host) => base_host.to_string(),
        None => {
            tracing::info!(
                host = base_host,
                "passkeys are off: the host of PUBLIC_BASE_URL cannot be a WebAuthn RP ID \
                 (an IP address); set WEBAUTHN_RP_ID (and WEBAUTHN_ORIGINS), or use a name \
                 such as localhost"
            );
            return Ok(None);
        }
    };
    let origins: Vec<Url> = if origins.is_empty() {
        match &base {
            Some(b) => vec![
                Url::parse(&b.origin().ascii_serialization())
                    .map_err(|e| invalid("PUBLIC_BASE_URL", format!("no origin: {e}")))?,
            ],
            None => {
                return Err(invalid(
                    "PUBLIC_BASE_URL",
                    "is not set: the passkeys' default origin".into(),
                ));
            }
        }
    } else {
        origins
            .iter()
            .map(|o| Url::parse(o).map_err(|e| invalid("WEBAUTHN_ORIGINS", format!("{o:?}: {e}"))))
            .collect::<Result<_, _>>()?
    };
    for origin in &origins {
        let host = origin.host_str().unwrap_or("");
        let under_rp = host == rp_id || host.ends_with(&format!(".{rp_id}"));
        let secure =
            origin.scheme() == "https" || (origin.scheme() == "http" && host == "localhost");
        let bare = origin.path() == "/" && origin.query().is_none() && origin.fragment().is_none();
        if !(under_rp && secure && bare) {
            return Err(invalid(
                "WEBAUTHN_ORIGINS",
                format!(
                    "{origin}: each origin must be https:// (http:// on localhost only), with no \
                     path, on {rp_id} or a subdomain of it"
                ),
            ));
        }
    }
    let mut builder = WebauthnBuilder::new(&rp_id, &origins[0])
        .map_err(|e| invalid("WEBAUTHN_ORIGINS", e.to_string()))?
        .rp_name(rp_name);
    for origin in &origins[1..] {
        builder = builder.append_allowed_origin(origin);
    }
    let webauthn = builder
        .build()
        .map_err(|e| invalid("WEBAUTHN_RP_ID", e.to_string()))?;
    Ok(Some(RelyingParty { webauthn, rp_id }))
}

/// `WEBAUTHN_ORIGINS`: a comma-separated list (empty: none given).
pub fn parse_origins(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_string())
        .filter(|o| !o.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(id: Option<&str>, origins: &[&str], base: &str) -> Result<Option<String>, String> {
        let origins: Vec<String> = origins.iter().map(|o| o.to_string()).collect();
        relying_party(id, &origins, base, "Accounts")
            .map(|r| r.map(|r| r.rp_id))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_rp_id_comes_from_the_base_url_unless_it_is_an_ip_address() {
        assert_eq!(
            rp(None, &[], "https://id.example.com"),
            Ok(Some("id.example.com".into()))
        );
        assert_eq!(
            rp(None, &[], "http://localhost:3000"),
            Ok(Some("localhost".into()))
        );
        assert_eq!(rp(None, &[], "http://127.0.0.1:3000"), Ok(None), "off");
        assert_eq!(rp(None, &[], "http://[::1]:3000"), Ok(None), "off");
        assert_eq!(
            rp(
                Some("localhost"),
                &["http://localhost:3000"],
                "http://127.0.0.1:3000"
            ),
            Ok(Some("localhost".into()))
        );
        assert_eq!(
            rp(
                Some("example.com"),
                &["https://id.example.com", "https://app.example.com"],
                "https://id.example.com"
            ),
            Ok(Some("example.com".into()))
        );
    }

    #[test]
    fn a_bad_rp_id_or_origin_is_a_clear_start_up_error() {
        for (id, origins, base) in [
            (Some("127.0.0.1"), vec![], "http://127.0.0.1:3000"),
            (Some("https://example.com"), vec![], "https://example.com"),
            (Some("Example.com"), vec![], "https://example.com"),
            (
                Some("example.com"),
                vec!["https://evil.com"],
                "https://example.com",
            ),
            (
                Some("example.com"),
                vec!["http://example.com"],
                "https://example.com",
            ),
            (
                Some("example.com"),
                vec!["https://example.com/path"],
                "https://example.com",
            ),
            (
                Some("example.com"),
                vec!["https://notexample.com"],
                "https://example.com",
            ),
            (
                Some("example.com"),
                vec!["not a url"],
                "https://example.com",
            ),
        ] {
            let err = rp(id, &origins, base).expect_err(&format!("{id:?} {origins:?}"));
            assert!(err.contains("WEBAUTHN_"), "{err}");
        }
    }

    #[test]
    fn origins_are_a_comma_separated_list() {
        assert_eq!(
            parse_origins(" https://a.example.com/, https://b.example.com ,,"),
            ["https://a.example.com", "https://b.example.com"]
        );
        assert!(parse_origins(" ").is_empty());
    }
}
