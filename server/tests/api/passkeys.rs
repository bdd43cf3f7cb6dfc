//! Passkeys, driven through the HTTP routes by a WebAuthn client and authenticator someone else
//! wrote (1Password's `passkey` crate, with a software authenticator that verifies its user):
//! added with a step-up, listed, renamed, removed; a sign-in with nothing typed and for a
//! username; replays, other origins, other accounts and cloned authenticators refused.

use passkey::authenticator::{
    Authenticator, CredentialStore, DiscoverabilitySupport, StoreInfo, UiHint, UserCheck,
    UserValidationMethod,
};
use passkey::client::{Client, DefaultClientData};
use passkey::crypto::AvailableBackend;
use passkey::types::Passkey;
use passkey::types::ctap2::{Aaguid, Ctap2Error, StatusCode, make_credential};
use passkey::types::webauthn::{
    CredentialCreationOptions, CredentialRequestOptions, PublicKeyCredentialDescriptor,
};
use serde_json::{Value, json};
use url::Url;

use crate::common::*;

/// The harness's relying party is `localhost`, its pages on [`PASSKEY_ORIGIN`].
const ORIGIN: &str = PASSKEY_ORIGIN;

/// The person at the authenticator: present and verified (a fingerprint, a face).
struct Verified;

#[async_trait::async_trait]
impl UserValidationMethod for Verified {
    type PasskeyItem = Passkey;
    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence,
            verification,
        })
    }
    fn is_presence_enabled(&self) -> bool {
        true
    }
    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

/// The passkeys a device holds, found by id or (a discoverable sign-in, with no list of
/// ids) by the RP ID alone, as a phone's or a password manager's are. (The crate's own
/// `MemoryStore` finds them by id only.)
#[derive(Clone, Default)]
struct Store(std::collections::HashMap<Vec<u8>, Passkey>);

#[async_trait::async_trait]
impl CredentialStore for Store {
    type PasskeyItem = Passkey;

    async fn find_credentials(
        &self,
        ids: Option<&[PublicKeyCredentialDescriptor]>,
        rp_id: &str,
        _user_handle: Option<&[u8]>,
    ) -> Result<Vec<Passkey>, StatusCode> {
        let found: Vec<Passkey> = match ids.filter(|ids| !ids.is_empty()) {
            Some(ids) => ids
                .iter()
                .filter_map(|d| self.0.get(&*d.id))
                .cloned()
                .collect(),
            None => self
                .0
                .values()
                .filter(|p| p.rp_id == rp_id)
                .cloned()
                .collect(),
        };
        if found.is_empty() {
            Err(Ctap2Error::NoCredentials.into())
        } else {
            Ok(found)
        }
    }

    async fn save_credential(
        &mut self,
        cred: Passkey,
        _user: make_credential::PublicKeyCredentialUserEntity,
        _rp: make_credential::PublicKeyCredentialRpEntity,
        _options: make_credential::Options,
    ) -> Result<(), StatusCode> {
        self.0.insert(cred.credential_id.to_vec(), cred);
        Ok(())
    }

    async fn update_credential(&mut self, cred: &Passkey) -> Result<(), StatusCode> {
        self.0.insert(cred.credential_id.to_vec(), cred.clone());
        Ok(())
    }

    async fn get_info(&self) -> StoreInfo {
        StoreInfo {
            discoverability: DiscoverabilitySupport::Full,
        }
    }
}

/// A device that holds passkeys, and the browser that runs the ceremonies on `origin`.
pub(crate) struct Device {
    client: Client<Store, Verified, AvailableBackend, public_suffix::PublicSuffixList, ()>,
    origin: Url,
}

impl Device {
    pub(crate) fn new(origin: &str, counting: bool) -> Device {
        Device::with_store(origin, counting, Store::default())
    }

    fn with_store(origin: &str, counting: bool, store: Store) -> Device {
        let mut authenticator =
            Authenticator::new(Aaguid::new_empty(), store, Verified, AvailableBackend);
        authenticator.set_make_credentials_with_signature_counter(counting);
        Device {
            client: Client::new(authenticator).allows_insecure_localhost(true),
            origin: Url::parse(origin).unwrap(),
        }
    }

    /// A copy of everything it holds (a cloned authenticator).
    fn cloned(&self, origin: &str) -> Device {
        Device::with_store(origin, true, self.client.authenticator().store().clone())
    }

    /// `navigator.credentials.create()` for the options the service answered; its JSON form.
    pub(crate) async fn create(&mut self, options: &Value) -> Value {
        let options: CredentialCreationOptions =
            serde_json::from_value(json!({"publicKey": options["publicKey"]})).unwrap();
        let created = self
            .client
            .register(&self.origin, options, DefaultClientData)
            .await
            .unwrap();
        serde_json::to_value(created).unwrap()
    }

    /// `navigator.credentials.get()` for the options the service answered; its JSON form.
    pub(crate) async fn get(&mut self, options: &Value) -> Value {
        let options: CredentialRequestOptions =
            serde_json::from_value(json!({"publicKey": options["publicKey"]})).unwrap();
        let got = self
            .client
            .authenticate(&self.origin, options, DefaultClientData)
            .await
            .unwrap();
        serde_json::to_value(got).unwrap()
    }
}

/// Adds a passkey to `username`'s account through the routes; its id.
pub(crate) async fn add(
    s: &Server,
    token: &str,
    username: &str,
    device: &mut Device,
    name: &str,
) -> String {
    let options = s
        .post(
            &format!("/user/{username}/passkeys/options"),
            Some(token),
            json!({"password": PASSWORD}),
        )
        .await
        .expect(200, None);
    let credential = device.create(&options).await;
    let added = s
        .post(
            &format!("/user/{username}/passkeys"),
            Some(token),
            json!({"name": name, "credential": credential}),
        )
        .await
        .expect(201, None);
    added["id"].as_str().unwrap().to_string()
}

/// A sign-in through the routes: the options (`{}` or `{"username"}`), the device's assertion,
/// and the answer.
async fn sign_in(s: &Server, device: &mut Device, asked: Value) -> Reply {
    let options = s
        .post("/auth/passkey/options", None, asked)
        .await
        .expect(200, None);
    let assertion = device.get(&options).await;
    s.post(
        "/auth/passkey",
        None,
        json!({"passkey_token": options["passkey_token"], "credential": assertion}),
    )
    .await
}

#[tokio::test]
async fn a_passkey_is_added_with_a_step_up_and_signs_in_with_nothing_typed() {
    let s = Server::start().await;
    let token = s.user("pia").await;
    let mut laptop = Device::new(ORIGIN, false);
    // The options need the password (a fresh password-only sign-in is not enough).
    s.post("/user/pia/passkeys/options", Some(&token), json!({}))
        .await
        .expect(403, Some("step_up_required"));
    s.post(
        "/user/pia/passkeys/options",
        Some(&token),
        json!({"password": "not the password"}),
    )
    .await
    .expect(401, Some("invalid_credentials"));
    let options = s
        .post(
            "/user/pia/passkeys/options",
            Some(&token),
            json!({"password": PASSWORD}),
        )
        .await
        .expect(200, None);
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rp"]["id"], "localhost");
    assert_eq!(public_key["user"]["name"], "pia");
    let selection = &public_key["authenticatorSelection"];
    assert_eq!(selection["userVerification"], "required");
    assert_eq!(selection["residentKey"], "preferred");
    assert_eq!(public_key["attestation"], "none");
    // Another account cannot add to this one, with its own token or with this one's options.
    let other = s.user("ole").await;
    s.post(
        "/user/pia/passkeys/options",
        Some(&other),
        json!({"password": PASSWORD}),
    )
    .await
    .expect(403, Some("forbidden"));
    let credential = laptop.create(&options).await;
    s.post(
        "/user/ole/passkeys",
        Some(&other),
        json!({"name": "Stolen", "credential": credential}),
    )
    .await
    .expect(400, Some("invalid_passkey"));
    // The owner adds it, once: the options are spent.
    let added = s
        .post(
            "/user/pia/passkeys",
            Some(&token),
            json!({"name": "Laptop", "credential": credential}),
        )
        .await
        .expect(201, None);
    assert_eq!(added["name"], "Laptop");
    let id = added["id"].as_str().unwrap().to_string();
    s.post(
        "/user/pia/passkeys",
        Some(&token),
        json!({"name": "Again", "credential": credential}),
    )
    .await
    .expect(400, Some("invalid_passkey"));
    // Listed without a key; renamed.
    let listed = s
        .get("/user/pia/passkeys", Some(&token))
        .await
        .expect(200, None);
    let passkeys = listed["passkeys"].as_array().unwrap();
    assert_eq!(passkeys.len(), 1);
    let mut keys: Vec<&String> = passkeys[0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["created_at", "id", "last_used_at", "name"],
        "{listed}"
    );
    assert_eq!(passkeys[0]["last_used_at"], Value::Null);
    s.put(
        &format!("/user/pia/passkeys/{id}"),
        Some(&token),
        json!({"name": "Phone"}),
    )
    .await
    .expect(200, None);
    s.put(
        &format!("/user/pia/passkeys/{id}"),
        Some(&token),
        json!({"name": ""}),
    )
    .await
    .expect(400, Some("validation_failed"));
    s.put(
        "/user/pia/passkeys/nope",
        Some(&token),
        json!({"name": "X"}),
    )
    .await
    .expect(404, Some("passkey_not_found"));
    // A sign-in with nothing typed: two factors in one.
    let signed_in = sign_in(&s, &mut laptop, json!({})).await.expect(200, None);
    let claims = jwt_part(signed_in["token"].as_str().unwrap(), 1);
    assert_eq!(claims["amr"], json!(["hwk", "mfa"]));
    assert_eq!(claims["acr"], "aal2");
    s.get("/user/pia", Some(signed_in["token"].as_str().unwrap()))
        .await
        .expect(200, None);
    let listed = s
        .get("/user/pia/passkeys", Some(&token))
        .await
        .expect(200, None);
    assert_eq!(listed["passkeys"][0]["name"], "Phone");
    assert!(
        listed["passkeys"][0]["last_used_at"].is_string(),
        "{listed}"
    );
    // For a username: the account's own passkey only; the answer is the same for no account.
    sign_in(&s, &mut laptop, json!({"username": "PIA"}))
        .await
        .expect(200, None);
    sign_in(&s, &mut laptop, json!({"username": "ole"}))
        .await
        .expect(401, Some("invalid_credentials"));
    sign_in(&s, &mut laptop, json!({"username": "nobody"}))
        .await
        .expect(401, Some("invalid_credentials"));
    // A ceremony answers once.
    let options = s
        .post("/auth/passkey/options", None, json!({}))
        .await
        .expect(200, None);
    let assertion = laptop.get(&options).await;
    let answer = json!({"passkey_token": options["passkey_token"], "credential": assertion});
    s.post("/auth/passkey", None, answer.clone())
        .await
        .expect(200, None);
    s.post("/auth/passkey", None, answer)
        .await
        .expect(401, Some("invalid_credentials"));
    // Removed (no second factor on: no code asked); it signs in no more.
    s.delete(&format!("/user/pia/passkeys/{id}"), Some(&token))
        .await
        .expect(204, None);
    s.delete(&format!("/user/pia/passkeys/{id}"), Some(&token))
        .await
        .expect(404, Some("passkey_not_found"));
    sign_in(&s, &mut laptop, json!({}))
        .await
        .expect(401, Some("invalid_credentials"));
    let events = s
        .get("/user/pia/events", Some(&token))
        .await
        .expect(200, None);
    let types: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in ["passkey_added", "passkey_used", "passkey_removed"] {
        assert!(types.contains(&t), "{t}: {types:?}");
    }
}

#[tokio::test]
async fn another_origin_a_cloned_authenticator_and_a_deactivated_account_are_refused() {
    let s = Server::start().await;
    let token = s.user("quin").await;
    let admin = s.admin("ada").await;
    let mut phone = Device::new(ORIGIN, true);
    add(&s, &token, "quin", &mut phone, "Phone").await;
    // A page on another origin (a phishing page on a look-alike host) gets nowhere.
    let options = s
        .post(
            "/user/quin/passkeys/options",
            Some(&token),
            json!({"password": PASSWORD}),
        )
        .await
        .expect(200, None);
    let mut elsewhere = Device::new("http://localhost:4000", true);
    let credential = elsewhere.create(&options).await;
    s.post(
        "/user/quin/passkeys",
        Some(&token),
        json!({"name": "Elsewhere", "credential": credential}),
    )
    .await
    .expect(400, Some("invalid_passkey"));
    let mut phishing = phone.cloned("http://localhost:4000");
    sign_in(&s, &mut phishing, json!({}))
        .await
        .expect(401, Some("invalid_credentials"));
    // A copy of the authenticator: once the original has signed in, the copy's counter is
    // behind, and it is refused and recorded.
    let mut copy = phone.cloned(ORIGIN);
    sign_in(&s, &mut phone, json!({})).await.expect(200, None);
    sign_in(&s, &mut copy, json!({}))
        .await
        .expect(401, Some("invalid_credentials"));
    let events = s
        .get("/user/quin/events", Some(&token))
        .await
        .expect(200, None);
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "passkey_counter_regressed"),
        "{events}"
    );
    // The original still signs in.
    sign_in(&s, &mut phone, json!({})).await.expect(200, None);
    // An admin lists them; a deactivated account's passkey signs in no more.
    let listed = s
        .get("/user/quin/passkeys", Some(&admin))
        .await
        .expect(200, None);
    assert_eq!(listed["passkeys"].as_array().unwrap().len(), 1);
    s.put("/user/quin", Some(&admin), json!({"activated": false}))
        .await
        .expect(200, None);
    sign_in(&s, &mut phone, json!({}))
        .await
        .expect(401, Some("invalid_credentials"));
}

#[tokio::test]
async fn without_a_relying_party_passkeys_are_off() {
    // The base URL's host is an IP address, and no RP ID is set: off, with a clear answer.
    let s = Server::start_with(&[("WEBAUTHN_RP_ID", ""), ("WEBAUTHN_ORIGINS", "")]).await;
    s.post("/auth/passkey/options", None, json!({}))
        .await
        .expect(503, Some("passkeys_unavailable"));
    let token = s.user("ray").await;
    s.post(
        "/user/ray/passkeys/options",
        Some(&token),
        json!({"password": PASSWORD}),
    )
    .await
    .expect(503, Some("passkeys_unavailable"));
    s.get("/user/ray/passkeys", Some(&token))
        .await
        .expect(200, None);
}

#[tokio::test]
async fn a_passkey_stands_in_for_the_second_factor_and_its_sign_in_is_a_step_up() {
    let s = Server::start().await;
    let enrolled = crate::mfa::enrolled(&s, "sol").await;
    let mut phone = Device::new(ORIGIN, true);
    let id = add(&s, &enrolled.token, "sol", &mut phone, "Phone").await;
    let added = s
        .mails()
        .into_iter()
        .filter(|m| m["to"] == email("sol"))
        .any(|m| m["subject"] == "A passkey was added" && m["text"].to_string().contains("Phone"));
    assert!(added, "a notice of the passkey added");
    // The password's login offers the passkey at its second step ...
    let first = s
        .post(
            "/auth",
            None,
            json!({"username": "sol", "password": PASSWORD}),
        )
        .await
        .expect(200, None);
    assert_eq!(
        first["methods"],
        json!(["totp", "recovery_code", "passkey"])
    );
    let mfa_token = first["mfa_token"].as_str().unwrap();
    // ... whose options name the account's passkeys (no passkey_token: the mfa_token names it).
    let options = s
        .post(
            "/auth/passkey/options",
            None,
            json!({"mfa_token": mfa_token}),
        )
        .await
        .expect(200, None);
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(options.get("passkey_token").is_none(), "{options}");
    let assertion = phone.get(&options).await;
    let signed_in = crate::mfa::second_step(&s, mfa_token, json!({"credential": assertion}))
        .await
        .expect(200, None);
    let claims = jwt_part(signed_in["token"].as_str().unwrap(), 1);
    assert_eq!(claims["amr"], json!(["pwd", "hwk"]));
    assert_eq!(claims["acr"], "aal2");
    // The same assertion again, for a new login's token: refused (its ceremony is not that one).
    let again = crate::mfa::first_step_token(&s, "sol").await;
    crate::mfa::second_step(&s, &again, json!({"credential": assertion}))
        .await
        .expect(400, Some("invalid_mfa_code"));
    // A code and a credential at once: which? Neither.
    crate::mfa::second_step(
        &s,
        &again,
        json!({"credential": assertion, "code": "123456"}),
    )
    .await
    .expect(400, Some("validation_failed"));
    // A passkey alone signs in with both factors: no code asked.
    let by_passkey = sign_in(&s, &mut phone, json!({})).await.expect(200, None);
    let token = by_passkey["token"].as_str().unwrap();
    assert_eq!(jwt_part(token, 1)["acr"], "aal2");
    // That sign-in is a step-up for 10 minutes: the factor goes off without a code ...
    s.clock.advance(60);
    s.delete("/user/sol/mfa", Some(token))
        .await
        .expect(204, None);
    // ... and, past them, a passkey's removal asks again (no factor now: nothing to ask).
    s.clock.advance(600);
    s.delete(&format!("/user/sol/passkeys/{id}"), Some(token))
        .await
        .expect(204, None);
    let removed = s
        .mails()
        .into_iter()
        .filter(|m| m["to"] == email("sol"))
        .any(|m| m["subject"] == "A passkey was removed");
    assert!(removed, "a notice of the passkey removed");
}

#[tokio::test]
async fn the_step_up_of_a_removal_asks_a_code_of_an_account_with_a_factor() {
    let s = Server::start().await;
    let enrolled = crate::mfa::enrolled(&s, "tam").await;
    let mut phone = Device::new(ORIGIN, false);
    let id = add(&s, &enrolled.token, "tam", &mut phone, "Phone").await;
    // The enrolment's token is a password sign-in (aal1): a code is asked.
    s.delete(&format!("/user/tam/passkeys/{id}"), Some(&enrolled.token))
        .await
        .expect(403, Some("step_up_required"));
    let code = crate::mfa::code_at(&enrolled.secret, s.clock.now());
    let r = s
        .call(
            reqwest::Method::DELETE,
            &format!("/user/tam/passkeys/{id}"),
            Some(&enrolled.token),
            Some(json!({ "code": code })),
        )
        .await;
    r.expect(204, None);
    // An admin removes another's without one; a non-admin may not.
    let id = add(&s, &enrolled.token, "tam", &mut phone, "Phone 2").await;
    let other = s.user("uma").await;
    s.delete(&format!("/user/tam/passkeys/{id}"), Some(&other))
        .await
        .expect(403, Some("forbidden"));
    let admin = s.admin("ada").await;
    s.delete(&format!("/user/tam/passkeys/{id}"), Some(&admin))
        .await
        .expect(204, None);
}

/// Options as an attacker's client changes them before its authenticator answers.
fn tampered(options: &Value, member: &str, value: Value) -> Value {
    let mut options = options.clone();
    options["publicKey"][member] = value;
    options
}

#[tokio::test]
async fn no_user_verification_another_rp_id_an_expired_or_raced_ceremony_get_nothing() {
    // (An authenticator holds no key of this service for another RP ID: a sign-in for one is
    // an unknown credential, refused as any is; another origin is tested above.)
    let s = Server::start().await;
    let token = s.user("vic").await;
    let listed = || async {
        s.get("/user/vic/passkeys", Some(&token))
            .await
            .expect(200, None)["passkeys"]
            .as_array()
            .unwrap()
            .len()
    };
    let creation = || async {
        s.post(
            "/user/vic/passkeys/options",
            Some(&token),
            json!({"password": PASSWORD}),
        )
        .await
        .expect(200, None)
    };
    let add_with = |device_origin: &'static str, options: Value| {
        let s = &s;
        let token = token.clone();
        async move {
            let mut device = Device::new(device_origin, false);
            let credential = device.create(&options).await;
            s.post(
                "/user/vic/passkeys",
                Some(&token),
                json!({"name": "X", "credential": credential}),
            )
            .await
        }
    };
    // An authenticator that did not verify its user (the client asked it not to).
    let options = creation().await;
    let mut selection = options["publicKey"]["authenticatorSelection"].clone();
    selection["userVerification"] = json!("discouraged");
    let unverified = tampered(&options, "authenticatorSelection", selection);
    add_with(ORIGIN, unverified)
        .await
        .expect(400, Some("invalid_passkey"));
    // A credential made for another RP ID (on its own origin, as its page would).
    let options = creation().await;
    let mut rp = options["publicKey"]["rp"].clone();
    rp["id"] = json!("other.example");
    add_with("https://other.example", tampered(&options, "rp", rp))
        .await
        .expect(400, Some("invalid_passkey"));
    // Options past their 5 minutes.
    let options = creation().await;
    s.clock.advance(301);
    add_with(ORIGIN, options)
        .await
        .expect(400, Some("invalid_passkey"));
    assert_eq!(listed().await, 0, "nothing stored");

    let mut phone = Device::new(ORIGIN, true);
    add(&s, &token, "vic", &mut phone, "Phone").await;
    let sign_in_options = || async {
        s.post("/auth/passkey/options", None, json!({}))
            .await
            .expect(200, None)
    };
    let answer = |options: &Value, credential: Value| json!({"passkey_token": options["passkey_token"], "credential": credential});
    // No user verification.
    let options = sign_in_options().await;
    let assertion = phone
        .get(&tampered(
            &options,
            "userVerification",
            json!("discouraged"),
        ))
        .await;
    s.post("/auth/passkey", None, answer(&options, assertion))
        .await
        .expect(401, Some("invalid_credentials"));
    // Expired.
    let options = sign_in_options().await;
    let assertion = phone.get(&options).await;
    s.clock.advance(301);
    s.post("/auth/passkey", None, answer(&options, assertion))
        .await
        .expect(401, Some("invalid_credentials"));
    // Two answers of one ceremony at once: one signs in.
    let options = sign_in_options().await;
    let assertion = phone.get(&options).await;
    let body = answer(&options, assertion);
    let (a, b) = tokio::join!(
        s.post("/auth/passkey", None, body.clone()),
        s.post("/auth/passkey", None, body)
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 401]);
    // Nothing of the refusals was kept as a use: one use per sign-in that got in.
    let events = s
        .get("/user/vic/events", Some(&token))
        .await
        .expect(200, None);
    let used = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "passkey_used")
        .count();
    assert_eq!(used, 1, "{events}");
}
