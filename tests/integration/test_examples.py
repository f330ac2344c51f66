"""Every example lambda, built through the example app and invoked with its natural event."""

import pytest

from constructs_rust.testing import EmulationUnavailable, bootstrap_path

pytestmark = [pytest.mark.build, pytest.mark.invoke]


def apigw_v2_event(query: dict) -> dict:
    """An API Gateway HTTP API (payload format 2.0) GET request."""
    raw_query = "&".join(f"{k}={v}" for k, v in query.items())
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": raw_query,
        "headers": {
            "accept": "text/html",
            "host": "example.lambda-url.us-east-1.on.aws",
            "user-agent": "pytest",
        },
        "queryStringParameters": query,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "example",
            "domainName": "example.lambda-url.us-east-1.on.aws",
            "domainPrefix": "example",
            "http": {
                "method": "GET",
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "22/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795000000000,
        },
        "isBase64Encoded": False,
    }


def pi_reference(n: int) -> str:
    """First n digits of pi by Machin's formula: independent of the spigot under test."""
    scale = 10 ** (n + 10)

    def arctan_inv(x: int) -> int:
        total = term = scale // x
        k, sign = 1, -1
        while term:
            term //= x * x
            total += sign * (term // (2 * k + 1))
            sign, k = -sign, k + 1
        return total

    return str(4 * (4 * arctan_inv(5) - arctan_inv(239)))[:n]


def _invoke(emulator, fn, event, **kw):
    try:
        return emulator.invoke(bootstrap_path(fn), event, architecture=fn.architecture.name, **kw)
    except EmulationUnavailable as exc:
        pytest.skip(str(exc))


def test_hello_http_greets_beeb(stack_of, emulator):
    fn = stack_of("HelloHttpStack").function
    result = _invoke(emulator, fn, apigw_v2_event({"name": "beeb"}))
    assert result.payload["statusCode"] == 200
    assert result.payload["headers"]["content-type"] == "text/html"
    assert result.payload["body"] == "Hello beeb, this is an AWS Lambda HTTP request"
    default = _invoke(emulator, fn, apigw_v2_event({}))
    assert default.payload["body"] == "Hello world, this is an AWS Lambda HTTP request"


def test_echo_repeats_and_logs_request_id(stack_of, emulator):
    fn = stack_of("EchoStack").function
    result = _invoke(emulator, fn, {"message": "hi"}, environment={"RUST_LOG": "info"})
    assert result.payload == {"echo": "hi hi hi"}
    assert "request_id=" in result.logs
    assert "\x1b[" not in result.logs, "no ANSI colours in CloudWatch"


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_pi_digits_both_architectures(stack_of, emulator, arch):
    fn = stack_of("PiStack").functions[arch]
    assert fn.architecture.name == arch
    result = _invoke(emulator, fn, {"digits": 1000}, timeout=300)
    assert result.payload["digits"] == 1000
    assert result.payload["pi"] == pi_reference(1000)


def test_static_pi_musl_zip_and_scratch_image_ship_one_static_binary(stack_of, emulator):
    from constructs_rust.container import prebuilt_bootstrap_path
    from tests.elf import linkage

    stack = stack_of("StaticPiStack")
    zipped = bootstrap_path(stack.zip_function)
    assert linkage(zipped).static
    assert prebuilt_bootstrap_path(stack.image_function).read_bytes() == zipped.read_bytes()
    assert (
        zipped.read_bytes() != bootstrap_path(stack_of("PiStack").functions["arm64"]).read_bytes()
    )
    result = _invoke(emulator, stack.zip_function, {"digits": 300}, timeout=300)
    assert result.payload["pi"] == pi_reference(300)


@pytest.mark.parametrize("binary, letter", [("function_a", "a"), ("function_b", "b")])
def test_multi_function_binaries(stack_of, emulator, binary, letter):
    fn = stack_of("MultiFunctionStack").functions[binary]
    event = {"order": 7, "items": ["x"]}
    result = _invoke(emulator, fn, event)
    assert result.payload == {"function": letter, "received": event}


def test_pi_reference_is_right():
    assert pi_reference(30) == "314159265358979323846264338327"
