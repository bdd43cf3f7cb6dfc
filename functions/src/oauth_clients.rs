//! `POST /oauth/clients`, `GET /oauth/clients` and `DELETE /oauth/clients/{client_id}`: admins
//! register, list and remove the OAuth clients (the apps that sign their people in through this
//! service).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::on;
use shared::accounts::clients::{self, ClientBody, ClientList, ClientView};
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiError, ApiResult, AppState, Auth};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "oauth-clients",
    &[
        Route::post("/oauth/clients", |m| on(m, add_client)).doc(DOC_ADD),
        Route::get("/oauth/clients", |m| on(m, list_clients)).doc(DOC_LIST),
        Route::delete("/oauth/clients/{client_id}", |m| on(m, remove_client)).doc(DOC_REMOVE),
    ],
)
.description(
    "POST, GET /oauth/clients and DELETE /oauth/clients/{client_id}: admins register, list and \
     remove OAuth clients",
)
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::Query,
])
.records_events();

const STEP_UP: &str = "With a second factor on the admin's account, a sign-in with it at most \
                       10 minutes old (403 step_up_required), as every admin change.";

/// POST /oauth/clients in openapi.json.
const DOC_ADD: Doc = Doc::new("addClient", "Admins register an OAuth client")
    .description(
        "A confidential client (the default) gets a `client_secret`, shown in this answer only; \
         a public one (`\"public\": true`) gets none and must use PKCE. With a second factor on \
         the admin's account, a sign-in with it at most 10 minutes old (403 \
         step_up_required), as every admin change.",
    )
    .bearer()
    .body(Content::json::<ClientBody>())
    .answers(&[Answer::json::<ClientView>(201, "Registered")])
    .errors(&[400, 401, 403, 409, 413, 415, 503]);

/// GET /oauth/clients in openapi.json.
const DOC_LIST: Doc = Doc::new(
    "listClients",
    "Admins list the OAuth clients (never a secret)",
)
.description(
    "With a second factor on the admin's account, a sign-in made with it (aal2; 403 \
         step_up_required).",
)
.bearer()
.answers(&[Answer::json::<ClientList>(
    200,
    "Every client, oldest first (those of one second by id)",
)])
.errors(&[401, 403, 503]);

/// DELETE /oauth/clients/{client_id} in openapi.json.
const DOC_REMOVE: Doc = Doc::new("removeClient", "Admins remove an OAuth client")
    .description(STEP_UP)
    .bearer()
    .answers(&[Answer::empty(204, "Removed")])
    .errors(&[401, 403, 404, 503]);

pub async fn add_client(
    State(state): State<AppState>,
    auth: Auth,
    Body { body, .. }: Body<ClientBody>,
) -> ApiResult<(StatusCode, Json<ClientView>)> {
    let client = clients::add_client(&state, &auth, body).await?;
    Ok((StatusCode::CREATED, Json(client)))
}

pub async fn list_clients(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<ClientList>> {
    clients::list_clients(&state, &auth).await.map(Json)
}

pub async fn remove_client(
    State(state): State<AppState>,
    auth: Auth,
    client_id: Result<Path<String>, PathRejection>,
) -> ApiResult<StatusCode> {
    // A path that is not UTF-8 names no client.
    let Ok(Path(client_id)) = client_id else {
        return Err(ApiError::ClientNotFound);
    };
    clients::remove_client(&state, &auth, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
