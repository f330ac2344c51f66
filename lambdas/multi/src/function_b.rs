//! `function_b`: any JSON event → `{"function": "b", "received": <event>}`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    multi::serve("b").await
}
