"""Local invoke of the EXACT artifact CDK will deploy: ``sam local invoke`` without Docker.

    from constructs_rust.testing import LambdaEmulator, bootstrap_path

    app = cdk.App(); stack = MyStack(app, "S"); app.synth()
    with LambdaEmulator() as emulator:
        result = emulator.invoke(bootstrap_path(stack.my_function), {"message": "hi"})
    assert result.payload == {...}; print(result.init_seconds, result.invoke_seconds)

The emulator is cargo-lambda's Lambda runtime API (``cargo lambda watch --only-lambda-apis``).
The bootstrap runs as a plain process with the ``AWS_LAMBDA_*`` variables Lambda sets, on the
architecture its ELF header names (``binary_architecture``) unless the caller gives one; arm64
binaries run under qemu-user on x86_64 hosts (``EmulationUnavailable`` when it is missing).
Between the bootstrap and the emulator sits a small TCP relay that notes when the runtime
first asks for ``/next``: that is the init time (process start → ready for events).

``invoke_concurrently`` sends N events at once to one process started with
``AWS_LAMBDA_MAX_CONCURRENCY`` (Lambda Managed Instances); ``invoke_streaming`` reads a
streamed response piece by piece with the time each piece arrived.
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
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3_assets as s3_assets

from .._build.request import PLACEHOLDER
from .._cargo.toolchain import find_cargo_lambda
from .._support import settings
from .events import HttpResponse, function_url_request, http_request, http_response
from .snapshot import normalize_template, snapshot_template
from .unit_app import BUNDLING_STACKS_CONTEXT, no_bundling_app

__all__ = [
    "BUNDLING_STACKS_CONTEXT",
    "EmulationUnavailable",
    "ExtensionSimulator",
    "HttpResponse",
    "InvokeResult",
    "LambdaEmulator",
    "binary_architecture",
    "bootstrap_path",
    "extension_path",
    "function_url_request",
    "http_request",
    "http_response",
    "no_bundling_app",
    "normalize_template",
    "snapshot_template",
]

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
    """The function's own log lines for this event: what the bootstrap wrote to stdout/stderr
    since the previous response (the first event's include the start-up; the last event's
    what it wrote until it was stopped)."""
    process_logs: str = ""
    """Everything the process wrote, all events of ``invoke_many`` together."""


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


#: ELF ``e_machine`` → Lambda architecture name (EM_X86_64, EM_AARCH64).
_ELF_MACHINES = {0x3E: "x86_64", 0xB7: "arm64"}


def binary_architecture(path: Path) -> str:
    """The Lambda architecture (``x86_64`` or ``arm64``) the Linux executable at ``path`` was
    built for, read from its ELF header (``e_machine``, offset 18).

    Raises ValueError for a file that is not an ELF executable of either architecture."""
    with open(path, "rb") as file:
        header = file.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        raise ValueError(
            f"{path} is not an ELF executable (no ELF header), so its architecture is unknown: "
            "give the bootstrap CDK built (bootstrap_path(fn)), or pass architecture='x86_64' "
            "or 'arm64' to run it anyway"
        )
    if header[5] not in (1, 2):  # EI_DATA: 1 little-endian, 2 big-endian
        raise ValueError(f"{path}: invalid ELF header (EI_DATA={header[5]})")
    machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    if machine not in _ELF_MACHINES:
        raise ValueError(
            f"{path} is built for ELF machine {machine:#x}, not x86_64 (0x3e) or aarch64 "
            "(0xb7): AWS Lambda cannot run it; build for architecture ARM_64 or X86_64"
        )
    return _ELF_MACHINES[machine]


def _architecture_of(binary: Path, architecture: Optional[str]) -> str:
    """``architecture`` when given (the caller's word wins), else the binary's own."""
    return architecture if architecture is not None else binary_architecture(binary)


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


def _runtime_environment(
    bootstrap: Path, relay_port: int, memory_size: int, extra: Optional[Mapping[str, str]]
) -> Dict[str, str]:
    """The variables Lambda gives a bootstrap (runtime API through the relay), then ``extra``."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{relay_port}/.rt",
        "AWS_LAMBDA_FUNCTION_NAME": _DEFAULT_FUNCTION,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/local",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(bootstrap.parent),
        "RUST_LOG": "info",
        **(extra or {}),
    }


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

    #: The path of the emulator's Invoke API for the function its bootstraps serve.
    invocations_path = f"/2015-03-31/functions/{_DEFAULT_FUNCTION}/invocations"

    def start(
        self,
        bootstrap: Path,
        *,
        architecture: Optional[str] = None,
        environment: Optional[Mapping[str, str]] = None,
        timeout: float = 120,
        memory_size: int = 128,
    ) -> "_BootstrapProcess":
        """``bootstrap`` against this emulator, left running: a context manager whose entry
        waits until the runtime asks for its first event and whose exit stops it. Send it
        events with POST to ``invocations_path`` on ``port`` (one at a time, as Lambda does);
        its ``read_new()`` is what it wrote since the last call. Keyword arguments: as for
        ``invoke_many``."""
        return _BootstrapProcess(
            self.port,
            bootstrap,
            architecture=architecture,
            environment=environment,
            memory_size=memory_size,
            timeout=timeout,
        )

    def _post(self, body: bytes, timeout: float) -> str:
        url = f"http://127.0.0.1:{self.port}{self.invocations_path}"
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
        """Invoke a synthesized RustFunction's bootstrap on the function's own architecture.

        Keyword arguments are those of ``invoke_many`` (``architecture`` excepted)."""
        return self.invoke(
            bootstrap_path(function), event, architecture=function.architecture.name, **kwargs
        )

    def invoke_many(
        self,
        bootstrap: Path,
        events: Sequence[Any],
        *,
        architecture: Optional[str] = None,
        environment: Optional[Mapping[str, str]] = None,
        timeout: float = 120,
        memory_size: int = 128,
    ) -> List[InvokeResult]:
        """One process, several events in a row (the first is the cold one).

        ``architecture``: ``x86_64`` or ``arm64``, the one to run ``bootstrap`` as. Default:
        None, the architecture its ELF header names (ValueError when it is not an ELF
        executable). ``environment``: extra variables. Default: none. ``timeout``: seconds for
        the start and for each event. Default: 120. ``memory_size``: MB reported to the
        runtime. Default: 128."""
        out = []
        with self.start(
            bootstrap,
            architecture=architecture,
            environment=environment,
            memory_size=memory_size,
            timeout=timeout,
        ) as process:
            for event in events:
                sent = time.monotonic()
                raw = self._post(_body(event), timeout)
                elapsed = time.monotonic() - sent
                try:
                    payload = json.loads(raw)
                except ValueError:
                    payload = raw
                out.append((payload, raw, process.init_seconds, elapsed, process.read_new()))
        rest = process.read_new()
        if out:
            out[-1] = (*out[-1][:4], out[-1][4] + rest)
        return [
            InvokeResult(
                payload=p,
                raw=r,
                init_seconds=i,
                invoke_seconds=e,
                logs=lg,
                process_logs=process.logs,
            )
            for p, r, i, e, lg in out
        ]

    def invoke_concurrently(
        self,
        bootstrap: Path,
        events: Sequence[Any],
        *,
        max_concurrency: int,
        architecture: Optional[str] = None,
        environment: Optional[Mapping[str, str]] = None,
        timeout: float = 120,
        memory_size: int = 2048,
    ) -> ConcurrentInvokes:
        """Send every event AT ONCE to one process, as Lambda Managed Instances do.

        The bootstrap runs with ``AWS_LAMBDA_MAX_CONCURRENCY=max_concurrency`` (what Lambda sets
        from the function's ``PerExecutionEnvironmentMaxConcurrency``): a binary serving through
        lambda_runtime's ``run_concurrent`` polls that many events at once and overlaps them;
        one serving through ``run`` takes them one after another. The emulator hands each
        waiting ``/next`` request its own event. ``init_seconds`` of every result is the
        process's; ``invoke_seconds`` is each event's own send → response.

        ``memory_size``: MB reported to the runtime. Default: 2048 (the smallest size Managed
        Instances run). Other keyword arguments: as for ``invoke_many``."""
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency={max_concurrency}: give 1 or more")
        env = {"AWS_LAMBDA_MAX_CONCURRENCY": str(max_concurrency), **(environment or {})}
        answers: Dict[int, Tuple[str, float]] = {}
        failures: List[BaseException] = []
        go = threading.Event()

        def send(index: int, body: bytes) -> None:
            go.wait()
            sent = time.monotonic()
            try:
                answers[index] = (self._post(body, timeout), time.monotonic() - sent)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failures.append(exc)

        with self.start(
            bootstrap,
            architecture=architecture,
            environment=env,
            memory_size=memory_size,
            timeout=timeout,
        ) as process:
            threads = [
                threading.Thread(target=send, args=(i, _body(e)), daemon=True)
                for i, e in enumerate(events)
            ]
            for thread in threads:
                thread.start()
            started = time.monotonic()
            go.set()
            for thread in threads:
                thread.join(timeout + 5)
            wall = time.monotonic() - started
        if failures:
            raise failures[0]
        if len(answers) != len(events):
            raise TimeoutError(f"{len(events) - len(answers)} invokes got no answer in {timeout}s")
        results = []
        for index in range(len(events)):
            raw, elapsed = answers[index]
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw
            results.append(
                InvokeResult(
                    payload=payload,
                    raw=raw,
                    init_seconds=process.init_seconds,
                    invoke_seconds=elapsed,
                    logs=process.logs,
                )
            )
        return ConcurrentInvokes(
            results=tuple(results), wall_seconds=wall, max_concurrency=max_concurrency
        )

    def invoke_streaming(
        self,
        bootstrap: Path,
        event: Any,
        *,
        architecture: Optional[str] = None,
        environment: Optional[Mapping[str, str]] = None,
        timeout: float = 120,
        memory_size: int = 128,
    ) -> StreamResult:
        """Invoke once and read the response as it arrives, noting when each piece came.

        A function answering in streaming mode (lambda_runtime's ``streaming::Response``, or
        lambda_http's ``run_with_streaming_response``) has its body relayed by the emulator
        chunk by chunk (HTTP chunked encoding) as the runtime writes it; a buffered answer
        arrives whole at the end. This reads the emulator's Invoke path: cargo-lambda 1.9.2
        routes ``/2021-11-15/functions/<name>/response-streaming-invocations`` as a function
        URL request (the event wrapped in an HTTP event), not as InvokeWithResponseStream, and
        does not frame responses as that API's event stream. Keyword arguments: as for
        ``invoke_many``."""
        import http.client

        with self.start(
            bootstrap,
            architecture=architecture,
            environment=environment,
            memory_size=memory_size,
            timeout=timeout,
        ) as process:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                sent = time.monotonic()
                connection.request(
                    "POST",
                    f"/2015-03-31/functions/{_DEFAULT_FUNCTION}/invocations",
                    body=_body(event),
                    headers={"Content-Type": "application/json"},
                )
                response = connection.getresponse()
                mode = response.getheader("Lambda-Runtime-Function-Response-Mode", "")
                chunks = []
                while True:
                    data = response.read1(65536)
                    if not data:
                        break
                    chunks.append(StreamedChunk(seconds=time.monotonic() - sent, data=data))
                if response.status != 200:
                    raise RuntimeError(
                        f"invoke failed with HTTP {response.status}: "
                        f"{b''.join(c.data for c in chunks).decode(errors='replace')}"
                    )
            finally:
                connection.close()
        return StreamResult(
            chunks=tuple(chunks),
            streamed=mode.lower() == "streaming",
            init_seconds=process.init_seconds,
            logs=process.logs,
        )


@dataclass(frozen=True)
class ConcurrentInvokes:
    """N events sent at once to ONE bootstrap process (``LambdaEmulator.invoke_concurrently``)."""

    results: Tuple[InvokeResult, ...]
    """One per event, in the order of the events."""
    wall_seconds: float
    """First event sent → last response received."""
    max_concurrency: int
    """The ``AWS_LAMBDA_MAX_CONCURRENCY`` the process ran with."""


@dataclass(frozen=True)
class StreamedChunk:
    seconds: float
    """Event sent → this piece of the body received."""
    data: bytes


@dataclass(frozen=True)
class StreamResult:
    """A response read piece by piece as it arrived (``LambdaEmulator.invoke_streaming``)."""

    chunks: Tuple[StreamedChunk, ...]
    """The body as the socket delivered it: pieces sent apart in time arrive apart."""
    streamed: bool
    """The runtime answered in streaming mode (``Lambda-Runtime-Function-Response-Mode:
    streaming``), not with one buffered payload."""
    init_seconds: float
    logs: str

    @property
    def body(self) -> bytes:
        return b"".join(chunk.data for chunk in self.chunks)


class _BootstrapProcess:
    """A bootstrap started against an emulator, ready once it first asks for an event."""

    def __init__(
        self,
        emulator_port: int,
        bootstrap: Path,
        *,
        architecture: Optional[str],
        environment: Optional[Mapping[str, str]],
        memory_size: int,
        timeout: float,
    ) -> None:
        self.bootstrap = Path(bootstrap).resolve()
        self._prefix = runner_prefix(_architecture_of(self.bootstrap, architecture))
        self._relay = _FirstRequestRelay(emulator_port)
        self._env = _runtime_environment(self.bootstrap, self._relay.port, memory_size, environment)
        self._timeout = timeout
        # The bootstrap writes through its own handle; this process reads through another (one
        # shared file offset would move the writer's position on every read).
        self._log_dir = tempfile.TemporaryDirectory(prefix="constructs-rust-invoke-")
        log_path = Path(self._log_dir.name) / "bootstrap.log"
        self._log = open(log_path, "wb")
        self._reader = open(log_path, "rb")
        self._read = ""
        self._pending = ""
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self.init_seconds = 0.0
        self.logs = ""
        """Everything the bootstrap wrote (complete once the process is stopped)."""

    def read_new(self) -> str:
        """What the bootstrap wrote since the last call (after the stop: what was left)."""
        if self._reader.closed:
            new, self._pending = self._pending, ""
            return new
        new = self._reader.read().decode(errors="replace")
        self._read += new
        return new

    def poll(self) -> Optional[int]:
        """The exit status once the bootstrap ended (negative: the signal that ended it), else
        None. What Lambda reports as ``Runtime.ExitError`` when an event is pending."""
        proc = self._proc
        return None if proc is None else proc.poll()

    def kill(self) -> None:
        """End the bootstrap at once (SIGKILL), as Lambda ends a timed-out environment."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    def __enter__(self) -> "_BootstrapProcess":
        started = time.monotonic()
        self._proc = subprocess.Popen(
            [*self._prefix, str(self.bootstrap)],
            env=self._env,
            cwd=self.bootstrap.parent,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            while self._relay.first_request_at is None:
                if self._proc.poll() is not None:
                    raise RuntimeError(
                        f"bootstrap exited with {self._proc.returncode} before asking for an "
                        f"event:\n{self.read_new()}"
                    )
                if time.monotonic() > started + self._timeout:
                    raise TimeoutError("bootstrap never asked for an event")
                time.sleep(0.002)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.init_seconds = self._relay.first_request_at - started
        return self

    def __exit__(self, *exc: Any) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._relay.close()
        if not self._reader.closed:
            self._log.close()
            self._pending = self._reader.read().decode(errors="replace")
            self.logs = self._read + self._pending
            self._reader.close()
            self._log_dir.cleanup()


def _body(event: Any) -> bytes:
    body = event if isinstance(event, (bytes, str)) else json.dumps(event)
    return body.encode() if isinstance(body, str) else body


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


# --- Extensions: function + external extensions against lambda-simulator -----------------------

#: The harness crate shipped with this package (see extension_harness/src/main.rs).
_HARNESS_SOURCE = Path(__file__).resolve().parent.parent / "extension_harness"
_HARNESS_BIN = "constructs-rust-extension-harness"


@dataclass(frozen=True)
class ExtensionRegistration:
    """One extension as the Extensions API saw it during INIT."""

    name: str
    """The name it registered with (lambda-extension uses the executable's file name)."""
    events: Tuple[str, ...]
    """The lifecycle events it registered for, e.g. ``("INVOKE", "SHUTDOWN")``."""
    spawn_to_register_seconds: Optional[float]
    """Process start → ``/extension/register``."""
    register_to_ready_seconds: Optional[float]
    """``/extension/register`` → first ``/extension/event/next`` (ready for events)."""


@dataclass(frozen=True)
class SimulatedInvoke:
    request_id: str
    status: str
    """``success``, ``error`` or ``timeout``."""
    payload: Any
    error: Optional[Dict[str, Any]]
    duration_seconds: Optional[float]
    """The runtime took the event → posted the response."""
    extension_overhead_seconds: Optional[float]
    """Response posted → every INVOKE-subscribed extension asked for its next event."""


@dataclass(frozen=True)
class ExtensionRun:
    """What happened in one simulated execution environment, INIT to SHUTDOWN."""

    registrations: Tuple[ExtensionRegistration, ...]
    """``ExtensionRegistration`` per extension, in registration order."""
    runtime_init_seconds: float
    """Extensions ready → the runtime's first ``/next`` (process start included)."""
    invocations: Tuple[SimulatedInvoke, ...]
    """``SimulatedInvoke`` per event, in order."""
    shutdown_acknowledged: bool
    """Every SHUTDOWN-subscribed extension asked for its next event after SHUTDOWN in time."""
    shutdown_seconds: float
    """SHUTDOWN sent → acknowledged by all (or the shutdown timeout)."""
    telemetry: Tuple[Dict[str, Any], ...]
    """Telemetry API records the simulator emitted (``{"type", "time", "record"}`` dicts)."""
    function_logs: str
    extension_logs: Dict[str, str]
    """stdout+stderr of each extension, by its file name."""
    function_exit_code: Optional[int]
    extension_exit_codes: Tuple[Optional[int], ...]


def _harness_dir() -> Path:
    # Not cache_root(): tests isolate that per session, and the harness (keyed by the digest of
    # its sources) is a tool worth building once per machine.
    explicit = settings.harness_dir()
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "constructs-rust" / "extension-harness"


def harness_binary() -> Path:
    """The extension harness, built with cargo on first use (about 1-3 min) and then reused."""
    from .._support.disk_memo import digest
    from .._support.locks import locked

    sources = [_HARNESS_SOURCE / "Cargo.toml", _HARNESS_SOURCE / "Cargo.lock"]
    sources += sorted((_HARNESS_SOURCE / "src").glob("*.rs"))
    key = digest([p.name.encode() + b"\0" + p.read_bytes() for p in sources])[:16]
    home = _harness_dir()
    binary = home / "bin" / f"{_HARNESS_BIN}-{key}"
    if binary.is_file():
        return binary
    with locked(home / ".lock"):
        if binary.is_file():
            return binary
        target = home / "target"
        env = dict(os.environ, CARGO_TARGET_DIR=str(target))
        for name in ("CARGO_BUILD_TARGET", "CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS"):
            env.pop(name, None)
        proc = subprocess.run(
            [
                "cargo",
                "build",
                "--locked",
                "--manifest-path",
                str(_HARNESS_SOURCE / "Cargo.toml"),
                "--color",
                "never",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"building the extension harness failed:\n{proc.stderr[-4000:]}")
        binary.parent.mkdir(parents=True, exist_ok=True)
        tmp = binary.with_name(f".{binary.name}.tmp")
        shutil.copy2(target / "debug" / _HARNESS_BIN, tmp)
        os.replace(tmp, binary)
    return binary


def extension_path(extension: lambda_.LayerVersion) -> Path:
    """The built ``extensions/<binary>`` of a RustExtension in the synthesized cloud assembly."""
    asset = extension.node.try_find_child("Code")
    binary = getattr(extension, "binary_name", None)
    stage = cdk.Stage.of(extension)
    if not isinstance(asset, s3_assets.Asset) or stage is None or not binary:
        raise ValueError(f"{extension.node.path} is not a RustExtension with a built binary")
    staged = Path(stage.asset_outdir) / asset.asset_path
    path: Path = staged / "extensions" / str(binary)
    if not path.is_file() or (staged / PLACEHOLDER).exists():
        raise FileNotFoundError(
            f"{path} is not built yet: synthesize the app first (and make sure the stack needs "
            "bundling)"
        )
    return path


class ExtensionSimulator:
    """Run a function bootstrap with external extensions next to it, as Lambda does.

    cargo-lambda's emulator (``LambdaEmulator``) registers extensions and sends them INVOKE,
    but with ``--only-lambda-apis`` never SHUTDOWN, and it delivers no Telemetry/Logs API
    data. This uses the ``lambda-simulator`` crate instead (Runtime, Extensions and Telemetry
    APIs), through a small harness built with cargo on first use. One ``run`` is one execution
    environment: INIT (extensions register and get ready, then the runtime starts), one INVOKE
    per event, SHUTDOWN (SIGTERM to the runtime, SHUTDOWN to the extensions), then every
    process is stopped. arm64 binaries run under qemu-user (``EmulationUnavailable`` without).

    The simulator's telemetry has platform records only (``platform.start``, ``report``, ...):
    it does not forward the function's own log lines as ``function`` records.
    """

    def __init__(
        self,
        *,
        function_name: str = "function",
        memory_size: int = 128,
        invocation_timeout: float = 60,
        init_timeout: float = 60,
        shutdown_timeout: float = 2,
    ) -> None:
        self.function_name = function_name
        self.memory_size = memory_size
        self.invocation_timeout = invocation_timeout
        self.init_timeout = init_timeout
        self.shutdown_timeout = shutdown_timeout

    def run(
        self,
        bootstrap: Path,
        extensions: Sequence[Path],
        events: Sequence[Any],
        *,
        architecture: Optional[str] = None,
        environment: Optional[Mapping[str, str]] = None,
    ) -> ExtensionRun:
        """Start the extensions and ``bootstrap``, send ``events``, shut down; report.

        ``architecture``: ``x86_64`` or ``arm64``, the one to run the function and the
        extensions as. Default: None, the architecture the bootstrap's ELF header names; an
        extension built for another one is then a ValueError (Lambda would fail it with an exec
        format error). ``environment`` goes to the function and the extensions (Lambda gives
        extensions the function's variables). Default: none. Raises RuntimeError with the logs
        when a phase fails.
        """
        bootstrap = Path(bootstrap).resolve()
        ext_paths = [Path(e).resolve() for e in extensions]
        arch = _architecture_of(bootstrap, architecture)
        if architecture is None:
            for extension in ext_paths:
                other = binary_architecture(extension)
                if other != arch:
                    raise ValueError(
                        f"extension {extension} is built for {other} but the bootstrap "
                        f"{bootstrap} for {arch}: Lambda would fail the extension with an exec "
                        "format error; build both for one architecture"
                    )
        prefix = runner_prefix(arch)
        harness = harness_binary()
        env = {"RUST_LOG": "info", "LAMBDA_TASK_ROOT": str(bootstrap.parent)}
        env.update(environment or {})
        with tempfile.TemporaryDirectory(prefix="constructs-rust-ext-") as tmp:
            work = Path(tmp)
            scenario = {
                "function": {
                    "argv": [*prefix, str(bootstrap)],
                    "env": env,
                    "log": str(work / "function.log"),
                },
                "extensions": [
                    {"argv": [*prefix, str(p)], "env": env, "log": str(work / f"ext-{i}.log")}
                    for i, p in enumerate(ext_paths)
                ],
                "events": [_as_json(e) for e in events],
                "function_name": self.function_name,
                "memory_size": self.memory_size,
                "invocation_timeout_ms": int(self.invocation_timeout * 1000),
                "init_timeout_ms": int(self.init_timeout * 1000),
                "shutdown_timeout_ms": int(self.shutdown_timeout * 1000),
            }
            (work / "scenario.json").write_text(json.dumps(scenario))
            deadline = self.init_timeout + self.invocation_timeout * (len(events) + 1) + 30
            proc = subprocess.run(
                [str(harness), str(work / "scenario.json")],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=deadline,
            )

            def read(path: Path) -> str:
                return path.read_text(errors="replace") if path.exists() else ""

            function_logs = read(work / "function.log")
            extension_logs = {p.name: read(work / f"ext-{i}.log") for i, p in enumerate(ext_paths)}
        if proc.returncode != 0 or not proc.stdout.strip():
            raise RuntimeError(
                f"extension harness failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
            )
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        if not report["ok"]:
            logs = "\n".join(f"--- {n} ---\n{t}" for n, t in extension_logs.items())
            raise RuntimeError(
                f"{report['error']}\n--- function ---\n{function_logs}\n{logs}".rstrip()
            )

        def seconds(ms: Optional[float]) -> Optional[float]:
            return None if ms is None else ms / 1000.0

        return ExtensionRun(
            registrations=tuple(
                ExtensionRegistration(
                    name=r["name"],
                    events=tuple(r["events"]),
                    spawn_to_register_seconds=seconds(r["spawn_to_register_ms"]),
                    register_to_ready_seconds=seconds(r["register_to_ready_ms"]),
                )
                for r in report["registrations"]
            ),
            runtime_init_seconds=report["runtime_init_ms"] / 1000.0,
            invocations=tuple(
                SimulatedInvoke(
                    request_id=i["request_id"],
                    status=i["status"],
                    payload=i["response"],
                    error=i["error"],
                    duration_seconds=seconds(i["duration_ms"]),
                    extension_overhead_seconds=seconds(i["extension_overhead_ms"]),
                )
                for i in report["invocations"]
            ),
            shutdown_acknowledged=report["shutdown_acknowledged"],
            shutdown_seconds=report["shutdown_ms"] / 1000.0,
            telemetry=tuple(report["telemetry"]),
            function_logs=function_logs,
            extension_logs=extension_logs,
            function_exit_code=report["function_exit_code"],
            extension_exit_codes=tuple(report["extension_exit_codes"]),
        )

    def run_function(
        self, function: lambda_.Function, events: Sequence[Any], **kwargs: Any
    ) -> ExtensionRun:
        """Run a synthesized RustFunction with every RustExtension layer it lists."""
        from ..extension import RustExtension, layers_of

        extensions = [
            extension_path(layer)
            for layer in layers_of(function)
            if isinstance(layer, RustExtension)
        ]
        return self.run(
            bootstrap_path(function),
            extensions,
            events,
            architecture=function.architecture.name,
            **kwargs,
        )


def _as_json(event: Any) -> Any:
    if isinstance(event, bytes):
        event = event.decode()
    if isinstance(event, str):
        try:
            return json.loads(event)
        except ValueError:
            return event
    return event
