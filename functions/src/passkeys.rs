//! An account's passkeys: `POST /user/{username}/passkeys/options` (the creation options, with
//! the password or a recent two-factor sign-in), `POST /user/{username}/passkeys` (the browser's
//! credential, checked and kept), `GET /user/{username}/passkeys`, `PUT` (rename) and `DELETE`
//! `/user/{username}/passkeys/{id}` (by the owner with a step-up, or an admin).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::on;
use shared::accounts::{
    AddPasskeyBody, PasskeyCreationOptions, PasskeyList, PasskeyView, ProofBody, RenamePasskeyBody,
};
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::http::UsernamePath;
use shared::input::{Body, OptionalBody};
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiError, ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "passkeys",
    &[
        Route::post("/user/{username}/passkeys/options", |m| on(m, options)).doc(DOC_OPTIONS),
        Route::post("/user/{username}/passkeys", |m| on(m, add)).doc(DOC_ADD),
        Route::get("/user/{username}/passkeys", |m| on(m, list)).doc(DOC_LIST),
        Route::put("/user/{username}/passkeys/{id}", |m| on(m, rename)).doc(DOC_RENAME),
        Route::delete("/user/{username}/passkeys/{id}", |m| on(m, remove)).doc(DOC_REMOVE),
    ],
)
.description(
    "/user/{username}/passkeys: an account's passkeys added (with the password or a recent \
     two-factor sign-in), listed, renamed and removed",
)
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::ConditionCheckItem,
    TableAction::Query,
])
.hashes_passwords()
.holds_mfa_key()
// The notices of a passkey added or removed.
.sends_mail()
.records_events();

/// POST /user/{username}/passkeys/options in openapi.json.
const DOC_OPTIONS: Doc = Doc::new(
    "passkeyCreationOptions",
    "The options of a new passkey for the owner (navigator.credentials.create)",
)
.description(
    "Needs the password (`{\"password\"}`) or a two-factor sign-in (acr aal2: a passkey, or \
     the password and a code) at most 10 minutes old: otherwise 403 step_up_required. The \
     options wait 5 minutes for the credential, from this sign-in only; new options replace \
     them. 409 too_many_passkeys when the account holds 10; 503 passkeys_unavailable when no \
     relying party is configured.",
)
.bearer()
.body(Content::json::<ProofBody>().optional())
.answers(&[Answer::json::<PasskeyCreationOptions>(
    200,
    "The creation options",
)])
.errors(&[400, 401, 403, 409, 413, 415, 429, 503]);

/// POST /user/{username}/passkeys in openapi.json.
const DOC_ADD: Doc = Doc::new(
    "addPasskey",
    "Add the passkey the browser made from the owner's options",
)
.description(
    "The credential is checked against the options (challenge, origin, RP ID, user \
     verification) and kept; the options are spent either way. 400 invalid_passkey when no \
     options wait for it or a check fails.",
)
.bearer()
.body(Content::json::<AddPasskeyBody>())
.answers(&[Answer::json::<PasskeyView>(201, "Added")])
.errors(&[400, 401, 403, 409, 413, 415, 503]);

/// GET /user/{username}/passkeys in openapi.json.
const DOC_LIST: Doc = Doc::new("listPasskeys", "An account's passkeys: self or admin")
    .bearer()
    .answers(&[Answer::json::<PasskeyList>(
        200,
        "The passkeys, oldest first",
    )])
    .errors(&[401, 403, 404, 503]);

/// PUT /user/{username}/passkeys/{id} in openapi.json.
const DOC_RENAME: Doc = Doc::new("renamePasskey", "The owner renames a passkey")
    .bearer()
    .body(Content::json::<RenamePasskeyBody>())
    .answers(&[Answer::json::<PasskeyView>(200, "Renamed")])
    .errors(&[400, 401, 403, 404, 413, 415, 503]);

/// DELETE /user/{username}/passkeys/{id} in openapi.json.
const DOC_REMOVE: Doc = Doc::new(
    "removePasskey",
    "The owner (with a step-up) or an admin removes a passkey",
)
.description(
    "An account with TOTP on gives a code (`{\"code\"}`) unless its two-factor sign-in is at \
     most 10 minutes old. Its sign-ins stay.",
)
.bearer()
.body(Content::json::<ProofBody>().optional())
.answers(&[Answer::empty(204, "Removed")])
.errors(&[400, 401, 403, 404, 413, 415, 429, 503]);

pub async fn options(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    OptionalBody(body): OptionalBody<ProofBody>,
) -> ApiResult<Json<PasskeyCreationOptions>> {
    accounts::passkey_creation_options(&state, &auth, &username, body)
        .await
        .map(Json)
}

pub async fn add(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    Body { body, .. }: Body<AddPasskeyBody>,
) -> ApiResult<(StatusCode, Json<PasskeyView>)> {
    let added = accounts::add_passkey(&state, &auth, &username, body).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
) -> ApiResult<Json<PasskeyList>> {
    accounts::list_passkeys(&state, &auth, &username)
        .await
        .map(Json)
}

/// The username and passkey id of the path (one that is not UTF-8 names no passkey).
fn passkey_path(
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<(String, String)> {
    path.map(|Path(p)| p).map_err(|_| ApiError::PasskeyNotFound)
}

pub async fn rename(
    State(state): State<AppState>,
    auth: Auth,
    path: Result<Path<(String, String)>, PathRejection>,
    Body { body, .. }: Body<RenamePasskeyBody>,
) -> ApiResult<Json<PasskeyView>> {
    let (username, id) = passkey_path(path)?;
    accounts::rename_passkey(&state, &auth, &username, &id, body)
        .await
        .map(Json)
}

pub async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    path: Result<Path<(String, String)>, PathRejection>,
    OptionalBody(body): OptionalBody<ProofBody>,
) -> ApiResult<StatusCode> {
    let (username, id) = passkey_path(path)?;
    accounts::remove_passkey(&state, &auth, &username, &id, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
