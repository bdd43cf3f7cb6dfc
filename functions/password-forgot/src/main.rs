//! Lambda wiring only: build the state once, then serve this function's routes.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::Function::new(password_forgot::routes)
        .sends_mail()
        .run()
        .await
}
