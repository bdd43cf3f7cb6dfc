//! OAuth clients: the apps that will sign their people in through this service (the OpenID
//! Connect provider). An admin registers one (`POST /oauth/clients`), or the operator
//! (`accounts add-client`); admins list and remove them. A confidential client's secret is shown
//! once, at registration, and kept only as its SHA-256.

use serde::{Deserialize, Serialize};
use url::{Host, Url};
use utoipa::ToSchema;

use crate::account_event::Actor;
use crate::auth::Auth;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, Event, EventType};
use crate::input::{Field, Validate, required_string};
use crate::secret::{random_token, token_hash};
use crate::state::AppState;
use crate::store::{ClientAdded, OAuthClient};

/// The longest name a client may have (it is shown on the consent page).
pub const MAX_CLIENT_NAME_CHARS: usize = 100;
/// The most redirect URIs (and, apart, post-logout redirect URIs) a client may register.
pub const MAX_REDIRECT_URIS: usize = 10;
/// The longest redirect URI.
pub const MAX_URI_CHARS: usize = 2000;
/// The scopes a client may be allowed to ask for.
pub const CLIENT_SCOPES: [&str; 5] = ["openid", "profile", "email", "widgets", "admin"];
/// A client's scopes when its registration names none.
pub const DEFAULT_CLIENT_SCOPES: [&str; 3] = ["openid", "profile", "email"];
/// A client id: 128 random bits, base64url.
const CLIENT_ID_CHARS: usize = 22;

/// Whether `uri` may be registered as a redirect URI: an absolute `https` URL, or `http` on a
/// loopback host (`127.0.0.1`, `[::1]`, `localhost`: an app on the person's own machine, RFC
/// 8252 section 7.3), without a fragment (RFC 6749 section 3.1.2) or user information, with no
/// space or control character, at most [`MAX_URI_CHARS`]. It is kept as given and matched
/// exactly.
pub fn valid_redirect_uri(uri: &str) -> bool {
    if uri.len() > MAX_URI_CHARS || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Ok(url) = Url::parse(uri) else {
        return false;
    };
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(Host::Ipv6(ip))) => ip.is_loopback(),
        ("http", Some(Host::Domain(d))) => d.eq_ignore_ascii_case("localhost"),
        _ => false,
    }
}

fn fail(message: &str) -> garde::Result {
    Err(garde::Error::new(message))
}

fn client_name<C>(name: &Field<String>, _: &C) -> garde::Result {
    match name.given() {
        Some(n) if n.trim().is_empty() => fail("must not be empty"),
        Some(n) if n.chars().count() > MAX_CLIENT_NAME_CHARS => fail(&format!(
            "must be at most {MAX_CLIENT_NAME_CHARS} characters"
        )),
        Some(n) if n.chars().any(char::is_control) => fail("must not hold control characters"),
        _ => Ok(()),
    }
}

const URI_RULE: &str = "must be https URLs, or http on a loopback host (127.0.0.1, [::1], \
                        localhost), without a fragment";

fn redirect_uri_rule<C>(uris: &Field<Vec<String>>, _: &C) -> garde::Result {
    match uris {
        Field::Missing => fail("is required"),
        Field::Wrong => fail("must be a list of strings"),
        Field::Given(list) if list.is_empty() => fail("must hold at least one URI"),
        Field::Given(list) => uri_list(list),
    }
}

fn post_logout_uris<C>(uris: &Field<Vec<String>>, _: &C) -> garde::Result {
    match uris {
        Field::Missing => Ok(()),
        Field::Wrong => fail("must be a list of strings"),
        Field::Given(list) => uri_list(list),
    }
}

fn uri_list(list: &[String]) -> garde::Result {
    if list.len() > MAX_REDIRECT_URIS {
        return fail(&format!("must hold at most {MAX_REDIRECT_URIS} URIs"));
    }
    if !list.iter().all(|u| valid_redirect_uri(u)) {
        return fail(URI_RULE);
    }
    Ok(())
}

fn scope_rule<C>(scopes: &Field<Vec<String>>, _: &C) -> garde::Result {
    match scopes {
        Field::Missing => Ok(()),
        Field::Wrong => fail("must be a list of strings"),
        Field::Given(list) if list.iter().all(|s| CLIENT_SCOPES.contains(&s.as_str())) => Ok(()),
        Field::Given(_) => fail(&format!("must be among {}", CLIENT_SCOPES.join(", "))),
    }
}

fn flag<C>(flag: &Field<bool>, _: &C) -> garde::Result {
    match flag {
        Field::Wrong => fail("must be true or false"),
        _ => Ok(()),
    }
}

/// `POST /oauth/clients` (and `accounts add-client`): the app's name, where it may be sent
/// back to, what it may ask for, and whether it is public or first-party.
#[derive(Debug, Default, Deserialize, garde::Validate, ToSchema)]
#[schema(as = ClientRequest)]
pub struct ClientBody {
    /// The app's name, shown to people on the consent page.
    #[serde(default)]
    #[garde(custom(required_string), custom(client_name))]
    #[schema(value_type = String, required, min_length = 1, max_length = 100)]
    pub name: Field<String>,
    /// Where the app may be sent back to after a sign-in: https, or http on a loopback host;
    /// matched exactly.
    #[serde(default)]
    #[garde(custom(redirect_uri_rule))]
    #[schema(value_type = Vec<String>, required, min_items = 1, max_items = 10)]
    pub redirect_uris: Field<Vec<String>>,
    /// Where the app may be sent back to after a sign-out.
    #[serde(default)]
    #[garde(custom(post_logout_uris))]
    #[schema(value_type = Vec<String>, max_items = 10)]
    pub post_logout_redirect_uris: Field<Vec<String>>,
    /// What it may ask for: among `openid`, `profile`, `email`, `widgets`, `admin`
    /// (`openid profile email` when left out).
    #[serde(default)]
    #[garde(custom(scope_rule))]
    #[schema(value_type = Vec<String>)]
    pub scopes: Field<Vec<String>>,
    /// A single-page or native app, which cannot keep a secret: it gets none and must use
    /// PKCE.
    #[serde(default)]
    #[garde(custom(flag))]
    #[schema(value_type = bool)]
    pub public: Field<bool>,
    /// The deployment's own app: the people who sign in are not asked for consent.
    #[serde(default)]
    #[garde(custom(flag))]
    #[schema(value_type = bool)]
    pub first_party: Field<bool>,
}

/// A registration whose members hold.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub public: bool,
    pub first_party: bool,
}

impl Validate for ClientBody {
    type Command = NewClient;
    fn command(self) -> NewClient {
        let list = |f: Field<Vec<String>>| match f {
            Field::Given(v) => v,
            _ => Vec::new(),
        };
        let mut scopes = match self.scopes {
            Field::Given(v) => v,
            _ => DEFAULT_CLIENT_SCOPES.map(String::from).to_vec(),
        };
        scopes.sort_by_key(|s| CLIENT_SCOPES.iter().position(|k| k == s));
        scopes.dedup();
        NewClient {
            name: self.name.into_string().trim().to_string(),
            redirect_uris: list(self.redirect_uris),
            post_logout_redirect_uris: list(self.post_logout_redirect_uris),
            scopes,
            public: self.public.given().copied().unwrap_or(false),
            first_party: self.first_party.given().copied().unwrap_or(false),
        }
    }
}

/// A client as the API shows it; its secret only in the answer to its registration.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Client)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub public: bool,
    pub first_party: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// A confidential client's secret: in the answer to its registration only, never again
    /// (the service keeps only its hash).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub client_secret: Option<String>,
}

impl ClientView {
    fn of(client: OAuthClient, secret: Option<String>) -> ClientView {
        ClientView {
            client_id: client.client_id,
            name: client.name,
            redirect_uris: client.redirect_uris,
            post_logout_redirect_uris: client.post_logout_redirect_uris,
            scopes: client.scopes,
            public: client.public,
            first_party: client.first_party,
            created_at: rfc3339(client.created_at),
            client_secret: secret,
        }
    }
}

/// `GET /oauth/clients`: every registered client, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ClientList)]
pub struct ClientList {
    pub clients: Vec<ClientView>,
}

/// Registers a client for `actor` (an admin, or the operator): a new id, and for a confidential
/// client a new secret, answered once.
pub async fn register_client(
    state: &AppState,
    new: NewClient,
    actor: Actor,
    session_id: Option<&str>,
) -> ApiResult<ClientView> {
    let secret = if new.public {
        None
    } else {
        Some(random_token(32)?)
    };
    let client = OAuthClient {
        client_id: random_token(16)?,
        name: new.name,
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        scopes: new.scopes,
        public: new.public,
        first_party: new.first_party,
        secret_hash: secret.as_deref().map(token_hash),
        created_at: state.clock.now(),
    };
    if state.store.add_client(&client).await? == ClientAdded::Full {
        return Err(ApiError::TooManyClients(crate::store::MAX_CLIENTS));
    }
    tracing::info!(client_id = %client.client_id, "OAuth client registered");
    let mut event = Event::unattached(EventType::ClientAdded, actor)
        .detail("client_id", client.client_id.as_str())
        .detail("name", client.name.as_str())
        .detail("public", client.public)
        .detail("first_party", client.first_party);
    if let Some(session) = session_id {
        event = event.session(session);
    }
    events::record(state, event).await;
    Ok(ClientView::of(client, secret))
}

fn require_admin(auth: &Auth, what: &'static str) -> ApiResult<()> {
    if auth.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(what))
    }
}

/// `POST /oauth/clients`: an admin registers a client. With a second factor on the admin's
/// account, a sign-in with it at most 10 minutes old, as every admin change.
pub async fn add_client(state: &AppState, auth: &Auth, body: ClientBody) -> ApiResult<ClientView> {
    require_admin(auth, "only an admin may register an OAuth client")?;
    super::mfa::step_up(state, auth, None).await?;
    let new = body.validate()?;
    register_client(
        state,
        new,
        Actor::of(auth, &auth.user),
        Some(&auth.session.session_id),
    )
    .await
}

/// `GET /oauth/clients`: admins see every client (never a secret). With a second factor on the
/// admin's account, a sign-in made with it.
pub async fn list_clients(state: &AppState, auth: &Auth) -> ApiResult<ClientList> {
    require_admin(auth, "only an admin may list the OAuth clients")?;
    super::mfa::second_factor_sign_in(state, auth).await?;
    let clients = state.store.list_clients().await?;
    Ok(ClientList {
        clients: clients
            .into_iter()
            .map(|c| ClientView::of(c, None))
            .collect(),
    })
}

/// `DELETE /oauth/clients/{client_id}`: an admin removes a client (`404 client_not_found` when
/// there is none of that id). With a second factor, as registering.
pub async fn remove_client(state: &AppState, auth: &Auth, client_id: &str) -> ApiResult<()> {
    require_admin(auth, "only an admin may remove an OAuth client")?;
    super::mfa::step_up(state, auth, None).await?;
    let plausible = client_id.len() == CLIENT_ID_CHARS
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plausible || !state.store.remove_client(client_id).await? {
        return Err(ApiError::ClientNotFound);
    }
    tracing::info!(%client_id, "OAuth client removed");
    let event = Event::unattached(EventType::ClientRemoved, Actor::of(auth, &auth.user))
        .session(&auth.session.session_id)
        .detail("client_id", client_id);
    events::record(state, event).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_or_loopback_http_without_a_fragment() {
        for good in [
            "https://app.example.com/callback",
            "https://app.example.com:8443/cb?x=1",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "http://localhost:3000/auth/callback",
        ] {
            assert!(valid_redirect_uri(good), "{good}");
        }
        for bad in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#frag",
            "https://app.example.com/cb#",
            "https://user:pw@app.example.com/cb",
            "/callback",
            "app.example.com/cb",
            "javascript:alert(1)",
            "com.example.app:/cb",
            "https://app.example.com/c b",
            " https://app.example.com/cb",
            "http://127.0.0.2.example.com/cb",
            "",
        ] {
            assert!(!valid_redirect_uri(bad), "{bad}");
        }
        assert!(!valid_redirect_uri(&format!(
            "https://a.example.com/{}",
            "x".repeat(MAX_URI_CHARS)
        )));
    }
}
