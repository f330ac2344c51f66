"""``LambdaEmulator``: cargo-lambda's Lambda runtime API (``cargo lambda watch
--only-lambda-apis``) with a function's bootstrap against it: one invoke, N concurrent ones
(Managed Instances), or a streamed response read piece by piece."""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .._support import lifeline
from .bootstrap import (
    DEFAULT_FUNCTION,
    BootstrapProcess,
    bootstrap_path,
    cargo_lambda_binary,
    free_port,
    request_body,
    wait_port,
)

if TYPE_CHECKING:
    from aws_cdk import aws_lambda as lambda_


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


class LambdaEmulator:
    """cargo-lambda's runtime API emulator on 127.0.0.1, started and stopped by its own PID."""

    def __init__(self, *, port: Optional[int] = None, startup_timeout: float = 60) -> None:
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._dir: Optional[tempfile.TemporaryDirectory[str]] = None

    def __enter__(self) -> "LambdaEmulator":
        cargo_lambda = cargo_lambda_binary()
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
        lifeline.watch(self._proc.pid, group=True)
        try:
            wait_port(self.port, self.startup_timeout, self._proc)
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
        if self._proc is not None:
            lifeline.forget(self._proc.pid)
        self._proc = None
        if self._dir is not None:
            self._log.close()
            self._dir.cleanup()
            self._dir = None

    #: The path of the emulator's Invoke API for the function its bootstraps serve.
    invocations_path = f"/2015-03-31/functions/{DEFAULT_FUNCTION}/invocations"

    def start(
        self,
        bootstrap: Path,
        *,
        architecture: Optional[str] = None,
        environment: Optional[Mapping[str, str]] = None,
        timeout: float = 120,
        memory_size: int = 128,
    ) -> "BootstrapProcess":
        """``bootstrap`` against this emulator, left running: a context manager whose entry
        waits until the runtime asks for its first event and whose exit stops it. Send it
        events with POST to ``invocations_path`` on ``port`` (one at a time, as Lambda does);
        its ``read_new()`` is what it wrote since the last call. Keyword arguments: as for
        ``invoke_many``."""
        return BootstrapProcess(
            self.port,
            bootstrap,
            architecture=architecture,
            environment=environment,
            memory_size=memory_size,
            timeout=timeout,
        )

    def _post(self, body: bytes, timeout: float) -> str:
        import urllib.error  # here: `local`, which never calls this, starts without ssl
        import urllib.request

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
                raw = self._post(request_body(event), timeout)
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
                threading.Thread(target=send, args=(i, request_body(e)), daemon=True)
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
                    f"/2015-03-31/functions/{DEFAULT_FUNCTION}/invocations",
                    body=request_body(event),
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
