"""``constructs-rust local invoke`` / ``local serve`` (#30) on a real app, through the command as
a user runs it (``python -m constructs_rust`` in the app's directory, the pinned CDK CLI on
PATH): real builds of functions of a copy of lambdas/, real HTTP clients.

The app (tests/fixtures/apps/local_app.py, copied in as app.py) lives in a fixed directory under
``~/.cache`` with a fixed ``CARGO_TARGET_DIR`` next to it, so a later run reuses the compiled
dependencies and the artifacts (the build remaps the app's path into every crate's flags: only a
fixed path lets the next run reuse them); its Rust sources are copied fresh each time. The copy
of hello_http also answers with the method, path, body and ``GREETING`` and sets a cookie.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
from filelock import FileLock

from constructs_rust.local.assembly import load

from .. import procs
from ..conftest import ROOT

pytestmark = [pytest.mark.cli, pytest.mark.build, pytest.mark.invoke]

WORK = Path(os.path.expanduser("~/.cache/constructs-rust-tests/local-cli"))
FAULTS = ROOT / "tests" / "fixtures" / "crates" / "local_faults"
GREETING = '"Hello {name}, this is an AWS Lambda HTTP request"'
ANSWER = (
    '"Hello {name}, this is an AWS Lambda HTTP request; {} {} body={body} greeting={greeting}", '
    "event.method(), event.uri().path()"
)


def _make_app(app: Path) -> None:
    shutil.rmtree(app, ignore_errors=True)
    shutil.copytree(ROOT / "lambdas", app / "lambdas", ignore=shutil.ignore_patterns("target"))
    # the Faithful stack's probe (test_local_faithful.py): one more member of the workspace
    shutil.copytree(FAULTS, app / "lambdas" / "local_faults")
    manifest = app / "lambdas" / "Cargo.toml"
    text = manifest.read_text()
    fast = (
        text.replace('lto = "thin"', "lto = false")
        .replace("codegen-units = 1\n", "codegen-units = 16\n")
        .replace('"streaming"]', '"streaming", "local_faults"]')
    )
    assert fast.count("local_faults") == 1
    assert fast != text
    manifest.write_text(fast)
    main = app / "lambdas" / "hello_http" / "src" / "main.rs"
    source = main.read_text()
    patched = source.replace(
        f"let message = format!({GREETING});",
        'let body = std::str::from_utf8(event.body()).unwrap_or("");\n'
        '    let greeting = std::env::var("GREETING").unwrap_or_default();\n'
        f"    let message = format!({ANSWER});",
    ).replace(
        '.header("content-type", "text/html")',
        '.header("content-type", "text/html")\n        .header("set-cookie", "seen=1")',
    )
    assert patched.count("greeting=") == 1 and "set-cookie" in patched
    main.write_text(patched)
    # the app's own Python in the app directory, watched: an edit of it synthesizes
    shutil.copy(ROOT / "tests" / "fixtures" / "apps" / "local_app.py", app / "app.py")
    (app / "cdk.json").write_text(
        json.dumps(
            {"app": f"{sys.executable} app.py", "watch": {"include": ["lambdas/**", "app.py"]}}
        )
    )


@pytest.fixture(scope="module")
def app() -> Iterator[Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    with FileLock(str(WORK / ".lock")):
        directory = WORK / "app"
        _make_app(directory)
        yield directory


def _env(app: Path, work: Path = WORK) -> Dict[str, str]:
    """The app's commands' environment (its cargo target dir: ``work``/target)."""
    return dict(
        os.environ,
        PATH=os.pathsep.join(
            [str(Path(sys.executable).parent), str(ROOT / "node_modules" / ".bin")]
            + [os.environ.get("PATH", "")]
        ),
        PYTHONPATH=str(ROOT),
        CRATE=str(app / "lambdas"),
        CARGO_TARGET_DIR=str(work / "target"),
        CDK_DISABLE_VERSION_CHECK="1",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=os.environ.get(
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20"
        ),
    )


def _local(app: Path, *args: str, stdin: str = "", timeout: float = 1200):
    return subprocess.run(
        [sys.executable, "-m", "constructs_rust", "local", *args],
        cwd=app,
        env=_env(app),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _error_line(proc: subprocess.CompletedProcess) -> str:
    """The one error line (exit status 2, nothing after it)."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr[-3000:])
    errors = [
        line for line in proc.stderr.splitlines() if line.startswith("constructs-rust: error")
    ]
    assert len(errors) == 1 and proc.stderr.rstrip().endswith(errors[0]), proc.stderr[-3000:]
    return errors[0]


def test_invoke_by_construct_path_with_an_event_file(app, tmp_path):
    event = tmp_path / "event.json"
    event.write_text('{"message": "hi"}')
    proc = _local(app, "invoke", "Local/Echo", "--event", str(event))  # synthesizes first
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout == '{"echo":"hi hi hi"}'  # the payload only
    assert "[Local/Echo]" in proc.stderr and "echoing message" in proc.stderr  # its logs
    assert (app / "cdk.out" / "manifest.json").is_file()


def test_invoke_from_stdin_and_a_function_error(app):
    ok = _local(app, "invoke", "Echo", "--event", "-", "--no-synth", stdin='{"message": "x"}')
    assert ok.returncode == 0 and ok.stdout == '{"echo":"x x x"}', ok.stderr[-3000:]
    failed = _local(app, "invoke", "Local/Echo", "--event", "-", "--no-synth", stdin="{}")
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert json.loads(failed.stdout)["errorType"].endswith("DeserializeError")
    assert "missing field `message`" in failed.stderr  # the function's own log line


def test_invoke_gets_the_template_environment(app, tmp_path):
    event = tmp_path / "url.json"
    from constructs_rust.testing import function_url_request

    event.write_text(json.dumps(function_url_request("GET", "/p", query={"name": "Ann"})))
    proc = _local(app, "invoke", "Local/Hello", "--event", str(event), "--no-synth")
    assert proc.returncode == 0, proc.stderr[-3000:]
    body = json.loads(proc.stdout)["body"]
    assert body.endswith(
        "Hello Ann, this is an AWS Lambda HTTP request; GET /p body= greeting=from the template"
    )
    assert (
        'QUEUE_URL is {"Ref": "Queue4A7E3555"}' in proc.stderr and "--env QUEUE_URL=" in proc.stderr
    )
    given = _local(
        app, "invoke", "Local/Hello", "--event", str(event), "--no-synth", "--env", "QUEUE_URL=q"
    )
    assert given.returncode == 0 and "QUEUE_URL is" not in given.stderr


def test_bad_inputs_get_one_line_and_exit_2(app, tmp_path):
    unknown = _error_line(_local(app, "invoke", "Local/Ech", "--no-synth"))
    assert "no function 'Local/Ech'" in unknown and "did you mean 'Local/Echo'?" in unknown
    assert "known functions: Faithful/Faults, Local/Echo, Local/Hello, Local/Stream" in unknown
    queue = _error_line(_local(app, "invoke", "Local/Queue", "--no-synth"))
    assert "is not a function" in queue and "AWS::SQS::Queue" in queue
    stack = _error_line(_local(app, "invoke", "Local", "--no-synth"))
    assert "a construct with 3 functions inside" in stack
    (tmp_path / "cdk.json").write_text('{"app": "python3 app.py"}')
    missing = _error_line(_local(app, "invoke", "Echo", "--no-synth", "--app-dir", str(tmp_path)))
    assert "no cloud assembly" in missing
    bad_event = _error_line(_local(app, "invoke", "Echo", "--no-synth", "--event", "-", stdin="{"))
    assert "not JSON" in bad_event
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        in_use = _error_line(_local(app, "serve", "--no-synth", "--port", str(port), timeout=60))
    assert f"port {port} on 127.0.0.1 is in use" in in_use and "--port" in in_use


class _Serve:
    """``local serve`` in the background, its stderr collected."""

    def __init__(self, app: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "constructs_rust", "local", "serve", "--port", str(port)],
            cwd=app,
            env=_env(app),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            # as a `cmd &` job of a shell script starts it: SIGINT ignored (Python then raises
            # no KeyboardInterrupt by itself)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
        self.lines: List[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def err(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float, since: int = 0) -> None:
        """Wait until ``text`` is in stderr (after its first ``since`` characters)."""
        deadline = time.monotonic() + timeout
        while text not in self.err[since:]:
            assert self.proc.poll() is None, self.err[-4000:]
            assert time.monotonic() < deadline, f"no {text!r} after {timeout}s:\n{self.err[-4000:]}"
            time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Tuple[int, Dict[str, str], str, List[str]]:
    with urllib.request.urlopen(url, timeout=60) as response:
        cookies = response.headers.get_all("Set-Cookie") or []
        return response.status, dict(response.headers), response.read().decode(), cookies


def test_serve_answers_http_streams_and_reloads_after_an_edit(app):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _Serve(app, port)
    try:
        server.wait_for("watching for changes", 600)
        assert f"{base}/Local/Hello/" in server.err and f"{base}/Local/Stream/" in server.err
        assert f"GET {base}/Local/Api/greet/{{who}}" in server.err
        assert "/Local/Echo" not in server.err  # no URL, no route: not served

        # GET with a query string: status, headers, cookies back as HTTP
        status, headers, body, cookies = _get(f"{base}/Local/Hello/items/7?name=Bob&x=1")
        assert status == 200 and headers["content-type"] == "text/html" and cookies == ["seen=1"]
        assert body == (
            "Hello Bob, this is an AWS Lambda HTTP request; GET /items/7 body= "
            "greeting=from the template"
        )
        # POST with a body
        request = urllib.request.Request(
            f"{base}/Local/Hello/orders",
            data=b"tea for two",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert (
                response.read()
                .decode()
                .endswith("POST /orders body=tea for two greeting=from the template")
            )
        # an HTTP API route, its path parameter in the path the function sees
        assert _get(f"{base}/Local/Api/greet/Ann")[2].startswith("Hello world")
        assert "GET /greet/Ann" in _get(f"{base}/Local/Api/greet/Ann")[2]
        # nothing served there: 404 with the table
        with pytest.raises(urllib.error.HTTPError) as missing:
            _get(f"{base}/Nope/")
        assert missing.value.code == 404 and "/Local/Hello/" in missing.value.read().decode()

        # RESPONSE_STREAM: the pieces arrive as the function writes them (250 ms apart)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        sent = time.monotonic()
        connection.request("GET", "/Local/Stream/")
        response = connection.getresponse()
        pieces = []
        while True:
            data = response.read1(65536)
            if not data:
                break
            pieces.append((time.monotonic() - sent, data))
        connection.close()
        assert response.status == 200
        assert b"".join(d for _, d in pieces) == b"".join(
            f"chunk {i} of 4\n".encode() for i in range(1, 5)
        )
        assert pieces[-1][0] - pieces[0][0] >= 0.5, pieces  # not one buffered body

        # an edit of the Rust source: no synth, one cargo run, that function restarted
        mark = len(server.err)
        main = app / "lambdas" / "hello_http" / "src" / "main.rs"
        word = f"Howdy{time.time_ns()}"  # never built before: a real compile every run
        main.write_text(main.read_text().replace('"Hello {name},', f'"{word} {{name}},'))
        deadline = time.monotonic() + 300
        while not _get(f"{base}/Local/Hello/?name=Bob")[2].startswith(f"{word} Bob"):
            assert time.monotonic() < deadline, server.err[-4000:]
            time.sleep(0.2)
        server.wait_for("reloaded in", 60, since=mark)
        after = server.err[mark:]
        assert (
            "lambdas/hello_http/src/main.rs changed: rebuilding Local/Hello without a synth"
            in after
        ), after[-3000:]
        assert "synthesizing" not in after and "Successfully synthesized" not in after
        assert re.search(
            r"Local/Hello: asset hash [0-9a-f]{12} -> [0-9a-f]{12} \(built without a synth\)",
            after,
        ), after[-3000:]
        served = re.search(r"Local/Hello: restarted with (cdk.out/asset\.(\w+)/bootstrap)", after)
        assert served is not None, after[-3000:]
        assert re.search(rf"Local/Hello: asset hash \w{{12}} -> {served.group(2)[:12]} ", after)
        assert "Local/Stream: restarted" not in after, "only the edited function restarts"
        assert after.count("Compiling hello_http") == 1
        assert after.count("constructs_rust: built hello_http for x86_64") == 1

        # the bytes served are the bytes `cdk synth` stages for the edit (which builds nothing)
        other = app / "other.out"
        shutil.rmtree(other, ignore_errors=True)
        synth = subprocess.run(
            [str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "-o", str(other)],
            cwd=app,
            env=_env(app),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert synth.returncode == 0, synth.stderr[-3000:]
        assert "built hello_http" not in synth.stderr and "Compiling" not in synth.stderr
        staged = load(other).find("Local/Hello").bootstrap
        assert staged is not None
        assert _sha256(app / served.group(1)) == _sha256(staged)
        assert staged.parent.name == f"asset.{served.group(2)}"  # where the synth stages it

        # an edit of the app's Python synthesizes (it may change a template: here GREETING)
        mark = len(server.err)
        script = app / "app.py"
        script.write_text(script.read_text().replace('"from the template"', '"from the edit"'))
        deadline = time.monotonic() + 300
        while not _get(f"{base}/Local/Hello/?name=Bob")[2].endswith("greeting=from the edit"):
            assert time.monotonic() < deadline, server.err[-4000:]
            time.sleep(0.5)
        server.wait_for("reloaded in", 60, since=mark)
        after = server.err[mark:]
        assert "app.py changed: synthesizing (app.py is a file of the app)" in after
        assert "Compiling" not in after  # the template changed, not the binary
        # the same asset directory: the app's synth found the reload's staged, as its own
        assert f"Local/Hello: restarted with {served.group(1)}" in after, after[-3000:]

        # a compile error is reported and the previous build keeps serving; undoing it
        # needs no cargo run (the served asset's hash again)
        mark = len(server.err)
        good = main.read_text()
        main.write_text(good + '\nfn broken() -> u8 {\n    "not a number"\n}\n')
        server.wait_for("reloaded in", 300, since=mark)
        after = server.err[mark:]
        assert "rebuilding Local/Hello without a synth" in after
        assert "Local/Hello: build failed (still serving the previous build)" in after
        assert "mismatched types" in after, after[-3000:]
        assert _get(f"{base}/Local/Hello/?name=Bob")[2].startswith(f"{word} Bob")
        mark = len(server.err)
        main.write_text(good)
        server.wait_for("reloaded in", 120, since=mark)
        after = server.err[mark:]
        assert "Local/Hello: unchanged (asset hash" in after and "Compiling" not in after
        assert "restarted" not in after
        children = procs.children(server.proc.pid)  # emulators and bootstraps
        assert len(children) >= 4, children
    finally:
        stopped_at = time.monotonic()
        server.proc.send_signal(signal.SIGINT)  # Ctrl-C
        code = server.proc.wait(timeout=60)
    assert time.monotonic() - stopped_at < 30, "Ctrl-C stops serve promptly"
    assert code == 0, server.err[-3000:]
    assert "stopping" in server.err
    left = [pid for pid in children if procs.alive(pid)]
    assert left == [], f"still running after serve stopped: {left}"


def test_serve_killed_outright_leaves_nothing_running(app):
    """SIGKILL (the OOM killer, a CI runner's hard kill): no chance to stop its children, so
    its lifeline's guard stops the emulators and function processes."""
    server = _Serve(app, _free_port())
    try:
        server.wait_for("watching for changes", 600)
        started = procs.descendants(server.proc.pid)
        assert len(started) >= 4, started  # emulators and bootstraps (and the guard)
    finally:
        server.proc.kill()
        server.proc.wait(timeout=60)
    deadline = time.monotonic() + 15
    while [pid for pid in started if procs.alive(pid)]:
        left = {pid: procs.command(pid) for pid in started if procs.alive(pid)}
        assert time.monotonic() < deadline, f"still running after serve was killed: {left}"
        time.sleep(0.2)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
