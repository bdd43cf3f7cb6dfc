//! The `email-code-verify` Lambda function: its row of the route table, run by the shared wiring.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::run(&functions::email_code_verify::FUNCTION).await
}
