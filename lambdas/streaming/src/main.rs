//! Response streaming (a function URL with `InvokeMode.RESPONSE_STREAM`, or
//! `InvokeWithResponseStream`): `{"chunks": 4, "interval_ms": 250}` → the lines
//! `chunk 1 of 4` … `chunk 4 of 4`, each sent as soon as it is written, one
//! every `interval_ms`. A buffered invoke would return them all at the end.

use lambda_runtime::{
    service_fn,
    streaming::{channel, Body, Response},
    Error, LambdaEvent,
};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Deserialize)]
struct Request {
    #[serde(default = "default_chunks")]
    chunks: u32,
    #[serde(default = "default_interval")]
    interval_ms: u64,
}

fn default_chunks() -> u32 {
    4
}

fn default_interval() -> u64 {
    250
}

/// Bounds that keep one invoke well under the function timeout.
const MAX_CHUNKS: u32 = 50;
const MAX_INTERVAL_MS: u64 = 1_000;

fn line(index: u32, total: u32) -> String {
    format!("chunk {index} of {total}\n")
}

async fn handler(event: LambdaEvent<Request>) -> Result<Response<Body>, Error> {
    let total = event.payload.chunks.clamp(1, MAX_CHUNKS);
    let interval = Duration::from_millis(event.payload.interval_ms.min(MAX_INTERVAL_MS));
    let (mut sender, body) = channel();
    tokio::spawn(async move {
        for index in 1..=total {
            if index > 1 {
                tokio::time::sleep(interval).await;
            }
            if sender.send_data(line(index, total).into()).await.is_err() {
                break; // the client went away
            }
        }
    });
    Ok(Response::from(body))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_common::init_tracing();
    lambda_runtime::run(service_fn(handler)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered() {
        assert_eq!(line(2, 4), "chunk 2 of 4\n");
    }
}
