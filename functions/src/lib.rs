//! The routes, one module per Lambda function, and the route table: each module's `FUNCTION`
//! row (its name, its routes with their handlers, what it uses) is written once, and the
//! local server's router, the list of functions, the events test and the drift test are
//! derived from [`FUNCTIONS`]. Each function's binary (`src/bin/<name>.rs`) runs its own row
//! only, so its bootstrap links only what its routes use.

use axum::Router;
use shared::AppState;
use shared::lambda::Function;

pub mod account_page;
pub mod activate;
pub mod authorize;
pub mod change_email;
pub mod change_password;
pub mod confirm_email;
pub mod consents;
pub mod delete_user;
pub mod discovery;
pub mod email_code;
pub mod email_code_verify;
pub mod get_user;
pub mod home;
pub mod introspect;
pub mod jwks;
pub mod list_events;
pub mod list_users;
pub mod login;
pub mod logout;
pub mod me;
pub mod mfa_disable;
pub mod mfa_enrol;
pub mod mfa_login;
pub mod mfa_recovery_codes;
pub mod mfa_verify;
pub mod oauth_clients;
pub mod passkey_login;
pub mod passkeys;
pub mod password_forgot;
pub mod password_reset;
pub mod refresh;
pub mod resend_activation;
pub mod sessions;
pub mod signup;
pub mod update_user;
pub mod user_events;
pub mod userinfo;
pub mod widgets;

mod events_query;
mod mail_request;

/// The route table: every function, in the order template.yaml lists them.
pub const FUNCTIONS: &[&Function] = &[
    &home::FUNCTION,
    &jwks::FUNCTION,
    &discovery::FUNCTION,
    &introspect::FUNCTION,
    &list_users::FUNCTION,
    &signup::FUNCTION,
    &activate::FUNCTION,
    &resend_activation::FUNCTION,
    &login::FUNCTION,
    &refresh::FUNCTION,
    &logout::FUNCTION,
    &me::FUNCTION,
    &get_user::FUNCTION,
    &update_user::FUNCTION,
    &delete_user::FUNCTION,
    &widgets::FUNCTION,
    &password_forgot::FUNCTION,
    &password_reset::FUNCTION,
    &change_password::FUNCTION,
    &change_email::FUNCTION,
    &confirm_email::FUNCTION,
    &sessions::FUNCTION,
    &mfa_enrol::FUNCTION,
    &mfa_verify::FUNCTION,
    &mfa_login::FUNCTION,
    &mfa_disable::FUNCTION,
    &mfa_recovery_codes::FUNCTION,
    &user_events::FUNCTION,
    &list_events::FUNCTION,
    &oauth_clients::FUNCTION,
    &authorize::FUNCTION,
    &consents::FUNCTION,
    &userinfo::FUNCTION,
    &passkeys::FUNCTION,
    &passkey_login::FUNCTION,
    &account_page::FUNCTION,
    &email_code::FUNCTION,
    &email_code_verify::FUNCTION,
];

/// Every function's routes, merged: what the local server serves.
pub fn routes() -> Router<AppState> {
    FUNCTIONS.iter().fold(Router::new(), |router, function| {
        router.merge(function.router())
    })
}

/// A function by its name.
pub fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().copied().find(|f| f.name == name)
}
