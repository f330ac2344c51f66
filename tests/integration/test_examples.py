"""Every example lambda, built through the example app and invoked with its natural event."""

import pytest

from constructs_rust.testing import (
    EmulationUnavailable,
    bootstrap_path,
    function_url_request,
    http_request,
    http_response,
)

pytestmark = [pytest.mark.build, pytest.mark.invoke]


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


def _invoke_many(emulator, fn, events, **kw):
    try:
        return emulator.invoke_many(
            bootstrap_path(fn), events, architecture=fn.architecture.name, **kw
        )
    except EmulationUnavailable as exc:
        pytest.skip(str(exc))


def test_hello_http_greets_beeb(stack_of, emulator):
    """lambda_http reads the payload 2.0 requests the testing builders make: a function URL GET,
    and an HTTP API POST with repeated query values, headers, cookies and a base64 body."""
    fn = stack_of("HelloHttpStack").function
    result = _invoke(emulator, fn, function_url_request("GET", "/", query={"name": "beeb"}))
    response = http_response(result.payload)
    assert response.status == 200 and response.headers["content-type"] == "text/html"
    assert response.text == "Hello beeb, this is an AWS Lambda HTTP request"
    default = http_response(_invoke(emulator, fn, function_url_request()).payload)
    assert default.text == "Hello world, this is an AWS Lambda HTTP request"
    post = http_request(
        "POST",
        "/greet/deep",
        query={"name": ["ada", "bob"], "x": "1"},
        headers={"X-Trace": ["a", "b"], "Accept": "text/html"},
        cookies={"session": "s1", "theme": "dark"},
        body=b"\x00\x01binary",
        route_key="POST /greet/{proxy+}",
        path_parameters={"proxy": "deep"},
    )
    answered = http_response(_invoke(emulator, fn, post).payload)
    assert answered.status == 200, "lambda_http accepted the request"
    assert answered.text.startswith("Hello ada"), "first value of a repeated query parameter"
    iam = function_url_request(iam_caller="arn:aws:iam::111122223333:user/dev", body="hi")
    assert http_response(_invoke(emulator, fn, iam).payload).status == 200


def test_echo_repeats_and_logs_request_id(stack_of, emulator):
    fn = stack_of("EchoStack").function
    result = _invoke(emulator, fn, {"message": "hi"}, environment={"RUST_LOG": "info"})
    assert result.payload == {"echo": "hi hi hi"}
    assert "request_id=" in result.logs
    assert "\x1b[" not in result.logs, "no ANSI colours in CloudWatch"
    first, second = _invoke_many(emulator, fn, [{"message": "a"}, {"message": "bb"}])
    assert "message_len=1" in first.logs and "message_len=2" not in first.logs
    assert "message_len=2" in second.logs and "message_len=1" not in second.logs
    assert first.process_logs == second.process_logs == first.logs + second.logs


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
