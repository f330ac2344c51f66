"""``constructs-rust local`` as Lambda and API Gateway answer (#42), through the command as a user
runs it, on the app of test_local.py (same directory, same cargo target): its ``Faithful``
stack's local_faults probe (tests/fixtures/crates/local_faults, a 2 s timeout; what it does is
chosen by the event or the query string) behind a function URL with CORS, an HTTP API route with
a CORS preflight and a REST API (``LambdaRestApi`` with ``{id}`` and ``{proxy+}`` resources,
``defaultCorsPreflightOptions`` and an HTTP_PROXY method).

Timeouts end the invoke at the function's timeout, a crashed runtime fails its request at once,
Lambda's payload limits hold, REST APIs get the payload 1.0 event, CORS preflights are answered
and Ctrl-C stops everything (jsii's node included) within a second, without a traceback.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from .. import procs
from .test_local import _env, _free_port, _local, app  # noqa: F401

pytestmark = [pytest.mark.cli, pytest.mark.build, pytest.mark.invoke]

ORIGIN = "https://app.example"
#: The probe's Timeout in the template (seconds).
TIMEOUT = 2.0


@pytest.fixture(scope="module")
def synthesized(app: Path) -> Path:  # noqa: F811
    """The app synthesized (built) once; every command below runs with --no-synth."""
    proc = _local(app, "invoke", "Faithful/Faults", "--event", "-", stdin='{"bytes": 3}')
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert json.loads(proc.stdout)["body"] == "xxx"
    return app


def _invoke(app_dir: Path, event: str) -> Tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = _local(
        app_dir, "invoke", "Faithful/Faults", "--event", "-", "--no-synth", stdin=event, timeout=120
    )
    return proc, time.monotonic() - started


def test_invoke_times_out_crashes_and_limits_as_lambda(synthesized):
    app_dir = synthesized
    quick, baseline = _invoke(app_dir, '{"sleep_ms": 0}')
    assert quick.returncode == 0, quick.stderr[-3000:]

    # the 2 s timeout ends an 8 s sleep at 2 s: Lambda's error, exit status 1
    slow, took = _invoke(app_dir, '{"sleep_ms": 8000}')
    assert slow.returncode == 1, slow.stderr[-3000:]
    error = json.loads(slow.stdout)
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].startswith("RequestId: ")
    assert error["errorMessage"].endswith("Error: Task timed out after 2.00 seconds")
    assert "sleeping 8000 ms" in slow.stderr and "Task timed out after 2.00 seconds" in slow.stderr
    # not after the sleep (nor after timeout + 5 s, as before); the exact moment: the serve test
    assert took - baseline < TIMEOUT + 3.0, (took, baseline)

    # a runtime that aborts (a panic under panic = "abort") fails the invoke at once
    aborted, took = _invoke(app_dir, '{"abort": true}')
    assert aborted.returncode == 1, aborted.stderr[-3000:]
    error = json.loads(aborted.stdout)
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Error: Runtime exited with error: signal: aborted")
    assert took - baseline < 3.0, (took, baseline)
    exited, _ = _invoke(app_dir, '{"exit": 3}')
    assert exited.returncode == 1
    assert json.loads(exited.stdout)["errorMessage"].endswith(
        "Runtime exited with error: exit status 3"
    )

    # a buffered response over 6291556 bytes is Lambda's error; one under it comes back
    large, _ = _invoke(app_dir, '{"bytes": 7000000}')
    assert large.returncode == 1, large.stderr[-3000:]
    assert json.loads(large.stdout) == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).",
    }
    fits, _ = _invoke(app_dir, '{"bytes": 6000000}')
    assert fits.returncode == 0 and len(json.loads(fits.stdout)["body"]) == 6_000_000
    # an event over 6291456 bytes never reaches the function
    event = json.dumps({"pad": "p" * 6_300_000})
    refused, _ = _invoke(app_dir, event)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "Request must be smaller than 6291456 bytes for the InvokeFunction operation" in (
        refused.stderr
    )
    assert "invoking Faithful/Faults" not in refused.stderr


class _Server:
    """``local serve --no-synth`` in its own process group (as a terminal runs it)."""

    def __init__(self, app_dir: Path, port: int, *extra: str) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "constructs_rust", "local", "serve", "--no-synth"]
            + ["--no-watch", "--port", str(port), *extra],
            cwd=app_dir,
            env=_env(app_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.lines: List[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def err(self) -> str:
        return "".join(self.lines)

    def interrupt(self) -> None:
        """Ctrl-C to its process group, as a terminal sends it; waits for the end."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(timeout=30)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.err:
            assert self.proc.poll() is None, self.err[-4000:]
            assert time.monotonic() < deadline, f"no {text!r} after {timeout}s:\n{self.err[-4000:]}"
            time.sleep(0.1)

    def request(
        self,
        method: str,
        path: str,
        body: Optional[bytes] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> Tuple[int, http.client.HTTPMessage, bytes, float]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        started = time.monotonic()
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        return response.status, response.headers, data, time.monotonic() - started


@pytest.fixture
def server(synthesized) -> Iterator[_Server]:
    running = _Server(synthesized, _free_port())
    try:
        running.wait_for("serving on", 120)
        yield running
    finally:
        if running.proc.poll() is None:  # Ctrl-C: it stops its emulators (own sessions) too
            os.killpg(running.proc.pid, signal.SIGINT)
            try:
                running.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(running.proc.pid, signal.SIGKILL)
                running.proc.wait()


def test_serve_rest_api_with_the_payload_1_0_event(server):
    server.wait_for("GET http://127.0.0.1:%d/Faithful/Rest/prod/items/{id}" % server.port, 10)
    status, headers, body, _ = server.request(
        "GET",
        "/Faithful/Rest/prod/items/7?a=1&a=2&b=x",
        headers={"X-Token": "t1", "Accept": "application/json"},
    )
    assert status == 200, (body, server.err[-3000:])
    assert headers.get_all("set-cookie") == ["a=1", "b=2"]  # multiValueHeaders, each its own
    assert headers["x-probe"] == "1"
    got = json.loads(body)
    assert got["resource"] == "/items/{id}" and got["path"] == "/items/7"
    assert got["httpMethod"] == "GET" and got["pathParameters"] == {"id": "7"}
    assert got["queryStringParameters"] == {"a": "2", "b": "x"}
    assert got["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x"]}
    assert got["headers"]["X-Token"] == "t1" and got["multiValueHeaders"]["X-Token"] == ["t1"]
    assert got["requestContext"]["stage"] == "prod"
    assert got["requestContext"]["path"] == "/prod/items/7"
    assert got["requestContext"]["resourcePath"] == "/items/{id}"
    assert got["body"] is None and got["isBase64Encoded"] is False
    assert "version" not in got and "rawPath" not in got  # not the 2.0 shape

    # {proxy+} takes the rest of the path, ANY every method; a binary body is base64
    status, _, body, _ = server.request(
        "PUT", "/Faithful/Rest/prod/files/a/b/c.txt", body=b"\xff\x00\x01"
    )
    got = json.loads(body)
    assert status == 200 and got["resource"] == "/files/{proxy+}"
    assert got["pathParameters"] == {"proxy": "a/b/c.txt"} and got["httpMethod"] == "PUT"
    assert got["isBase64Encoded"] is True and got["body"] == "/wAB"
    status, _, body, _ = server.request("DELETE", "/Faithful/Rest/prod/")
    assert status == 200 and json.loads(body)["resource"] == "/"
    # a method the resource does not have, a path no resource has
    assert server.request("POST", "/Faithful/Rest/prod/items/7")[0] == 404
    # an answer that is not a proxy response: API Gateway's 502
    status, _, body, _ = server.request("GET", "/Faithful/Rest/prod/?raw=1")
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
    server.wait_for("malformed Lambda proxy response", 10)
    # a non-proxy integration is named, not emulated
    status, _, body, _ = server.request("GET", "/Faithful/Rest/prod/upstream")
    assert status == 501 and b"HTTP_PROXY integration" in body


def test_serve_cors_as_each_front_door_answers(server):
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    # function URL: answered by the URL from its Cors settings
    status, headers, body, _ = server.request("OPTIONS", "/Faithful/Faults/", headers=preflight)
    assert status == 200 and body == b""
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert headers["Access-Control-Allow-Headers"] == "content-type,x-token"
    assert headers["Access-Control-Max-Age"] == "300"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    other = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    status, headers, _, _ = server.request("OPTIONS", "/Faithful/Faults/", headers=other)
    assert status == 200 and "Access-Control-Allow-Origin" not in headers
    # ... and the real answer carries the CORS headers
    status, headers, body, _ = server.request(
        "GET", "/Faithful/Faults/", headers={"Origin": ORIGIN}
    )
    assert status == 200 and json.loads(body)["headers"]["origin"] == ORIGIN
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert headers["Access-Control-Expose-Headers"] == "x-probe"
    assert headers["Vary"] == "Origin"

    # HTTP API: corsPreflight answers OPTIONS on any route path (no OPTIONS route)
    status, headers, _, _ = server.request("OPTIONS", "/Faithful/HttpApi/probe", headers=preflight)
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert headers["Access-Control-Max-Age"] == "600"
    status, headers, _, _ = server.request(
        "GET", "/Faithful/HttpApi/probe", headers={"Origin": ORIGIN}
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == ORIGIN

    # REST API: the OPTIONS method (MOCK integration) defaultCorsPreflightOptions made
    status, headers, body, _ = server.request(
        "OPTIONS", "/Faithful/Rest/prod/items/7", headers=preflight
    )
    assert status == 204 and body == b""
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert headers["Access-Control-Allow-Headers"] == "x-token"
    assert headers["Access-Control-Allow-Methods"] == "GET,POST"
    # a Lambda proxy's answer has only the headers the function sets, as on AWS
    status, headers, _, _ = server.request(
        "GET", "/Faithful/Rest/prod/items/7", headers={"Origin": ORIGIN}
    )
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_serve_timeouts_crashes_limits_and_ctrl_c(server):
    function_error = {
        "/Faithful/Faults/": (502, b"Internal Server Error"),
        "/Faithful/HttpApi/probe": (500, b'{"message":"Internal Server Error"}'),
        "/Faithful/Rest/prod/items/1": (502, b'{"message": "Internal server error"}'),
    }
    for path, (want, message) in function_error.items():
        status, _, body, took = server.request("GET", path + "?sleep_ms=8000")
        assert (status, body) == (want, message), (path, server.err[-3000:])
        assert TIMEOUT - 0.1 < took < TIMEOUT + 1.5, (path, took)
        status, _, body, _ = server.request("GET", path + "?fail=1")
        assert (status, body) == (want, message), path
    server.wait_for("Task timed out after 2.00 seconds", 10)

    # a crash fails its request at once; the next one gets a fresh environment
    status, _, body, took = server.request("GET", "/Faithful/Faults/?abort=1")
    assert status == 502 and took < 1.5, (took, server.err[-3000:])
    server.wait_for("Runtime exited with error: signal: aborted", 10)
    status, _, body, _ = server.request("GET", "/Faithful/Faults/?bytes=2")
    assert (status, body) == (200, b"xx")

    # payload limits: a 7 MB answer is Lambda's error (502), a 7 MB request a 413
    status, _, body, _ = server.request("GET", "/Faithful/Faults/?bytes=7000000")
    assert status == 502
    server.wait_for("Function.ResponseSizeTooLarge", 10)
    status, _, body, _ = server.request(
        "POST",
        "/Faithful/Faults/",
        body=b"a" * 7_000_000,
        headers={"Content-Type": "text/plain"},
    )
    assert (status, json.loads(body)) == (413, {"message": "Request Entity Too Large"})

    # Ctrl-C in the terminal: SIGINT to the whole process group, a request in flight
    def slow() -> None:
        try:
            server.request("GET", "/Faithful/Faults/?sleep_ms=8000")
        except (OSError, http.client.HTTPException):
            pass  # the server went away: what Ctrl-C does

    earlier = server.err.count("sleeping 8000 ms")  # requests before this one said it too
    threading.Thread(target=slow, daemon=True).start()
    deadline = time.monotonic() + 10
    while server.err.count("sleeping 8000 ms") == earlier:  # this request is in flight
        assert time.monotonic() < deadline, server.err[-3000:]
        time.sleep(0.05)
    children = procs.children(server.proc.pid)
    node = [pid for pid in children if b"jsii" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    # 2 emulators, 2 bootstraps at least; no jsii node: serving an assembly loads no CDK (#43)
    assert not node and len(children) >= 4, children
    stopped_at = time.monotonic()
    os.killpg(server.proc.pid, signal.SIGINT)
    code = server.proc.wait(timeout=30)
    took = time.monotonic() - stopped_at
    assert code == 0 and took < 1.0, (code, took, server.err[-3000:])
    deadline = time.monotonic() + 1.0
    while [pid for pid in children if procs.alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in children if procs.alive(pid)] == [], "children left after Ctrl-C"
    server.reader.join(10)  # its stderr to the end
    assert "Traceback" not in server.err and "Exception ignored" not in server.err, server.err
    assert "constructs-rust: stopping" in server.err


def test_api_gateway_integration_timeout(synthesized, monkeypatch):
    """API Gateway stops waiting at its integration timeout (REST 29 s: 504, HTTP API 30 s:
    503) while the function runs on. The server in this process, with the limits at 1 s, so
    that the probe's 2 s timeout is the longer one."""
    from constructs_rust.local import serve as serve_module
    from constructs_rust.local.assembly import load

    assert {k: v[0] for k, v in serve_module.GATEWAY_TIMEOUT.items()} == {"rest": 29, "http": 30}
    for kind in ("rest", "http"):
        _, status, text = serve_module.GATEWAY_TIMEOUT[kind]
        monkeypatch.setitem(serve_module.GATEWAY_TIMEOUT, kind, (1.0, status, text))
    assembly = load(synthesized / "cdk.out")
    probe = [f for f in assembly.functions if f.path == "Faithful/Faults"]
    server = serve_module.bind("127.0.0.1", 0)
    served = serve_module.Served({}, concurrency=1)  # one environment: the next event waits
    try:
        served.update(probe, assembly.methods)
        server.served = served
        server.base = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        client = _Server.__new__(_Server)
        client.port = server.server_address[1]
        for path, status, message in (
            ("/Faithful/Rest/prod/items/1", 504, b'{"message": "Endpoint request timed out"}'),
            ("/Faithful/HttpApi/probe", 503, b'{"message":"Service Unavailable"}'),
        ):
            started = time.monotonic()
            got, _, body, took = client.request("GET", path + "?sleep_ms=1500")
            assert (got, body) == (status, message), path
            assert 0.9 < took < 1.5, (path, took)
            # the function ran on: the next event waits for it (one at a time, as Lambda)
            got, _, body, _ = client.request("GET", path + "?bytes=1")
            assert got == 200 and time.monotonic() - started > 1.45, path
    finally:
        server.shutdown()
        served.stop()
        server.server_close()


def test_serve_stops_at_once_with_a_request_in_flight(server):
    """SIGTERM to the command alone (``kill``, a CI timeout): the function busy with an event
    is stopped too, without waiting for its timeout."""
    answers: List[int] = []

    def slow() -> None:
        try:
            answers.append(server.request("GET", "/Faithful/Rest/prod/?sleep_ms=8000")[0])
        except (OSError, http.client.HTTPException):
            pass

    earlier = server.err.count("sleeping 8000 ms")  # requests before this one said it too
    threading.Thread(target=slow, daemon=True).start()
    deadline = time.monotonic() + 10
    while server.err.count("sleeping 8000 ms") == earlier:  # this request is in flight
        assert time.monotonic() < deadline, server.err[-3000:]
        time.sleep(0.05)
    children = procs.children(server.proc.pid)
    stopped_at = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(timeout=30)
    took = time.monotonic() - stopped_at
    assert code == 0 and took < 1.0, (code, took, server.err[-3000:])
    deadline = time.monotonic() + 1.0
    while [pid for pid in children if procs.alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in children if procs.alive(pid)] == [], "children left after SIGTERM"
    server.reader.join(10)
    assert "Traceback" not in server.err and "Exception ignored" not in server.err, server.err


def test_invoke_cuts_a_stream_at_the_timeout(synthesized):
    """A RESPONSE_STREAM answer still streaming at the function's timeout (Local/Stream: 10 s)
    is cut there: the chunks written so far, then Lambda's error and exit status 1."""
    started = time.monotonic()
    proc = _local(
        synthesized,
        "invoke",
        "Local/Stream",
        "--event",
        "-",
        "--no-synth",
        stdin='{"chunks": 14, "interval_ms": 1000}',
        timeout=120,
    )
    took = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert proc.stdout.startswith("chunk 1 of 14\nchunk 2 of 14\n")
    assert "chunk 9 of 14" in proc.stdout and "chunk 12 of 14" not in proc.stdout
    assert "Sandbox.Timedout" in proc.stderr and "Task timed out after 10.00 seconds" in proc.stderr
    assert took < 13.5, took


def test_invoke_ctrl_c_stops_everything_at_once(synthesized):
    """Ctrl-C during ``local invoke``: exit status 130 within a second, no traceback, nothing
    left running (the bootstrap, its emulator)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "constructs_rust", "local", "invoke", "Faithful/Faults"]
        + ["--event", "-", "--no-synth"],
        cwd=synthesized,
        env=_env(synthesized),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdin is not None and proc.stderr is not None
    try:
        proc.stdin.write('{"sleep_ms": 1900}')
        proc.stdin.close()
        lines: List[str] = []
        for line in proc.stderr:
            lines.append(line)
            if "sleeping 1900 ms" in line:
                break
        children = procs.children(proc.pid)
        assert len(children) >= 2, (children, lines)  # the emulator, the bootstrap
        node = [pid for pid in children if b"jsii" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert not node, "an invoke of the assembly starts no jsii node (#43)"
    finally:
        stopped_at = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=30)
        took = time.monotonic() - stopped_at
    rest = proc.stderr.read()
    assert code == 130 and took < 1.0, (code, took, rest)
    assert "Traceback" not in rest and "Exception ignored" not in rest, rest
    assert [pid for pid in children if procs.alive(pid)] == []
