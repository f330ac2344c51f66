"""One function of the assembly running locally: its staged ``bootstrap`` as a process against
its own runtime API emulator (``constructs_rust.testing.LambdaEmulator``), with the template's
environment, memory and architecture (arm64 under qemu-user on x86_64 hosts)."""

from __future__ import annotations

import http.client
import json
import sys
import threading
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Protocol, Tuple

from ..testing import EmulationUnavailable, LambdaEmulator
from .assembly import LocalError, LocalFunction

#: Seconds a bootstrap gets to ask for its first event (qemu-user start-up included).
START_SECONDS = 60
#: Headers of the emulator's own answer that are not the function's.
_EMULATOR_HEADERS = {
    "access-control-allow-credentials",
    "connection",
    "content-length",
    "date",
    "lambda-runtime-function-response-mode",
    "transfer-encoding",
    "vary",
}


class _Running(Protocol):
    def read_new(self) -> str: ...


@dataclass(frozen=True)
class Answer:
    """The emulator's answer to one event: status (200, or 500 for a function error), the
    function's headers (streamed answers), and the body as it arrives."""

    status: int
    headers: List[Tuple[str, str]]
    streamed: bool
    chunks: Iterator[bytes]


def environment_of(function: LocalFunction, overrides: Mapping[str, str]) -> Dict[str, str]:
    """The template's resolvable variables, then the caller's ``--env`` values."""
    return {**function.environment, **overrides}


def unresolved_warnings(function: LocalFunction, overrides: Mapping[str, str]) -> List[str]:
    """One line per variable the template sets to a deploy-time value (not set locally)."""
    return [
        f"{function.path}: environment variable {name} is {json.dumps(value)} in the template, "
        f"known only once deployed: not set (give --env {name}=VALUE)"
        for name, value in sorted(function.unresolved.items())
        if name not in overrides
    ]


class FunctionProcess:
    """Start with ``start()``, send events with ``invoke()`` (one at a time: a lock), restart
    with ``restart(new)``, stop with ``stop()``. What the bootstrap writes goes to ``log``
    line by line as it comes."""

    def __init__(
        self,
        function: LocalFunction,
        overrides: Mapping[str, str],
        log: Callable[[str], None],
    ) -> None:
        self.function = function
        self._overrides = dict(overrides)
        self._log = log
        self._lock = threading.RLock()
        self._stack: Optional[ExitStack] = None
        self._emulator: Optional[LambdaEmulator] = None
        self._process: Optional[_Running] = None
        self._pump_stop = threading.Event()
        self._pump_thread: Optional[threading.Thread] = None

    def start(self) -> None:
        with self._lock:
            bootstrap = self.function.bootstrap
            if bootstrap is None:
                raise LocalError(f"{self.function.path} has no staged bootstrap")
            stack = ExitStack()
            try:
                emulator = stack.enter_context(LambdaEmulator())
                process = stack.enter_context(
                    emulator.start(
                        bootstrap,
                        architecture=self.function.architecture,
                        environment=environment_of(self.function, self._overrides),
                        memory_size=self.function.memory_size,
                        timeout=START_SECONDS,
                    )
                )
            except EmulationUnavailable as exc:
                stack.close()
                raise LocalError(f"{self.function.path}: {exc}") from None
            except (RuntimeError, TimeoutError) as exc:
                stack.close()
                raise LocalError(f"{self.function.path} did not start: {exc}") from None
            self._stack, self._emulator, self._process = stack, emulator, process
            self._pump_stop = threading.Event()
            self._pump_thread = threading.Thread(
                target=self._pump, args=(process, self._pump_stop), daemon=True
            )
            self._pump_thread.start()

    def _pump(self, process: _Running, stop: threading.Event) -> None:
        pending = ""
        while True:
            stopped = stop.wait(0.1)
            pending += process.read_new()
            *lines, pending = pending.split("\n")
            for line in lines:
                self._log(line)
            if stopped:
                if pending:
                    self._log(pending)
                return

    def stop(self) -> None:
        with self._lock:
            stack, self._stack = self._stack, None
            if stack is not None:
                self._pump_stop.set()
                if self._pump_thread is not None:
                    self._pump_thread.join()
                process, self._emulator, self._process = self._process, None, None
                stack.close()  # stops the bootstrap, then the emulator
                if process is not None:  # what it wrote while stopping
                    for line in process.read_new().splitlines():
                        self._log(line)

    def restart(self, function: LocalFunction) -> None:
        """Stop (once the event in flight is answered) and start ``function``'s build."""
        with self._lock:
            self.stop()
            self.function = function
            self.start()

    @contextmanager
    def invoke(self, body: bytes) -> Iterator[Answer]:
        """Send one event: ``with process.invoke(body) as answer``. The process is held until
        the block ends, so a streamed body can be relayed as it arrives."""
        with self._lock:
            if self._emulator is None:
                self.start()
            assert self._emulator is not None
            timeout = self.function.timeout + 5
            connection = http.client.HTTPConnection(
                "127.0.0.1", self._emulator.port, timeout=timeout
            )
            try:
                connection.request(
                    "POST",
                    self._emulator.invocations_path,
                    body=body,
                    headers={"Content-Type": "application/json"},
                )
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                raise self._failed(exc) from None
            mode = response.getheader("Lambda-Runtime-Function-Response-Mode", "")
            headers = [
                (k, v) for k, v in response.getheaders() if k.lower() not in _EMULATOR_HEADERS
            ]

            def chunks() -> Iterator[bytes]:
                try:
                    while True:
                        data = response.read1(65536)
                        if not data:
                            return
                        yield data
                except (OSError, http.client.HTTPException) as exc:
                    raise self._failed(exc) from None

            try:
                yield Answer(response.status, headers, mode.lower() == "streaming", chunks())
            finally:
                connection.close()

    def _failed(self, exc: BaseException) -> LocalError:
        """An invoke that got no (whole) answer: the process may have crashed or hung, so the
        next event gets a fresh one, as Lambda replaces a failed execution environment."""
        self.stop()
        return LocalError(f"{self.function.path}: the invoke failed ({exc}); restarting it")


def prefixed(path: str) -> Callable[[str], None]:
    """A log sink writing ``[path] line`` to stderr."""

    def write(line: str) -> None:
        sys.stderr.write(f"[{path}] {line}\n")
        sys.stderr.flush()

    return write
