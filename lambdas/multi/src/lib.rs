//! Code shared by the `function_a` and `function_b` binaries.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

/// `{"function": <function>, "received": <event>}`.
pub fn respond(function: &str, event: Value) -> Value {
    json!({ "function": function, "received": event })
}

/// Run a Lambda that answers every event with [`respond`] for `function`.
pub async fn serve(function: &'static str) -> Result<(), Error> {
    lambda_common::init_tracing();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(respond(function, event.payload))
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_event() {
        assert_eq!(
            respond("a", json!({"x": [1, 2]})),
            json!({"function": "a", "received": {"x": [1, 2]}})
        );
        assert_eq!(
            respond("b", Value::Null),
            json!({"function": "b", "received": null})
        );
    }
}
