//! JSON Lambda: `{"digits": 5}` → `{"digits": 5, "pi": "31415"}`.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use pi_digits::pi_digits;
use serde::{Deserialize, Serialize};

/// Upper bound on the requested digit count (keeps invocations bounded).
const MAX_DIGITS: usize = 100_000;

#[derive(Debug, Deserialize)]
struct Request {
    digits: usize,
}

#[derive(Debug, Serialize)]
struct Response {
    digits: usize,
    pi: String,
}

async fn handler(event: LambdaEvent<Request>) -> Result<Response, Error> {
    let digits = event.payload.digits;
    if !(1..=MAX_DIGITS).contains(&digits) {
        return Err(format!("digits must be between 1 and {MAX_DIGITS}, got {digits}").into());
    }
    tracing::info!(request_id = %event.context.request_id, digits, "computing pi");
    let pi = pi_digits(digits);
    Ok(Response { digits, pi })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_common::init_tracing();
    run(service_fn(handler)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::Context;

    async fn call(digits: usize) -> Result<Response, Error> {
        handler(LambdaEvent::new(Request { digits }, Context::default())).await
    }

    #[tokio::test]
    async fn answers_with_digits() {
        let resp = call(5).await.unwrap();
        assert_eq!(resp.digits, 5);
        assert_eq!(resp.pi, "31415");
    }

    #[tokio::test]
    async fn rejects_out_of_range() {
        assert!(call(0).await.is_err());
        assert!(call(MAX_DIGITS + 1).await.is_err());
    }
}
