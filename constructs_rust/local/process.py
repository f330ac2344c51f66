"""One function of the assembly running locally: its staged ``bootstrap`` as a process against
its own runtime API emulator (``constructs_rust.testing.LambdaEmulator``), with the template's
environment, memory and architecture (arm64 under qemu-user on x86_64 hosts)."""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Protocol, Tuple

from ..testing import EmulationUnavailable, LambdaEmulator
from .failures import (
    REQUEST_LIMIT,
    RESPONSE_LIMIT,
    STREAM_LIMIT,
    Failure,
    exited,
    request_too_large,
    response_too_large,
    timed_out,
)
from .model import LocalError, LocalFunction

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

    def poll(self) -> Optional[int]: ...

    def kill(self) -> None: ...


#: How long a response already on its way gets once the runtime has exited (it may exit right
#: after answering).
_EXIT_GRACE = 0.1


@dataclass
class Answer:
    """The answer to one event: status (200, or 500 for a function error), the function's
    headers (streamed answers), and the body as it arrives. ``failure`` is set (before the
    answer is given, or when its stream ends early) when Lambda itself fails the invoke: the
    function timed out, its runtime exited, the response was over the limit."""

    status: int
    headers: List[Tuple[str, str]]
    streamed: bool
    chunks: Iterator[bytes]
    failure: Optional[Failure] = None
    request_id: str = ""

    @property
    def error(self) -> bool:
        return self.failure is not None or self.status != 200


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
        emulator: Optional[LambdaEmulator] = None,
    ) -> None:
        self.function = function
        self.emulator = emulator
        """An emulator already started, for the first start (then its own each time)."""
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
                emulator, self.emulator = self.emulator, None
                if emulator is None:
                    emulator = stack.enter_context(LambdaEmulator())
                else:  # started beforehand (``local invoke``, while it imported)
                    stack.push(emulator)
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

    def shutdown(self) -> None:
        """Stop now, also while an event is in flight (its invoke fails at once, as the
        runtime is killed, instead of holding the stop until the function's timeout)."""
        process = self._process
        if process is not None:
            process.kill()
        self.stop()

    def restart(self, function: LocalFunction) -> None:
        """Stop (once the event in flight is answered) and start ``function``'s build."""
        with self._lock:
            self.stop()
            self.function = function
            self.start()

    @contextmanager
    def invoke(self, body: bytes) -> Iterator[Answer]:
        """Send one event: ``with process.invoke(body) as answer``. The process is held until
        the block ends, so a streamed body can be relayed as it arrives.

        As Lambda: the function's timeout ends the invoke at that moment (SIGKILL, the
        ``Sandbox.Timedout`` error); a runtime that exits or is killed while the event is
        pending fails it at once (``Runtime.ExitError``); both replace the execution
        environment (the next event starts a fresh process). An event over 6 MiB is refused
        before it reaches the function, a buffered response over Lambda's limit is replaced by
        ``Function.ResponseSizeTooLarge``, a stream over 200 MiB is cut."""
        with self._lock:
            request_id = str(uuid.uuid4())
            if len(body) > REQUEST_LIMIT:
                refused = request_too_large(len(body))
                yield Answer(413, [], False, iter([refused.body]), refused, request_id)
                return
            if self._process is not None and self._process.poll() is not None:
                self._log("the runtime exited between events: starting a fresh one")
                self.stop()
            if self._emulator is None:
                self.start()
            assert self._emulator is not None and self._process is not None
            timeout = float(self.function.timeout)
            connection = http.client.HTTPConnection(
                "127.0.0.1", self._emulator.port, timeout=timeout + 60
            )
            watch = _Watchdog(self._process, connection, timeout, request_id)
            answer: Optional[Answer] = None
            error: Optional[BaseException] = None
            try:
                connection.connect()
                watch.start()
                connection.request(
                    "POST",
                    self._emulator.invocations_path,
                    body=body,
                    headers={"Content-Type": "application/json"},
                )
                response = connection.getresponse()
                mode = response.getheader("Lambda-Runtime-Function-Response-Mode", "")
                headers = [
                    (k, v) for k, v in response.getheaders() if k.lower() not in _EMULATOR_HEADERS
                ]
                if mode.lower() == "streaming":
                    answer = Answer(response.status, headers, True, iter(()), None, request_id)
                    answer.chunks = self._relay(response, watch, answer)
                else:
                    data = _read_limited(response, RESPONSE_LIMIT)
                    failure = watch.finish()
                    if failure is not None:
                        answer = self._failed_with(failure, request_id)
                    elif data is None:
                        failure = response_too_large(RESPONSE_LIMIT)
                        self._log(failure.message)
                        answer = Answer(200, [], False, iter([failure.body]), failure, request_id)
                    else:
                        answer = Answer(
                            response.status, headers, False, iter([data]), None, request_id
                        )
            except (OSError, http.client.HTTPException) as exc:
                failure = watch.finish()
                if failure is None:
                    error = exc
                else:
                    answer = self._failed_with(failure, request_id)
            except BaseException:  # Ctrl-C: nothing left waiting on the emulator
                connection.close()
                watch.finish()
                raise
            if answer is None:
                connection.close()
                raise self._failed(error or RuntimeError("no answer")) from None
            try:
                yield answer
            finally:
                connection.close()
                if watch.finish() is not None and self._emulator is not None:
                    self.stop()  # timed out, exited, a stream cut short: a fresh environment

    def _relay(
        self, response: http.client.HTTPResponse, watch: "_Watchdog", answer: Answer
    ) -> Iterator[bytes]:
        """A streamed body as it arrives; ends early (``answer.failure`` set) on a timeout, an
        exit of the runtime or the stream limit."""
        size = 0
        try:
            while True:
                data = response.read1(65536)
                if not data:
                    break
                size += len(data)
                if size > STREAM_LIMIT:
                    answer.failure = response_too_large(STREAM_LIMIT)
                    self._log(answer.failure.message)
                    watch.abort(answer.failure)
                    return
                yield data
        except (OSError, http.client.HTTPException) as exc:
            failure = watch.finish()
            if failure is None:
                raise self._failed(exc) from None
        failure = watch.finish()
        if failure is not None and answer.failure is None:
            answer.failure = failure
            self._report(failure)

    def _report(self, failure: Failure) -> None:
        if failure.kind == "timeout":
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            request_id = failure.payload["errorMessage"].split()[1]
            seconds = failure.payload["errorMessage"].rsplit("after ", 1)[-1]
            self._log(f"{stamp}Z {request_id} Task timed out after {seconds}")
        else:
            self._log(failure.payload["errorMessage"])
            self._log(failure.payload["errorType"])

    def _failed_with(self, failure: Failure, request_id: str) -> Answer:
        """The answer Lambda gives for ``failure``; the environment is replaced once the
        answer is given (the end of the ``invoke`` block)."""
        self._report(failure)
        return Answer(200, [], False, iter([failure.body]), failure, request_id)

    def _failed(self, exc: BaseException) -> LocalError:
        """An invoke that got no (whole) answer, the runtime still running: the emulator
        failed, so the next event gets a fresh one."""
        self.stop()
        return LocalError(f"{self.function.path}: the invoke failed ({exc}); restarting it")


def _read_limited(response: http.client.HTTPResponse, limit: int) -> Optional[bytes]:
    """The whole body, or None when it is longer than ``limit`` (read to its end anyway)."""
    parts: List[bytes] = []
    size = 0
    while True:
        data = response.read1(65536)
        if not data:
            break
        size += len(data)
        if size <= limit:
            parts.append(data)
    return b"".join(parts) if size <= limit else None


class _Watchdog:
    """Watches one invoke: at the function's timeout it kills the runtime; when the runtime
    exits first it notes how. Either way it shuts the invoke's socket, so the reader stops
    waiting for an answer the emulator would never give."""

    def __init__(
        self,
        process: _Running,
        connection: http.client.HTTPConnection,
        timeout: float,
        request_id: str,
    ) -> None:
        self._process = process
        self._connection = connection
        self._timeout = timeout
        self._request_id = request_id
        self._done = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.failure: Optional[Failure] = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + self._timeout
        while not self._done.wait(0.01):
            code = self._process.poll()
            if code is not None:
                if self._done.wait(_EXIT_GRACE):  # its answer got out before it exited
                    return
                self.failure = exited(self._request_id, code)
                break
            if time.monotonic() >= deadline:
                self.failure = timed_out(self._request_id, self._timeout)
                self._process.kill()
                break
        else:
            return
        self._shut()

    def _shut(self) -> None:
        sock = self._connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def abort(self, failure: Failure) -> None:
        """End the invoke from the reader's side (a stream over the limit)."""
        self.failure = failure
        self._done.set()
        self._shut()

    def finish(self) -> Optional[Failure]:
        """Stop watching; the failure, if one ended the invoke."""
        self._done.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        return self.failure


def prefixed(path: str) -> Callable[[str], None]:
    """A log sink writing ``[path] line`` to stderr."""

    def write(line: str) -> None:
        sys.stderr.write(f"[{path}] {line}\n")
        sys.stderr.flush()

    return write
