//! The `publish-events` Lambda function: the table's stream to EventBridge (`publisher`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_lambda();
    let publisher = publisher::Publisher::from_env().await?;
    let publisher = &publisher;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        publisher.publish(event.payload).await.map_err(Error::from)
    }))
    .await
}
