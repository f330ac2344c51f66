//! `{"ms": 200}` → sleeps 200 ms (without blocking a thread), then answers
//! `{"slept_ms": 200, "concurrent": <mode>}`.
//!
//! Built with the `concurrent` feature it serves requests through
//! `lambda_runtime::run_concurrent`: on Lambda Managed Instances, where Lambda
//! sets `AWS_LAMBDA_MAX_CONCURRENCY`, one process overlaps that many requests.
//! Without it (or with the variable unset) it serves one request at a time.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, Deserialize)]
struct Request {
    #[serde(default = "default_ms")]
    ms: u64,
}

fn default_ms() -> u64 {
    100
}

/// Longest sleep accepted: well under the function timeout.
const MAX_MS: u64 = 5_000;

async fn handler(event: LambdaEvent<Request>) -> Result<Value, Error> {
    let ms = event.payload.ms.min(MAX_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(json!({ "slept_ms": ms, "concurrent": cfg!(feature = "concurrent") }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_common::init_tracing();
    #[cfg(feature = "concurrent")]
    return lambda_runtime::run_concurrent(service_fn(handler)).await;
    #[cfg(not(feature = "concurrent"))]
    return lambda_runtime::run(service_fn(handler)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_defaults_when_missing() {
        let request: Request = serde_json::from_value(json!({})).unwrap();
        assert_eq!(request.ms, 100);
    }
}
