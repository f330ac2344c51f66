//! HTTP Lambda: `GET /?name=Bob` → `Hello Bob, this is an AWS Lambda HTTP request`.

use lambda_http::{run, service_fn, Body, Error, Request, RequestExt, Response};

/// Build the greeting for a request. A plain function so it is easy to unit-test.
fn handler(event: &Request) -> Result<Response<Body>, Error> {
    let name = event
        .query_string_parameters_ref()
        .and_then(|params| params.first("name"))
        .unwrap_or("world");
    let message = format!("Hello {name}, this is an AWS Lambda HTTP request");

    let resp = Response::builder()
        .status(200)
        .header("content-type", "text/html")
        .body(message.into())?;
    Ok(resp)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_common::init_tracing();
    run(service_fn(|event: Request| async move { handler(&event) })).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn body_text(resp: &Response<Body>) -> String {
        String::from_utf8(resp.body().to_vec()).unwrap()
    }

    #[test]
    fn greets_world_by_default() {
        let resp = handler(&Request::default()).unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/html");
        assert_eq!(
            body_text(&resp),
            "Hello world, this is an AWS Lambda HTTP request"
        );
    }

    #[test]
    fn greets_name_from_query() {
        let params = HashMap::from([("name".to_string(), "Bob".to_string())]);
        let req = Request::default().with_query_string_parameters(params);
        let resp = handler(&req).unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            body_text(&resp),
            "Hello Bob, this is an AWS Lambda HTTP request"
        );
    }
}
