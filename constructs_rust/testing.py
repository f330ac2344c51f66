"""Local invoke of the EXACT artifact CDK will deploy: ``sam local invoke`` without Docker.

    from constructs_rust.testing import LambdaEmulator, bootstrap_path

    app = cdk.App(); stack = MyStack(app, "S"); app.synth()
    with LambdaEmulator() as emulator:
        result = emulator.invoke(bootstrap_path(stack.my_function), {"message": "hi"},
                                 architecture="arm64")
    assert result.payload == {...}; print(result.init_seconds, result.invoke_seconds)

The emulator is cargo-lambda's Lambda runtime API (``cargo lambda watch --only-lambda-apis``).
The bootstrap runs as a plain process with the ``AWS_LAMBDA_*`` variables Lambda sets; arm64
binaries run under qemu-user on x86_64 hosts (``EmulationUnavailable`` when it is missing).
Between the bootstrap and the emulator sits a small TCP relay that notes when the runtime
first asks for ``/next``: that is the init time (process start → ready for events).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3_assets as s3_assets

from .build import PLACEHOLDER
from .toolchain import find_cargo_lambda

QEMU_AARCH64 = "qemu-aarch64-static"
AARCH64_SYSROOT = "/usr/aarch64-linux-gnu"
#: The emulator's default function route (cargo-lambda prints AWS_LAMBDA_FUNCTION_NAME=_).
_DEFAULT_FUNCTION = "_"


class EmulationUnavailable(RuntimeError):
    """The bootstrap's architecture cannot run on this host (no qemu-user)."""


@dataclass(frozen=True)
class InvokeResult:
    payload: Any
    """The response, parsed as JSON when it is JSON."""
    raw: str
    init_seconds: float
    """Process start → the runtime's first ``/next`` request."""
    invoke_seconds: float
    """Event sent → response received (measured by the caller of the emulator's invoke API)."""
    logs: str
    """What the bootstrap wrote to stdout/stderr."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def host_arch() -> str:
    return "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "x86_64"


def runner_prefix(architecture: str) -> List[str]:
    """argv prefix that runs a Linux binary of ``architecture`` on this host."""
    if architecture == host_arch():
        return []
    if architecture == "arm64":
        qemu = shutil.which(QEMU_AARCH64)
        if not qemu:
            raise EmulationUnavailable(
                f"{QEMU_AARCH64} not found: install qemu-user-static (and libc6:arm64) "
                "to run arm64 bootstraps here"
            )
        # Prefer the host's multiarch aarch64 glibc (libc6:arm64): threaded binaries (tokio)
        # deadlock at start-up under the cross sysroot's loader. Fall back to the sysroot.
        if Path("/lib/ld-linux-aarch64.so.1").exists():
            return [qemu]
        return [qemu, "-L", AARCH64_SYSROOT]
    qemu = shutil.which("qemu-x86_64-static")
    if not qemu:
        raise EmulationUnavailable(
            "qemu-x86_64-static not found: cannot run x86_64 bootstraps on this host"
        )
    return [qemu]


class _FirstRequestRelay:
    """TCP relay bootstrap → emulator that records when the first request arrives."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.first_request_at: Optional[float] = None
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self.port = self._server.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_runtime: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_runtime and self.first_request_at is None:
                    self.first_request_at = time.monotonic()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            if from_runtime:  # the runtime→emulator direction owns the pair
                src.close()
                dst.close()

    def close(self) -> None:
        self._closed = True
        self._server.close()


class LambdaEmulator:
    """cargo-lambda's runtime API emulator on 127.0.0.1, started and stopped by its own PID."""

    def __init__(self, *, port: Optional[int] = None, startup_timeout: float = 60) -> None:
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._dir: Optional[tempfile.TemporaryDirectory[str]] = None

    def __enter__(self) -> "LambdaEmulator":
        cargo_lambda = find_cargo_lambda()
        if not cargo_lambda:
            raise RuntimeError("cargo-lambda is not installed: pip install cargo-lambda")
        # `watch` wants a Cargo project even with --only-lambda-apis; give it an empty one.
        self._dir = tempfile.TemporaryDirectory(prefix="constructs-rust-emulator-")
        project = Path(self._dir.name)
        (project / "src").mkdir()
        (project / "src" / "main.rs").write_text("fn main() {}\n")
        (project / "Cargo.toml").write_text(
            '[package]\nname = "emulator"\nversion = "0.0.0"\nedition = "2021"\n\n[workspace]\n'
        )
        self._log = open(project / "emulator.log", "wb")
        self._proc = subprocess.Popen(
            [
                cargo_lambda,
                "lambda",
                "watch",
                "--only-lambda-apis",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                str(self.port),
            ],
            cwd=project,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_port(self.port, self.startup_timeout, self._proc)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._dir is not None:
            self._log.close()
            self._dir.cleanup()
            self._dir = None

    def _post(self, body: bytes, timeout: float) -> str:
        url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/{_DEFAULT_FUNCTION}/invocations"
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                answer: bytes = response.read()
                return answer.decode()
        except urllib.error.HTTPError as err:
            raise RuntimeError(
                f"invoke failed with HTTP {err.code}: {err.read().decode(errors='replace')}"
            ) from None

    def invoke(self, bootstrap: Path, event: Any, **kwargs: Any) -> InvokeResult:
        """Start ``bootstrap`` against this emulator, send ``event`` once, stop it.

        Keyword arguments are those of ``invoke_many``.
        """
        return self.invoke_many(bootstrap, [event], **kwargs)[0]

    def invoke_function(
        self, function: lambda_.Function, event: Any, **kwargs: Any
    ) -> InvokeResult:
        """Invoke a synthesized RustFunction's bootstrap on the function's own architecture."""
        return self.invoke(
            bootstrap_path(function), event, architecture=function.architecture.name, **kwargs
        )

    def invoke_many(
        self,
        bootstrap: Path,
        events: Sequence[Any],
        *,
        architecture: str = "x86_64",
        environment: Optional[Mapping[str, str]] = None,
        timeout: float = 120,
        memory_size: int = 128,
    ) -> List[InvokeResult]:
        """One process, several events in a row (the first is the cold one)."""
        prefix = runner_prefix(architecture)
        bootstrap = Path(bootstrap).resolve()
        relay = _FirstRequestRelay(self.port)
        env: Dict[str, str] = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{relay.port}/.rt",
            "AWS_LAMBDA_FUNCTION_NAME": _DEFAULT_FUNCTION,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/local",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LAMBDA_TASK_ROOT": str(bootstrap.parent),
            "RUST_LOG": "info",
        }
        env.update(environment or {})
        log = tempfile.TemporaryFile()
        started = time.monotonic()
        proc = subprocess.Popen(
            [*prefix, str(bootstrap)],
            env=env,
            cwd=bootstrap.parent,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        out = []
        try:
            deadline = started + timeout
            while relay.first_request_at is None:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(
                        f"bootstrap exited with {proc.returncode} before asking for an "
                        f"event:\n{log.read().decode(errors='replace')}"
                    )
                if time.monotonic() > deadline:
                    raise TimeoutError("bootstrap never asked for an event")
                time.sleep(0.002)
            init = relay.first_request_at - started
            for event in events:
                body = event if isinstance(event, (bytes, str)) else json.dumps(event)
                body = body.encode() if isinstance(body, str) else body
                sent = time.monotonic()
                raw = self._post(body, timeout)
                elapsed = time.monotonic() - sent
                try:
                    payload = json.loads(raw)
                except ValueError:
                    payload = raw
                out.append((payload, raw, init, elapsed))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            relay.close()
            log.seek(0)
            logs = log.read().decode(errors="replace")
            log.close()
        return [
            InvokeResult(payload=p, raw=r, init_seconds=i, invoke_seconds=e, logs=logs)
            for p, r, i, e in out
        ]


def bootstrap_path(function: lambda_.Function) -> Path:
    """The bundled ``bootstrap`` of a RustFunction in the synthesized cloud assembly.

    Call after ``app.synth()`` (or ``Template.from_stack``), which is when the build runs.
    """
    asset = function.node.try_find_child("Code")
    stage = cdk.Stage.of(function)
    if not isinstance(asset, s3_assets.Asset) or stage is None:
        raise ValueError(f"{function.node.path} has no asset code")
    staged = Path(stage.asset_outdir) / asset.asset_path
    path = staged / "bootstrap"
    if not path.is_file() or (staged / PLACEHOLDER).exists():
        raise FileNotFoundError(
            f"{path} is not built yet: synthesize the app first (and make sure the stack needs "
            "bundling)"
        )
    return path
