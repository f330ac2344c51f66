//! JSON Lambda: `{"message": "hi"}` → `{"echo": "hi hi hi"}`.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
struct Request {
    message: String,
}

#[derive(Debug, Serialize, PartialEq)]
struct Response {
    echo: String,
}

/// The message repeated three times, separated by single spaces.
fn echo(message: &str) -> String {
    [message; 3].join(" ")
}

async fn handler(event: LambdaEvent<Request>) -> Result<Response, Error> {
    let message = &event.payload.message;
    tracing::info!(
        request_id = %event.context.request_id,
        message_len = message.len(),
        "echoing message"
    );
    Ok(Response {
        echo: echo(message),
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_common::init_tracing();
    run(service_fn(handler)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_three_times() {
        assert_eq!(echo("hi"), "hi hi hi");
        assert_eq!(echo(""), "  ");
    }

    #[tokio::test]
    async fn handler_builds_response() {
        let event = LambdaEvent::new(
            Request {
                message: "hey".into(),
            },
            lambda_runtime::Context::default(),
        );
        let resp = handler(event).await.unwrap();
        assert_eq!(
            serde_json::to_value(resp).unwrap(),
            serde_json::json!({"echo": "hey hey hey"})
        );
    }
}
