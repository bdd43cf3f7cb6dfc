//! Credentials as a kind: the ways an account proves itself beside its password
//! ([`Method`]), what a request presents ([`Proof`]), which methods a login's second step
//! offers (from what the account has), and what tokens say of a sign-in (`amr`, RFC 8176, and
//! `acr`). The login's second step and the step-up take a [`Proof`], not a code string: a new
//! kind of credential (a passkey, a mailed code) is a new variant here and a new arm where a
//! proof is checked.

use serde::Serialize;

use crate::store::TotpFactor;

/// A way to prove oneself at a login's second step or a step-up; serialized as the API names
/// it (`totp`, `recovery_code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A code of the account's authenticator app (RFC 6238).
    Totp,
    /// One of the account's recovery codes, each working once.
    RecoveryCode,
    /// One of the account's passkeys (WebAuthn), its user verified on the device.
    Passkey,
}

impl Method {
    /// What a sign-in with it adds to `amr` (RFC 8176): a recovery code is a one-time code too.
    pub const fn amr(self) -> &'static str {
        match self {
            Method::Totp | Method::RecoveryCode => "otp",
            Method::Passkey => "hwk",
        }
    }
}

/// A credential a request presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    Password(String),
    Totp(String),
    RecoveryCode(String),
    /// A passkey's assertion (`navigator.credentials.get()`'s answer, its JSON form).
    Passkey(Box<serde_json::Value>),
}

impl Proof {
    /// The method it proves, if it is a second factor (a password is the first).
    pub const fn method(&self) -> Option<Method> {
        match self {
            Proof::Password(_) => None,
            Proof::Totp(_) => Some(Method::Totp),
            Proof::RecoveryCode(_) => Some(Method::RecoveryCode),
            Proof::Passkey(_) => Some(Method::Passkey),
        }
    }
}

/// What a login's second step offers an account whose factor is `totp`: its app's codes, its
/// recovery codes, and its passkeys when it has some; nothing when the factor is not on (a
/// login then needs no second step: a passkey alone signs in with two factors).
pub fn second_step_methods(totp: Option<&TotpFactor>, has_passkeys: bool) -> Vec<Method> {
    match totp {
        Some(f) if f.enabled => {
            let mut methods = vec![Method::Totp, Method::RecoveryCode];
            if has_passkeys {
                methods.push(Method::Passkey);
            }
            methods
        }
        _ => vec![],
    }
}

/// The `amr` of a sign-in: the password (`pwd`), and the second factor's when one was proved.
pub fn amr(second: Option<Method>) -> Vec<String> {
    amr_after(PASSWORD_AMR, second)
}

/// What `amr` says of a password.
pub const PASSWORD_AMR: &str = "pwd";

/// What `amr` says of a code mailed to the account's address: `email` (RFC 8176 registers no
/// value for it; `otp` would read as a second factor, which it is not).
pub const EMAIL_CODE_AMR: &str = "email";

/// The `amr` of a sign-in whose first step was `first` ([`PASSWORD_AMR`] or
/// [`EMAIL_CODE_AMR`]), and its second factor's when one was proved.
pub fn amr_after(first: &str, second: Option<Method>) -> Vec<String> {
    std::iter::once(first)
        .chain(second.map(Method::amr))
        .map(str::to_string)
        .collect()
}

/// The `amr` of a sign-in with a passkey (RFC 8176): proof of possession of a key (`hwk`),
/// its use allowed by the person verified on the device (a fingerprint, a face, a PIN): two
/// factors (`mfa`).
pub fn passkey_amr() -> Vec<String> {
    vec!["hwk".to_string(), "mfa".to_string()]
}

/// The assurance levels (`acr`) of a sign-in: the password alone, and with a second factor.
pub const AAL1: &str = "aal1";
pub const AAL2: &str = "aal2";

/// The assurance level of a sign-in from its `amr`: [`AAL2`] with a second factor (or a
/// passkey, two in one), else
/// [`AAL1`].
pub fn acr(amr: &[String]) -> &'static str {
    let second = [Method::Totp, Method::RecoveryCode, Method::Passkey].map(Method::amr);
    if amr.iter().any(|m| second.contains(&m.as_str())) {
        AAL2
    } else {
        AAL1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factor(enabled: bool) -> TotpFactor {
        TotpFactor {
            user_id: "u1".into(),
            sealed_secret: "s".into(),
            enabled,
            pending_until: 0,
            last_step: 0,
            recovery: vec![],
            signed_in: false,
        }
    }

    #[test]
    fn the_second_step_offers_what_the_account_has() {
        assert_eq!(second_step_methods(None, false), vec![]);
        assert_eq!(second_step_methods(None, true), vec![], "a passkey alone");
        assert_eq!(second_step_methods(Some(&factor(false)), true), vec![]);
        assert_eq!(
            second_step_methods(Some(&factor(true)), false),
            vec![Method::Totp, Method::RecoveryCode]
        );
        let names = serde_json::to_value(second_step_methods(Some(&factor(true)), true)).unwrap();
        assert_eq!(
            names,
            serde_json::json!(["totp", "recovery_code", "passkey"])
        );
    }

    #[test]
    fn amr_and_acr_follow_what_was_proved() {
        assert_eq!(amr(None), ["pwd"]);
        assert_eq!(acr(&amr(None)), "aal1");
        for method in [Method::Totp, Method::RecoveryCode] {
            assert_eq!(amr(Some(method)), ["pwd", "otp"]);
            assert_eq!(acr(&amr(Some(method))), "aal2");
        }
        assert_eq!(amr(Some(Method::Passkey)), ["pwd", "hwk"]);
        assert_eq!(acr(&amr(Some(Method::Passkey))), "aal2");
        assert_eq!(acr(&passkey_amr()), "aal2");
        assert_eq!(Proof::Password("p".into()).method(), None);
        assert_eq!(
            Proof::RecoveryCode("r".into()).method(),
            Some(Method::RecoveryCode)
        );
    }
}
