//! `function_a`: any JSON event → `{"function": "a", "received": <event>}`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    multi::serve("a").await
}
