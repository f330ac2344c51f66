"""``constructs-rust local serve`` and concurrency as Lambda has it (#43), through the command
and boto3, on real builds (tests/fixtures/apps/local_concurrency_app.py):

- a Lambda Managed Instances function (sleeper's ``concurrent`` build on a capacity provider,
  ``PerExecutionEnvironmentMaxConcurrency`` N) takes N events at once in ONE execution
  environment (one process, told ``AWS_LAMBDA_MAX_CONCURRENCY=N``): N requests of 0.3 s are
  answered in about 0.3 s; with one environment allowed (``--concurrency 1``) the N+1-th waits
  for a slot (about 0.6 s);
- a function at its reserved concurrency throttles: ``Invoke`` raises
  ``TooManyRequestsException`` (Reason ``ReservedFunctionConcurrentInvocationLimitExceeded``),
  its function URL answers 429, an HTTP API route or REST API method 500 (API Gateway's
  integration failure); an ``Event`` invoke waits (Lambda queues it);
- ``LogType="Tail"``: ``LogResult`` is the invocation's log, START to REPORT.

The app lives in a fixed directory under ``~/.cache`` with its own ``CARGO_TARGET_DIR`` (see
test_local.py for why a fixed path)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
from filelock import FileLock

from .. import procs
from ..conftest import ROOT
from .test_local import _env as local_env
from .test_local import _free_port
from .test_local_faithful import _Server

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402

pytestmark = [pytest.mark.cli, pytest.mark.build, pytest.mark.invoke]

WORK = Path(os.path.expanduser("~/.cache/constructs-rust-tests/local-concurrency"))
#: The app's PerExecutionEnvironmentMaxConcurrency (local_concurrency_app.MAX_CONCURRENCY).
N = 4
SLEEP = 0.3


def _env(app: Path) -> Dict[str, str]:
    return local_env(app, WORK)


@pytest.fixture(scope="module")
def app() -> Iterator[Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    with FileLock(str(WORK / ".lock")):
        directory = WORK / "app"
        shutil.rmtree(directory, ignore_errors=True)
        shutil.copytree(
            ROOT / "lambdas", directory / "lambdas", ignore=shutil.ignore_patterns("target")
        )
        manifest = directory / "lambdas" / "Cargo.toml"
        text = manifest.read_text()
        manifest.write_text(
            text.replace('lto = "thin"', "lto = false").replace(
                "codegen-units = 1\n", "codegen-units = 16\n"
            )
        )
        script = ROOT / "tests" / "fixtures" / "apps" / "local_concurrency_app.py"
        (directory / "cdk.json").write_text(json.dumps({"app": f"{sys.executable} {script}"}))
        # synthesized (built) once; the servers below run with --no-synth
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "constructs_rust",
                "local",
                "invoke",
                "Concurrency/Echo",
                "--event",
                "-",
            ],
            cwd=directory,
            env=_env(directory),
            input='{"message": "hi"}',
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert json.loads(proc.stdout) == {"echo": "hi hi hi"}
        yield directory


def _client(port: int):
    return boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=60),  # no retry of a 429
    )


def _start(app: Path, *extra: str) -> _Server:
    server = _Server(app, _free_port(), *extra)
    server.wait_for("Lambda Invoke API for 3 functions", 120)
    return server


def _burst(port: int, name: str, count: int) -> Tuple[float, List[float], List[dict]]:
    """``count`` invokes of a 0.3 s sleep at once: the wall time, each one's time, payloads."""
    lam = _client(port)
    event = json.dumps({"ms": int(SLEEP * 1000)})

    def one(_: int) -> Tuple[float, dict]:
        sent = time.monotonic()
        answer = lam.invoke(FunctionName=name, Payload=event)
        payload = json.loads(answer["Payload"].read())
        return time.monotonic() - sent, payload

    started = time.monotonic()
    with ThreadPoolExecutor(count) as pool:
        results = list(pool.map(one, range(count)))
    return time.monotonic() - started, [r[0] for r in results], [r[1] for r in results]


def _runtimes(server: _Server) -> List[int]:
    """The serve's bootstrap processes started as Managed Instances runtimes: with
    ``AWS_LAMBDA_MAX_CONCURRENCY=N`` in their environment, as Lambda starts them."""
    found = []
    for pid in procs.children(server.proc.pid):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"AWS_LAMBDA_MAX_CONCURRENCY={N}".encode() in environ:
            found.append(pid)
    return found


def test_managed_instances_take_n_events_in_one_environment(app):
    server = _start(app, "--concurrency", "1")
    try:
        port = server.port
        _burst(port, "Concurrency/Managed", 1)  # warm (the init out of the timings)
        wall, each, payloads = _burst(port, "Concurrency/Managed", N)
        assert payloads == [{"slept_ms": 300, "concurrent": True}] * N
        over, over_each, _ = _burst(port, "Concurrency/Managed", N + 1)
        print(
            f"\n{N} x {SLEEP} s to one Managed Instances environment (max concurrency {N}): "
            f"wall {wall:.3f} s, each {[round(e, 3) for e in each]}; "
            f"{N + 1} at once: wall {over:.3f} s, each {sorted(round(e, 3) for e in over_each)}"
        )
        # N at once overlap in the one process: about one sleep, not N
        assert SLEEP <= wall < 2 * SLEEP, (wall, each)
        # the N+1-th waits for a slot of the one environment: two sleeps
        assert 2 * SLEEP <= over < 3 * SLEEP, (over, over_each)
        assert sorted(over_each)[N - 1] < 2 * SLEEP <= sorted(over_each)[N]
        assert len(_runtimes(server)) == 1  # all of it in ONE process
    finally:
        server.interrupt()
    assert "Concurrency/Managed #2" not in server.err  # (one environment: --concurrency 1)


def test_managed_instances_get_their_max_concurrency_and_scale_out_past_it(app):
    """Without ``--concurrency 1`` the N+1-th event starts a second environment (as Lambda
    would add one), so N+1 at once take about one sleep once both are up."""
    server = _start(app)
    try:
        _burst(server.port, "Concurrency/Managed", N + 1)  # starts the second environment
        wall, _, payloads = _burst(server.port, "Concurrency/Managed", N + 1)
        print(f"\n{N + 1} x {SLEEP} s, two environments warm: wall {wall:.3f} s")
        assert len(payloads) == N + 1
        assert wall < 2 * SLEEP, wall
        assert len(_runtimes(server)) == 2
    finally:
        server.interrupt()


def test_reserved_concurrency_throttles_invoke_and_function_url(app):
    server = _start(app)
    try:
        lam = _client(server.port)
        slow = json.dumps({"ms": 1500})
        with ThreadPoolExecutor(3) as pool:
            busy = pool.submit(lam.invoke, FunctionName="Concurrency/Reserved", Payload=slow)
            time.sleep(0.5)  # the one slot is taken
            started = time.monotonic()
            with pytest.raises(lam.exceptions.TooManyRequestsException) as raised:
                lam.invoke(FunctionName="Concurrency/Reserved", Payload=b'{"ms": 10}')
            refused_in = time.monotonic() - started
            error = raised.value.response
            assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
            assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
            assert error["message"] == "Rate Exceeded."
            with pytest.raises(lam.exceptions.TooManyRequestsException):
                lam.invoke_with_response_stream(FunctionName="Concurrency/Reserved", Payload=b"{}")
            # the function URL: Lambda's 429 at once, not after the busy event
            url = f"http://127.0.0.1:{server.port}/Concurrency/Reserved/"
            request = urllib.request.Request(url, data=b'{"ms": 10}', method="POST")
            with pytest.raises(urllib.error.HTTPError) as http_error:
                urllib.request.urlopen(request, timeout=30)
            assert http_error.value.code == 429
            assert json.loads(http_error.value.read()) == {"Message": "Rate Exceeded."}
            # API Gateway answers Lambda's 429 as an integration failure: 500
            for path, body in (
                ("/Concurrency/Http/sleep", {"message": "Internal Server Error"}),
                ("/Concurrency/Rest/prod/sleep", {"message": "Internal server error"}),
            ):
                with pytest.raises(urllib.error.HTTPError) as http_error:
                    urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=30)
                assert http_error.value.code == 500, path
                assert json.loads(http_error.value.read()) == body
            # an Event invoke is queued, not refused: it runs once the slot frees up
            queued = lam.invoke(
                FunctionName="Concurrency/Reserved", InvocationType="Event", Payload=b"{}"
            )
            assert queued["StatusCode"] == 202
            assert busy.result()["StatusCode"] == 200
        print(f"\nthrottled in {refused_in:.3f} s while the one reserved slot was busy")
        assert refused_in < 0.5
        # the slot is free again: the next invoke runs
        deadline = time.monotonic() + 10
        while True:
            try:
                ok = lam.invoke(FunctionName="Concurrency/Reserved", Payload=b'{"ms": 10}')
                break
            except lam.exceptions.TooManyRequestsException:  # the queued Event still runs
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert json.loads(ok["Payload"].read())["slept_ms"] == 10
    finally:
        server.interrupt()
    assert "Rate Exceeded" in server.err


def test_the_default_limit_waits_instead_of_throttling(app):
    """Without reserved concurrency the local limit (here --concurrency 1) is not Lambda's:
    an event past it waits for the environment rather than getting a 429."""
    server = _start(app, "--concurrency", "1")
    try:
        lam = _client(server.port)
        started = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            answers = list(
                pool.map(
                    lambda _: lam.invoke(
                        FunctionName="Concurrency/Echo", Payload=b'{"message": "w"}'
                    ),
                    range(2),
                )
            )
        assert [a["StatusCode"] for a in answers] == [200, 200]
        assert time.monotonic() - started < 10
    finally:
        server.interrupt()


def test_log_type_tail_returns_the_invocation_log(app):
    server = _start(app)
    try:
        lam = _client(server.port)
        answer = lam.invoke(
            FunctionName="Concurrency/Echo", Payload=b'{"message": "tail"}', LogType="Tail"
        )
        assert answer["Payload"].read() == b'{"echo":"tail tail tail"}'
        log = base64.b64decode(answer["LogResult"]).decode()
        print("\nLogResult:\n" + log)
        lines = log.splitlines()
        assert lines[0].startswith("START RequestId: ") and lines[0].endswith("Version: $LATEST")
        request_id = answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        assert request_id in lines[0]
        assert any("echoing message" in line for line in lines[1:-2]), log
        assert lines[-2] == f"END RequestId: {request_id}"
        assert re.match(
            rf"REPORT RequestId: {request_id}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
            r"Memory Size: \d+ MB",
            lines[-1],
        ), lines[-1]
        # the next invocation's log has its own lines only
        again = lam.invoke(
            FunctionName="Concurrency/Echo", Payload=b'{"message": "x"}', LogType="Tail"
        )
        second = base64.b64decode(again["LogResult"]).decode()
        assert second.count("echoing message") == 1 and request_id not in second
        # without LogType: no LogResult
        plain = lam.invoke(FunctionName="Concurrency/Echo", Payload=b'{"message": "x"}')
        assert "LogResult" not in plain
        # InvokeWithResponseStream: in InvokeComplete
        streamed = lam.invoke_with_response_stream(
            FunctionName="Concurrency/Echo", Payload=b'{"message": "s"}', LogType="Tail"
        )
        complete = list(streamed["EventStream"])[-1]["InvokeComplete"]
        assert "echoing message" in base64.b64decode(complete["LogResult"]).decode()
    finally:
        server.interrupt()


#: A runtime in Python (the runtime API over HTTP): AWS_LAMBDA_MAX_CONCURRENCY workers each
#: polling /next, as lambda_runtime's run_concurrent does; ``{"sleep": s}`` sleeps s seconds.
RUNTIME = """#!/usr/bin/env python3
import json, os, threading, time, urllib.request
base = os.environ["AWS_LAMBDA_RUNTIME_API"]  # cargo-lambda's: http://127.0.0.1:port/.rt
api = ("" if base.startswith("http") else "http://") + base + "/2018-06-01/runtime/invocation/"
def work():
    while True:
        with urllib.request.urlopen(api + "next") as next_event:
            request_id = next_event.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(next_event.read())
        print("pid", os.getpid(), "got", json.dumps(event), flush=True)
        time.sleep(event.get("sleep", 0))
        answer = json.dumps({"pid": os.getpid(), "slept": event.get("sleep", 0)}).encode()
        urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", answer))
for _ in range(int(os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY", "1"))):
    threading.Thread(target=work, daemon=True).start()
threading.Event().wait()
"""


def test_a_timeout_in_a_concurrent_environment_fails_its_neighbours_and_replaces_it(tmp_path):
    """One event's timeout kills the runtime (as every local timeout does): the other event it
    had in flight fails at once with Runtime.ExitError, an event to it afterwards gets a fresh
    process; events that finished before are unaffected."""
    from constructs_rust.local.model import LocalFunction
    from constructs_rust.local.pool import FunctionPool

    asset = tmp_path / "asset"
    asset.mkdir()
    # the bootstrap gets Lambda's environment (its PATH): this Python by its path
    (asset / "bootstrap").write_text(RUNTIME.replace("/usr/bin/env python3", sys.executable))
    (asset / "bootstrap").chmod(0o755)
    function = LocalFunction(
        path="T/Managed",
        logical_id="Managed",
        stack="T",
        asset_dir=asset,
        architecture=os.uname().machine.replace("aarch64", "arm64"),
        memory_size=2048,
        timeout=1,
        runtime="provided.al2023",
        environment={},
        unresolved={},
        max_concurrency=3,
    )
    lines: List[str] = []
    pool = FunctionPool(function, {}, lambda label: lines.append, concurrency=1)
    results: Dict[str, Tuple[float, dict, str]] = {}

    def send(name: str, event: dict, delay: float) -> None:
        time.sleep(delay)
        sent = time.monotonic()
        with pool.invoke(json.dumps(event).encode()) as answer:
            body = json.loads(b"".join(answer.chunks))
            kind = answer.failure.payload["errorType"] if answer.failure else ""
        results[name] = (time.monotonic() - sent, body, kind)

    pool.start()
    try:
        threads = [
            threading.Thread(target=send, args=("quick", {"sleep": 0.1}, 0.0)),
            threading.Thread(target=send, args=("slow", {"sleep": 5}, 0.0)),
            threading.Thread(target=send, args=("neighbour", {"sleep": 5}, 0.5)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        send("after", {"sleep": 0}, 0.0)
    finally:
        pool.stop()
    print("\n" + "\n".join(f"{k}: {v[0]:.3f} s {v[1]} {v[2]}" for k, v in results.items()))
    assert results["quick"][2] == "" and results["quick"][1]["slept"] == 0.1
    took, _, kind = results["slow"]
    assert kind == "Sandbox.Timedout" and 1.0 <= took < 1.5
    took, _, kind = results["neighbour"]
    assert kind == "Runtime.ExitError" and took < 1.0  # at the slow one's timeout, at once
    assert results["after"][2] == "" and results["after"][1]["pid"] != results["quick"][1]["pid"]
    # (a fresh process of the same environment: the pool started no second one)
    assert pool.started == 1
