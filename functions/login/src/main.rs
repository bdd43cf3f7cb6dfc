//! Lambda wiring only: build the state once, then serve this function's routes.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::Function::new(login::routes)
        .signs_tokens()
        .run()
        .await
}
