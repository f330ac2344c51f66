"""Issue 43's figures: what ``constructs-rust local`` costs in a developer's loop, for two
checkouts of the library side by side in one run (same machine, same app, same moment):

    python bench/local_loop.py --before /tmp/before   # /tmp/before: e.g. `git archive <commit>`
    python bench/local_loop.py                          # this checkout only

The app is the one of tests/integration/test_local.py (x86_64 functions of a copy of
lambdas/ and the local_faults probe), in its fixed directory under ~/.cache with its cargo
target (held under the tests' lock while the benchmark runs). Measured, from outside, as a
user sees it (wall-clock, ``time.monotonic`` around the client):

- ``warm invoke``: ``python -m constructs_rust local invoke Local/Echo --no-synth``, start →
  payload (read whole from its stdout) and start → exit, medians of ``--repeat`` (the
  assembly built, the OS caches warm);
- ``8 parallel``: 8 requests at once to the probe's function URL, each sleeping 300 ms in the
  function, through a running ``local serve --no-synth``: the first burst (environments start)
  and a warm one (median of ``--repeat``);
- ``Invoke API``: one boto3 ``invoke`` of Local/Echo through the served Invoke API, median of
  ``--repeat`` warm calls (``-`` where a checkout has no Invoke API);
- ``edit → new answer``: hello_http's source edited under a watching ``local serve``, until
  its URL answers with the edit (once; and the cargo build's part of it).

Prints a markdown table (also to ``--out``), with the ratio of the two checkouts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from filelock import FileLock  # noqa: E402

from tests.integration.test_local import WORK, _env, _free_port, _make_app  # noqa: E402

Row = Dict[str, Optional[float]]


def _run_env(app: Path, library: Path) -> Dict[str, str]:
    return dict(_env(app), PYTHONPATH=str(library))


def _cli(library: Path) -> List[str]:
    return [sys.executable, "-m", "constructs_rust", "local"]


def warm_invoke(app: Path, library: Path, repeat: int) -> Tuple[float, float]:
    """Median start → payload (the whole payload read from stdout) and start → exit."""
    env = _run_env(app, library)
    payloads, exits = [], []
    for _ in range(repeat + 1):  # the first warms the OS caches
        started = time.monotonic()
        proc = subprocess.Popen(
            [*_cli(library), "invoke", "Local/Echo", "--no-synth", "--event", "-"],
            cwd=app,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b'{"message": "hi"}')
        proc.stdin.close()
        expected = b'{"echo":"hi hi hi"}'
        payload = proc.stdout.read(len(expected))
        payloads.append(time.monotonic() - started)
        proc.wait()
        exits.append(time.monotonic() - started)
        assert payload == expected and proc.returncode == 0, payload
    return statistics.median(payloads[1:]), statistics.median(exits[1:])


class Server:
    def __init__(self, app: Path, library: Path, watch: bool = False) -> None:
        self.port = _free_port()
        watching = [] if watch else ["--no-watch"]
        self.proc = subprocess.Popen(
            [*_cli(library), "serve", "--no-synth", *watching, "--port", str(self.port)],
            cwd=app,
            env=_run_env(app, library),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.proc.stderr is not None
        for line in self.proc.stderr:  # the table is printed once every function started
            if b"serving on" in line:
                break
        self.base = f"http://127.0.0.1:{self.port}"
        self.lines: List[bytes] = []
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()
        urllib.request.urlopen(f"{self.base}/Faithful/Faults/?bytes=1", timeout=60).read()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(timeout=30)


def burst(server: Server, count: int = 8) -> float:
    url = f"{server.base}/Faithful/Faults/?sleep_ms=300"

    def one(_: int) -> int:
        with urllib.request.urlopen(url, timeout=120) as response:
            response.read()
            return response.status

    started = time.monotonic()
    with ThreadPoolExecutor(count) as pool:
        statuses = list(pool.map(one, range(count)))
    assert statuses == [200] * count, statuses
    return time.monotonic() - started


def invoke_api(server: Server, repeat: int) -> Optional[float]:
    request = urllib.request.Request(
        f"{server.base}/2015-03-31/functions/Local%2FEcho/invocations",
        data=b'{"message": "hi"}',
        method="POST",
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
        endpoint_url=server.base,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}),
    )
    times = []
    for _ in range(repeat + 1):
        started = time.monotonic()
        payload = client.invoke(FunctionName="Local/Echo", Payload=b'{"message": "hi"}')
        assert payload["Payload"].read() == b'{"echo":"hi hi hi"}'
        times.append(time.monotonic() - started)
    return statistics.median(times[1:])


def reload(app: Path, library: Path) -> Tuple[float, Optional[float]]:
    """Edit → new answer: hello_http's greeting edited (a word never built before) while
    ``local serve`` watches; the time until its URL answers with it, and the cargo part (the
    library's ``built hello_http ... in X s`` line)."""
    server = Server(app, library, watch=True)
    main = app / "lambdas" / "hello_http" / "src" / "main.rs"
    url = f"{server.base}/Local/Hello/?name=Bob"
    try:
        time.sleep(1.5)  # the watcher's first scan is done
        word = f"Howdy{time.time_ns()}"
        text = main.read_text()
        started = time.monotonic()
        main.write_text(text.replace('"Hello {name},', f'"{word} {{name}},'))
        while True:
            with urllib.request.urlopen(url, timeout=120) as response:
                if response.read().decode().startswith(f"{word} Bob"):
                    break
            assert time.monotonic() - started < 600, b"".join(server.lines)[-3000:]
            time.sleep(0.05)
        took = time.monotonic() - started
        main.write_text(text)
    finally:
        server.stop()
    built = re.search(rb"built hello_http for \S+ in ([0-9.]+) s", b"".join(server.lines))
    return took, float(built.group(1)) if built else None


def measure(app: Path, library: Path, repeat: int) -> Row:
    payload, exit = warm_invoke(app, library, repeat)
    row: Row = {"warm invoke: start → payload": payload, "warm invoke: start → exit": exit}
    server = Server(app, library)
    try:
        row["8 parallel (first burst)"] = burst(server)
        row["8 parallel (warm)"] = statistics.median(burst(server) for _ in range(repeat))
        row["Invoke API (boto3, warm)"] = invoke_api(server, repeat)
    finally:
        server.stop()
    row["edit → new answer"], row["edit → new answer: the cargo build"] = reload(app, library)
    return row


def table(columns: Dict[str, Row]) -> str:
    names = list(columns)
    metrics = list(next(iter(columns.values())))
    head = "| | " + " | ".join(names) + (" | ratio |" if len(names) == 2 else " |")
    lines = [head, "|---" * (len(names) + 1 + (len(names) == 2)) + "|"]

    def cell(value: Optional[float]) -> str:
        return "-" if value is None else f"{value:.3f} s"

    for metric in metrics:
        values = [columns[n].get(metric) for n in names]
        line = f"| {metric} | " + " | ".join(cell(v) for v in values)
        if len(names) == 2:
            before, after = values
            line += " | " + (f"{before / after:.1f}×" if before and after else "-")
        lines.append(line + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout of the library")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    with FileLock(str(WORK / ".lock")):
        app = WORK / "app"
        _make_app(app)
        synth = subprocess.run(
            [*_cli(REPO), "invoke", "Local/Echo", "--event", "-"],
            cwd=app,
            env=_run_env(app, REPO),
            input=b'{"message": "hi"}',
            capture_output=True,
        )
        assert synth.returncode == 0, synth.stderr[-3000:]
        columns: Dict[str, Row] = {}
        checkouts: List[Tuple[str, Path]] = [("before", args.before)] if args.before else []
        for name, library in [*checkouts, ("this checkout", REPO)]:
            columns[name] = measure(app, library.resolve(), args.repeat)
            print(name, json.dumps(columns[name]), file=sys.stderr, flush=True)
    report = table(columns)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")


if __name__ == "__main__":
    main()
