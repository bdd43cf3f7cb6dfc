//! `GET /`: "Hello World" to anyone; a personal greeting with the user to a valid token; a bad
//! token is 401.

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use shared::answers::Hello;
use shared::api_doc::{Answer, Doc, Security};
use shared::http::ok;
use shared::lambda::{Function, Route, TableAction};
use shared::{AppState, MaybeAuth};

/// This function's row of the route table.
pub const FUNCTION: Function =
    Function::new("home", &[Route::get("/", |m| on(m, home)).doc(DOC_GET)])
        .description("GET /: a greeting, personal with a valid token")
        .table(&[TableAction::GetItem]);

/// GET / in openapi.json.
const DOC_GET: Doc = Doc::new("home", "A greeting; personal with a valid token")
    .security(Security::OptionalBearer)
    .answers(&[Answer::json::<shared::answers::Hello>(200, "OK")])
    .errors(&[401, 503]);

pub async fn home(State(_): State<AppState>, MaybeAuth(auth): MaybeAuth) -> Response {
    match auth {
        None => ok(Hello {
            message: "Hello World".into(),
            user: None,
        }),
        Some(a) => ok(Hello {
            message: format!("Hello, {}", a.user.username),
            user: Some(a.user.view()),
        }),
    }
}
