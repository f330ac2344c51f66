"""The Lambda Invoke API of ``constructs-rust local serve`` (#43), called with boto3 as an SDK
integration test calls Lambda, on the app of test_local.py (its ``Local`` functions and the
``Faithful`` stack's local_faults probe, 2 s timeout): ``Invoke`` (RequestResponse, Event,
DryRun), ``InvokeWithResponseStream``, functions by construct path, short id and ARN, function
errors in ``FunctionError``, Lambda's own errors as the SDK's exceptions; and the scale-out:
concurrent events to one function run in separate execution environments, up to the limit."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import pytest

from .test_local import _free_port, app  # noqa: F401
from .test_local_faithful import _Server, synthesized  # noqa: F401

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

pytestmark = [pytest.mark.cli, pytest.mark.build, pytest.mark.invoke]


def _client(port: int):
    return boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}, read_timeout=60),
    )


def _start(app_dir, *extra: str) -> _Server:
    server = _Server(app_dir, _free_port(), *extra)
    server.wait_for("Lambda Invoke API for 4 functions", 120)
    return server


@pytest.fixture
def server(synthesized) -> Iterator[_Server]:  # noqa: F811
    running = _start(synthesized)
    try:
        yield running
    finally:
        running.interrupt()


def test_invoke_with_boto3(server):
    lam = _client(server.port)
    arn = "arn:aws:lambda:us-east-1:123456789012:function:Echo"
    for name in ("Local/Echo", "Echo", arn, "Local/Echo/Resource"):
        answer = lam.invoke(FunctionName=name, Payload=json.dumps({"message": "hi"}))
        assert answer["StatusCode"] == 200 and "FunctionError" not in answer, name
        assert answer["ExecutedVersion"] == "$LATEST"
        assert answer["Payload"].read() == b'{"echo":"hi hi hi"}'

    # the function's own error: 200, FunctionError, its error payload
    failed = lam.invoke(FunctionName="Local/Echo", Payload=b"{}")
    assert failed["StatusCode"] == 200 and failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert "missing field `message`" in error["errorMessage"] and error["errorType"]

    # Lambda's own failure (the 2 s timeout): the same shape, Lambda's payload
    slow = lam.invoke(FunctionName="Faithful/Faults", Payload=b'{"sleep_ms": 5000}')
    assert slow["FunctionError"] == "Unhandled"
    assert json.loads(slow["Payload"].read())["errorType"] == "Sandbox.Timedout"

    # Event: 202 at once, the function runs after; DryRun: 204, nothing runs
    started = time.monotonic()
    event = lam.invoke(
        FunctionName="Faithful/Faults", InvocationType="Event", Payload=b'{"sleep_ms": 700}'
    )
    assert event["StatusCode"] == 202 and time.monotonic() - started < 0.7
    server.wait_for("sleeping 700 ms", 10)
    assert lam.invoke(FunctionName="Echo", InvocationType="DryRun")["StatusCode"] == 204

    with pytest.raises(lam.exceptions.ResourceNotFoundException, match="Function not found"):
        lam.invoke(FunctionName="Local/Ech0", Payload=b"{}")
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName="Echo", Payload=b"not json")
    with pytest.raises(ClientError, match="RequestEntityTooLargeException.*6291456 bytes"):
        lam.invoke(FunctionName="Echo", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')


def test_invoke_with_response_stream_with_boto3(server):
    lam = _client(server.port)
    answer = lam.invoke_with_response_stream(FunctionName="Local/Stream", Payload=b"{}")
    assert answer["StatusCode"] == 200 and answer["ExecutedVersion"] == "$LATEST"
    events = list(answer["EventStream"])
    chunks = [e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e]
    assert b"".join(chunks) == b"".join(b"chunk %d of 4\n" % i for i in range(1, 5))
    assert len(chunks) > 1  # as the function wrote them, not one buffered piece
    assert events[-1] == {"InvokeComplete": {}}

    # a buffered function's answer is one chunk; a timeout ends the stream with its error
    echo = lam.invoke_with_response_stream(FunctionName="Echo", Payload=b'{"message": "s"}')
    assert [e for e in echo["EventStream"]][0] == {"PayloadChunk": {"Payload": b'{"echo":"s s s"}'}}
    slow = lam.invoke_with_response_stream(
        FunctionName="Faithful/Faults", Payload=b'{"sleep_ms": 5000}'
    )
    complete = list(slow["EventStream"])[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in complete["ErrorDetails"]


def _environments(err: str) -> set:
    """The execution environments that logged ``sleeping 300 ms`` (``Faithful/Faults``,
    ``Faithful/Faults #2``, ...)."""
    return set(re.findall(r"\[(Faithful/Faults(?: #\d+)?)\] sleeping 300 ms", err))


def test_concurrent_events_scale_out_up_to_the_limit(synthesized):  # noqa: F811
    """8 events at once reach 8 environments (processes), each one event at a time; a second
    burst finds them warm (no new one starts); ``--concurrency 2`` caps them at two."""
    event = b'{"sleep_ms": 300}'
    for extra, limit in (((), 8), (("--concurrency", "2"), 2)):
        server = _start(synthesized, *extra)
        try:
            lam = _client(server.port)

            def one(_: int, lam=lam) -> bytes:
                return lam.invoke(FunctionName="Faithful/Faults", Payload=event)["Payload"].read()

            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(one, range(8)))
            assert all(json.loads(a)["statusCode"] == 200 for a in answers), answers
            first = _environments(server.err)
            assert len(first) == limit, sorted(first)
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(one, range(8)))
            assert _environments(server.err) == first  # kept warm, none started
            assert server.err.count("sleeping 300 ms") == 16
        finally:
            server.interrupt()
