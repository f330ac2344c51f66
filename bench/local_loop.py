"""Issue 43's figures: what ``constructs-rust local`` costs in a developer's loop, for two
checkouts of the library side by side in one run (same machine, same app, same moment), next to
``cargo lambda watch`` on the same workspace:

    python bench/local_loop.py --before /tmp/before   # /tmp/before: e.g. `git archive <commit>`
    python bench/local_loop.py                          # this checkout only

The app is the one of tests/integration/test_local.py (x86_64 functions of a copy of
lambdas/ and the local_faults probe), in its fixed directory under ~/.cache with its cargo
target (held under the tests' lock while the benchmark runs). Each checkout's column starts
from an assembly that checkout synthesized itself for the current sources (untimed). Measured,
from outside, as a user sees it (wall-clock, ``time.monotonic`` around the client):

- ``warm invoke``: ``python -m constructs_rust local invoke Local/Echo --no-synth``, start →
  payload (read whole from its stdout) and start → exit, medians of ``--repeat`` (the
  assembly built, the OS caches warm);
- ``8 parallel``: 8 requests at once to the probe's function URL, each sleeping 300 ms in the
  function, through a running ``local serve --no-synth``: the first burst (environments start)
  and a warm one (median of ``--repeat``);
- ``Invoke API``: one boto3 ``invoke`` of Local/Echo through the served Invoke API, median of
  ``--repeat`` warm calls (``-`` where a checkout has no Invoke API);
- ``edit → new answer``: hello_http's source edited under a watching ``local serve`` started
  (``--no-synth``) right after the checkout's own synth, until its URL answers with the edit
  (once; and the cargo build's part of it); the source is restored once the serve stopped.

``cargo lambda watch`` (``--cargo-lambda``: ``dev``, its default profile, and/or ``release``;
``none`` to leave it out) runs in the app's workspace with the app's ``CARGO_TARGET_DIR`` and
``--concurrency 8`` (``--concurrency``), its first build done (and every function it serves
started once) before anything is timed: ``warm invoke`` is ``cargo lambda invoke echo
--data-ascii …`` against it (the runtime already up: no process of the function starts);
``8 parallel`` the same burst to the probe through its Invoke API (``{"sleep_ms": "300"}``:
its ``/lambda-url/local_faults/`` answers 500); ``Invoke API`` boto3 against its emulator
(function ``echo``); ``edit → new answer`` the same edit until
``/lambda-url/hello_http/?name=Bob`` answers with it (its cargo part: cargo's ``Finished … in
X s``).

Prints a markdown table (also to ``--out``), with the ratio of ``before`` to this checkout and
of ``cargo lambda watch`` to this checkout (above 1: this checkout is faster).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from filelock import FileLock  # noqa: E402

from tests.integration.test_local import WORK, _env, _free_port, _make_app  # noqa: E402

Row = Dict[str, Optional[float]]

ECHO_EVENT = b'{"message": "hi"}'
ECHO_PAYLOAD = b'{"echo":"hi hi hi"}'
BEFORE, THIS = "before", "this checkout"
CARGO_LAMBDA = {
    "dev": "cargo lambda watch",
    "release": "cargo lambda watch --release",
}


def _run_env(app: Path, library: Path) -> Dict[str, str]:
    return dict(_env(app), PYTHONPATH=str(library))


def _cli(library: Path) -> List[str]:
    return [sys.executable, "-m", "constructs_rust", "local"]


def synth(app: Path, library: Path) -> None:
    """The checkout's own synth of the current sources (``local invoke`` without
    ``--no-synth``), so that what it serves next was planned, built and staged by it."""
    done = subprocess.run(
        [*_cli(library), "invoke", "Local/Echo", "--event", "-"],
        cwd=app,
        env=_run_env(app, library),
        input=ECHO_EVENT,
        capture_output=True,
    )
    assert done.returncode == 0 and done.stdout.startswith(ECHO_PAYLOAD), done.stderr[-3000:]


def _timed_invoke(
    command: List[str], cwd: Path, env: Dict[str, str], stdin: bytes, repeat: int
) -> Tuple[float, float]:
    """Median start → payload (the whole payload read from stdout) and start → exit."""
    payloads, exits = [], []
    for _ in range(repeat + 1):  # the first warms the OS caches
        started = time.monotonic()
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
        payload = proc.stdout.read(len(ECHO_PAYLOAD))
        payloads.append(time.monotonic() - started)
        proc.stdout.read()
        proc.wait()
        exits.append(time.monotonic() - started)
        assert payload == ECHO_PAYLOAD and proc.returncode == 0, payload
    return statistics.median(payloads[1:]), statistics.median(exits[1:])


def warm_invoke(app: Path, library: Path, repeat: int) -> Tuple[float, float]:
    command = [*_cli(library), "invoke", "Local/Echo", "--no-synth", "--event", "-"]
    return _timed_invoke(command, app, _run_env(app, library), ECHO_EVENT, repeat)


class _Process:
    """A server in its own session (stopped with its whole process group), its stderr kept."""

    proc: subprocess.Popen
    base: str  # its URL
    faults: str  # the local_faults probe's function URL
    faults_api: bool = False  # the probe through the Invoke API instead
    hello: str  # hello_http's function URL
    echo: str  # Local/Echo's function name in its Invoke API

    def _start(self, command: List[str], cwd: Path, env: Dict[str, str], both: bool) -> None:
        """Its stderr kept (``both``: and its stdout)."""
        self.lines: List[bytes] = []
        self.proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if both else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if both else subprocess.PIPE,
            start_new_session=True,
        )
        self.stream = self.proc.stdout if both else self.proc.stderr
        assert self.stream is not None

    def _drain(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.stream:
            self.lines.append(line)

    def log(self) -> bytes:
        return b"".join(self.lines)[-3000:]

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        except ProcessLookupError:
            pass


class Server(_Process):
    """``local serve --no-synth`` of one checkout, every function started."""

    def __init__(self, app: Path, library: Path, watch: bool = False) -> None:
        self.port = _free_port()
        watching = [] if watch else ["--no-watch"]
        command = [*_cli(library), "serve", "--no-synth", *watching, "--port", str(self.port)]
        self._start(command, app, _run_env(app, library), both=False)
        for line in self.stream:  # the table is printed once every function started
            self.lines.append(line)
            if b"serving on" in line:
                break
        self.base = f"http://127.0.0.1:{self.port}"
        self._drain()
        self.faults = f"{self.base}/Faithful/Faults/"
        self.hello = f"{self.base}/Local/Hello/"
        self.echo = "Local/Echo"
        urllib.request.urlopen(probe(self, "bytes", 1), timeout=60).read()


class CargoLambdaWatch(_Process):
    """``cargo lambda watch`` in the app's workspace (the app's CARGO_TARGET_DIR), its first
    build done and every function of the table started once before it is timed."""

    def __init__(self, app: Path, profile: str, concurrency: int) -> None:
        self.port = _free_port()
        self.workspace = app / "lambdas"
        self.env = _env(app)
        release = ["--release"] if profile == "release" else []
        # the first build of the workspace (minutes in debug), not timed: watch's own is a no-op
        subprocess.run(
            ["cargo", "build", "--workspace", *release],
            cwd=self.workspace,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.address = ["--invoke-address", "127.0.0.1", "--invoke-port", str(self.port)]
        command = ["cargo", "lambda", "watch", *self.address, "--concurrency", str(concurrency)]
        self._start([*command, *release], self.workspace, self.env, both=True)
        self._drain()
        self.base = f"http://127.0.0.1:{self.port}"
        # its /lambda-url/local_faults/ answers 500 (the probe's proxy response is not converted,
        # nothing logged): the probe is called through its Invoke API instead
        self.faults = f"{self.base}/2015-03-31/functions/local_faults/invocations"
        self.faults_api = True
        self.hello = f"{self.base}/lambda-url/hello_http/"
        self.echo = "echo"
        started = time.monotonic()
        while True:  # the emulator is up
            try:
                urllib.request.urlopen(probe(self, "bytes", 1), timeout=600).read()
                break
            except OSError:
                assert self.proc.poll() is None, self.log()
                assert time.monotonic() - started < 600, self.log()
                time.sleep(0.2)
        urllib.request.urlopen(f"{self.hello}?name=Bob", timeout=600).read()
        self.invoke_command = ["cargo", "lambda", "invoke", "echo", *self.address]
        done = subprocess.run(
            [*self.invoke_command, "--data-ascii", ECHO_EVENT.decode()],
            env=self.env,
            capture_output=True,
            timeout=600,
        )
        assert done.stdout.startswith(ECHO_PAYLOAD), (done.stdout, done.stderr, self.log())


def probe(server: _Process, key: str, value: int) -> urllib.request.Request:
    """A request to the local_faults probe: its function URL's query string, or an event."""
    if server.faults_api:
        event = json.dumps({key: str(value)}).encode()
        return urllib.request.Request(server.faults, data=event, method="POST")
    return urllib.request.Request(f"{server.faults}?{key}={value}")


def burst(server: _Process, count: int = 8) -> float:
    def one(_: int) -> int:
        with urllib.request.urlopen(probe(server, "sleep_ms", 300), timeout=120) as response:
            response.read()
            return int(response.status)

    started = time.monotonic()
    with ThreadPoolExecutor(count) as pool:
        statuses = list(pool.map(one, range(count)))
    assert statuses == [200] * count, statuses
    return time.monotonic() - started


def invoke_api(base: str, function: str, repeat: int) -> Optional[float]:
    quoted = urllib.parse.quote(function, safe="")
    request = urllib.request.Request(
        f"{base}/2015-03-31/functions/{quoted}/invocations", data=ECHO_EVENT, method="POST"
    )
    try:
        urllib.request.urlopen(request, timeout=60).read()
    except OSError:  # a checkout without it: 404
        return None
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        return None
    client = boto3.client(
        "lambda",
        endpoint_url=base,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}),
    )
    times = []
    for _ in range(repeat + 1):
        started = time.monotonic()
        payload = client.invoke(FunctionName=function, Payload=ECHO_EVENT)
        assert payload["Payload"].read() == ECHO_PAYLOAD
        times.append(time.monotonic() - started)
    return statistics.median(times[1:])


def edit_until_answered(
    app: Path, server: _Process, limit: Optional[float] = None
) -> Optional[float]:
    """hello_http's greeting edited (a word never built before) while ``server`` watches; the
    time until its URL answers with it. The source is restored once ``server`` stopped (the
    caller's ``stop``), so that no reload of the restore runs into the next measurement. Past
    ``limit`` seconds without the new answer: ``None``, the server's log on stderr."""
    main = app / "lambdas" / "hello_http" / "src" / "main.rs"
    url = f"{server.hello}?name=Bob"
    time.sleep(1.5)  # the watcher's first scan is done
    word = f"Howdy{time.time_ns()}"
    text = main.read_text()
    edited = text.replace('"Hello {name},', f'"{word} {{name}},')
    assert edited != text
    started = time.monotonic()
    main.write_text(edited)
    while True:
        try:
            with urllib.request.urlopen(url, timeout=limit or 600) as response:
                if response.read().decode().startswith(f"{word} Bob"):
                    break
        except (OSError, http.client.HTTPException):  # a request that hung: no answer yet
            if limit is None:
                raise
        if limit is not None and time.monotonic() - started > limit:
            print(f"no new answer {limit:.0f} s after the edit:", file=sys.stderr)
            sys.stderr.write(server.log().decode(errors="replace"))
            return None
        assert time.monotonic() - started < 600, server.log()
        time.sleep(0.05)
    return time.monotonic() - started


class _Restored:
    """Puts hello_http's source back as it was (after the server that watched it stopped)."""

    def __init__(self, app: Path) -> None:
        self.main = app / "lambdas" / "hello_http" / "src" / "main.rs"
        self.text = self.main.read_text()

    def __enter__(self) -> "_Restored":
        return self

    def __exit__(self, *_: object) -> None:
        if self.main.read_text() != self.text:
            self.main.write_text(self.text)


def reload(app: Path, library: Path) -> Tuple[float, Optional[float]]:
    """Edit → new answer under a watching ``local serve``, started right after the checkout's
    own synth of the current sources (as a user's serve starts); and the cargo part (the
    library's ``built hello_http ... in X s`` line)."""
    with _Restored(app):
        synth(app, library)
        server = Server(app, library, watch=True)
        try:
            took = edit_until_answered(app, server)
            assert took is not None
        finally:
            server.stop()
    built = re.search(rb"built hello_http for \S+ in ([0-9.]+) s", b"".join(server.lines))
    return took, float(built.group(1)) if built else None


def measure(app: Path, library: Path, repeat: int) -> Row:
    synth(app, library)
    payload, exit = warm_invoke(app, library, repeat)
    row: Row = {"warm invoke: start → payload": payload, "warm invoke: start → exit": exit}
    server = Server(app, library)
    try:
        row["8 parallel (first burst)"] = burst(server)
        row["8 parallel (warm)"] = statistics.median(burst(server) for _ in range(repeat))
        row["Invoke API (boto3, warm)"] = invoke_api(server.base, server.echo, repeat)
    finally:
        server.stop()
    row["edit → new answer"], row["edit → new answer: the cargo build"] = reload(app, library)
    return row


def measure_cargo_lambda(app: Path, profile: str, repeat: int, concurrency: int) -> Row:
    with _Restored(app):
        watch = CargoLambdaWatch(app, profile, concurrency)
        try:
            command = [*watch.invoke_command, "--data-ascii", ECHO_EVENT.decode()]
            payload, exit = _timed_invoke(command, watch.workspace, watch.env, b"", repeat)
            row: Row = {"warm invoke: start → payload": payload, "warm invoke: start → exit": exit}
            row["8 parallel (first burst)"] = burst(watch)
            row["8 parallel (warm)"] = statistics.median(burst(watch) for _ in range(repeat))
            row["Invoke API (boto3, warm)"] = invoke_api(watch.base, watch.echo, repeat)
            mark = len(watch.lines)
            # (once in a run, an edit was never picked up: no rebuild, the old answer for minutes)
            row["edit → new answer"] = edit_until_answered(app, watch, limit=180)
            after = b"".join(watch.lines[mark:])
        finally:
            watch.stop()
    finished = re.findall(rb"Finished .* in ([0-9.]+)(m?s)", after)
    if finished and row["edit → new answer"] is not None:
        value, unit = finished[-1]
        row["edit → new answer: the cargo build"] = float(value) / (1000 if unit == b"ms" else 1)
    else:
        row["edit → new answer: the cargo build"] = None
    return row


def table(columns: Dict[str, Row]) -> str:
    names = list(columns)
    metrics = list(next(iter(columns.values())))
    # ratios against this checkout: before / this, cargo lambda watch / this (> 1: it is faster)
    ratios = [n for n in names if n != THIS] if THIS in columns else []
    heads = [f"{n} / {THIS}" if n != BEFORE else "ratio" for n in ratios]
    lines = ["| | " + " | ".join([*names, *heads]) + " |", "|---" * (1 + len(names + heads)) + "|"]

    def cell(value: Optional[float]) -> str:
        return "-" if value is None else f"{value:.3f} s"

    for metric in metrics:
        values = [columns[n].get(metric) for n in names]
        this = columns[THIS].get(metric) if THIS in columns else None
        cells = [cell(v) for v in values]
        for name in ratios:
            other = columns[name].get(metric)
            ratio = other / this if other and this else None
            cells.append("-" if ratio is None else f"{ratio:.{1 if ratio >= 0.95 else 2}f}×")
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout of the library")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--cargo-lambda",
        default="dev",
        help="cargo lambda watch's columns: dev (its default), release, dev,release or none",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="cargo lambda watch's")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    profiles = [p for p in args.cargo_lambda.split(",") if p != "none"]
    assert set(profiles) <= set(CARGO_LAMBDA), args.cargo_lambda
    WORK.mkdir(parents=True, exist_ok=True)
    with FileLock(str(WORK / ".lock")):
        app = WORK / "app"
        _make_app(app)
        synth(app, REPO)  # the first build of the functions, not timed
        columns: Dict[str, Row] = {}
        checkouts: List[Tuple[str, Path]] = [(BEFORE, args.before)] if args.before else []
        for name, library in [*checkouts, (THIS, REPO)]:
            columns[name] = measure(app, library.resolve(), args.repeat)
            print(name, json.dumps(columns[name]), file=sys.stderr, flush=True)
        for profile in profiles:
            name = CARGO_LAMBDA[profile]
            columns[name] = measure_cargo_lambda(app, profile, args.repeat, args.concurrency)
            print(name, json.dumps(columns[name]), file=sys.stderr, flush=True)
    report = table(columns)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")


if __name__ == "__main__":
    main()
