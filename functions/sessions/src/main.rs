//! Lambda wiring only: build the state once, then serve this function's routes.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    // Ending every session mails a notice when it cancels a pending change of address.
    shared::lambda::Function::new(sessions::routes)
        .sends_mail()
        .run()
        .await
}
