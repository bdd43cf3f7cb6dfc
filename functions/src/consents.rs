//! `GET /user/{username}/consents` and `DELETE /user/{username}/consents/{client_id}`: what a
//! person allowed apps to have on the consent page, listed and withdrawn (by the person, or an
//! admin).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::on;
use shared::accounts::{self, ConsentList};
use shared::api_doc::{Answer, Doc};
use shared::http::UsernamePath;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiError, ApiResult, AppState, Auth};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "consents",
    &[
        Route::get("/user/{username}/consents", |m| on(m, list_consents)).doc(DOC_LIST),
        Route::delete("/user/{username}/consents/{client_id}", |m| {
            on(m, withdraw_consent)
        })
        .doc(DOC_WITHDRAW),
    ],
)
.description(
    "GET /user/{username}/consents and DELETE /user/{username}/consents/{client_id}: what a \
     person allowed apps, listed and withdrawn",
)
.table(&[
    TableAction::GetItem,
    TableAction::DeleteItem,
    TableAction::Query,
])
.records_events();

/// GET /user/{username}/consents in openapi.json.
const DOC_LIST: Doc = Doc::new(
    "listConsents",
    "What a person allowed apps on the consent page: self or admin",
)
.bearer()
.answers(&[Answer::json::<ConsentList>(
    200,
    "The consents, oldest first",
)])
.errors(&[401, 403, 404, 503]);

/// DELETE /user/{username}/consents/{client_id} in openapi.json.
const DOC_WITHDRAW: Doc = Doc::new(
    "withdrawConsent",
    "Withdraw what a person allowed an app: self or admin",
)
.description(
    "The app asks again at its next sign-in. Sign-ins it holds already \
     stay (end them with DELETE /auth/sessions). 404 consent_not_found \
     when the account allowed that app nothing.",
)
.bearer()
.answers(&[Answer::empty(204, "Withdrawn")])
.errors(&[401, 403, 404, 503]);

pub async fn list_consents(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
) -> ApiResult<Json<ConsentList>> {
    accounts::list_consents(&state, &auth, &username)
        .await
        .map(Json)
}

pub async fn withdraw_consent(
    State(state): State<AppState>,
    auth: Auth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<StatusCode> {
    // A path that is not UTF-8 names no consent.
    let Ok(Path((username, client_id))) = path else {
        return Err(ApiError::ConsentNotFound);
    };
    accounts::withdraw_consent(&state, &auth, &username, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
