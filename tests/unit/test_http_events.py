"""Payload format 2.0 request builders and the response reader (pure; the real lambda_http
invoke is tests/integration/test_examples.py::test_hello_http_greets_beeb)."""

import base64
import json

import pytest

from constructs_rust.testing import HttpResponse, function_url_request, http_request, http_response


def test_a_get_with_repeated_query_values_headers_and_cookies():
    event = http_request(
        "get",
        "/items/7",
        query={"tag": ["a", "b c"], "q": "x&y"},
        headers={"X-Trace": ["1", "2"], "Accept": "text/plain"},
        cookies={"session": "s1"},
        route_key="GET /items/{id}",
        path_parameters={"id": "7"},
        request_id="req-1",
        time_epoch_ms=1_583_348_638_390,
    )
    assert event["version"] == "2.0" and event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/items/7"
    assert event["rawQueryString"] == "tag=a&tag=b+c&q=x%26y"
    assert event["queryStringParameters"] == {"tag": "a,b c", "q": "x&y"}
    assert event["headers"]["x-trace"] == "1,2" and event["headers"]["accept"] == "text/plain"
    assert event["cookies"] == ["session=s1"] and "cookie" not in event["headers"]
    assert event["pathParameters"] == {"id": "7"}
    ctx = event["requestContext"]
    assert ctx["http"] == {
        "method": "GET",
        "path": "/items/7",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "constructs-rust-testing",
    }
    assert ctx["requestId"] == "req-1" and ctx["routeKey"] == "GET /items/{id}"
    assert ctx["stage"] == "$default" and ctx["timeEpoch"] == 1_583_348_638_390
    assert ctx["time"] == "04/Mar/2020:19:03:58 +0000"
    assert event["isBase64Encoded"] is False and "body" not in event
    assert json.loads(json.dumps(event)) == event, "plain JSON"


def test_bodies_text_bytes_json_and_base64():
    text = http_request("POST", body="héllo")
    assert text["body"] == "héllo" and text["isBase64Encoded"] is False
    assert text["headers"]["content-length"] == str(len("héllo".encode()))
    raw = http_request("POST", body=b"\x00\xff")
    assert raw["isBase64Encoded"] is True and base64.b64decode(raw["body"]) == b"\x00\xff"
    as_json = http_request("PUT", body={"a": 1})
    assert json.loads(as_json["body"]) == {"a": 1}
    assert as_json["headers"]["content-type"] == "application/json"
    forced = http_request("POST", body="x", base64_encode=True)
    assert forced["isBase64Encoded"] is True and base64.b64decode(forced["body"]) == b"x"
    with pytest.raises(ValueError, match="starts with '/'"):
        http_request("GET", "items")


def test_function_url_request_and_its_iam_caller():
    event = function_url_request("POST", "/hook", url_id="abc", region="eu-west-1")
    ctx = event["requestContext"]
    assert ctx["domainName"] == "abc.lambda-url.eu-west-1.on.aws" and ctx["apiId"] == "abc"
    assert ctx["domainPrefix"] == "abc" and event["headers"]["host"] == ctx["domainName"]
    assert event["routeKey"] == "$default" and "authorizer" not in ctx
    signed = function_url_request(iam_caller="arn:aws:iam::111122223333:user/dev")
    iam = signed["requestContext"]["authorizer"]["iam"]
    assert iam["userArn"] == "arn:aws:iam::111122223333:user/dev"
    assert iam["accountId"] == "111122223333"


def test_http_response_reads_what_lambda_http_writes():
    response = http_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"x-a": ["1", "2"]},
            "cookies": ["a=b"],
            "body": base64.b64encode(b'{"ok": true}').decode(),
            "isBase64Encoded": True,
        }
    )
    assert response == HttpResponse(
        201, {"content-type": "application/json", "x-a": "1,2"}, ("a=b",), b'{"ok": true}'
    )
    assert response.json() == {"ok": True} and response.text == '{"ok": true}'
    plain = http_response({"hello": "world"})
    assert plain.status == 200 and plain.json() == {"hello": "world"}
