"""One function of the assembly running locally: its staged ``bootstrap`` as a process against
its own runtime API emulator (``constructs_rust.testing.LambdaEmulator``), with the template's
environment, memory and architecture (arm64 under qemu-user on x86_64 hosts)."""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Tuple

from ..testing import EmulationUnavailable, LambdaEmulator
from .failures import (
    REQUEST_LIMIT,
    RESPONSE_LIMIT,
    STREAM_LIMIT,
    Failure,
    request_too_large,
    response_too_large,
)
from .logtail import invocation_log
from .model import LocalError, LocalFunction
from .watchdog import Running, Watchdog, read_limited

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
    log: Callable[[], str] = field(default=lambda: "")
    """The invocation's log (``LogType=Tail``), once the body was read."""

    @property
    def error(self) -> bool:
        return self.failure is not None or self.status != 200


def environment_of(function: LocalFunction, overrides: Mapping[str, str]) -> Dict[str, str]:
    """The template's resolvable variables, ``AWS_LAMBDA_MAX_CONCURRENCY`` on Managed
    Instances (as Lambda sets it), then the caller's ``--env`` values."""
    managed = {}
    if function.max_concurrency is not None:
        managed["AWS_LAMBDA_MAX_CONCURRENCY"] = str(function.per_environment)
    return {**function.environment, **managed, **overrides}


def unresolved_warnings(function: LocalFunction, overrides: Mapping[str, str]) -> List[str]:
    """One line per variable the template sets to a deploy-time value (not set locally)."""
    return [
        f"{function.path}: environment variable {name} is {json.dumps(value)} in the template, "
        f"known only once deployed: not set (give --env {name}=VALUE)"
        for name, value in sorted(function.unresolved.items())
        if name not in overrides
    ]


class FunctionProcess:
    """Start with ``start()``, send events with ``invoke()``, restart with ``restart(new)``,
    stop with ``stop()``. One event at a time on classic Lambda; on Managed Instances the
    runtime (told ``AWS_LAMBDA_MAX_CONCURRENCY``) takes several at once, and this takes any
    number: the caller (``FunctionPool``) counts them. What the bootstrap writes goes to
    ``log`` line by line as it comes, and to the log of each event in flight."""

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
        self._cond = threading.Condition(threading.RLock())
        self._inflight = 0
        self._generation = 0
        self._stack: Optional[ExitStack] = None
        self._emulator: Optional[LambdaEmulator] = None
        self._process: Optional[Running] = None
        self._pump_stop = threading.Event()
        self._pump_thread: Optional[threading.Thread] = None
        self._output = threading.RLock()
        self._pending = ""
        self._recorders: List[List[str]] = []

    def start(self) -> None:
        with self._cond:
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
            self._generation += 1
            self._pump_stop = threading.Event()
            self._pump_thread = threading.Thread(
                target=self._pump, args=(process, self._pump_stop), daemon=True
            )
            self._pump_thread.start()

    def _pump(self, process: Running, stop: threading.Event) -> None:
        while True:
            stopped = stop.wait(0.1)
            self._drain(process, final=stopped)
            if stopped:
                return

    def _drain(self, process: Running, final: bool = False) -> None:
        """What ``process`` wrote since the last read, whole lines (and the rest when
        ``final``), to the log and to each event in flight."""
        with self._output:
            self._pending += process.read_new()
            *lines, self._pending = self._pending.split("\n")
            if final and self._pending:
                lines.append(self._pending)
                self._pending = ""
            for line in lines:
                self._emit(line)

    def _emit(self, line: str) -> None:
        with self._output:
            self._log(line)
            for recorder in self._recorders:
                recorder.append(line)

    def stop(self) -> None:
        """Stop, once every event in flight is answered."""
        with self._cond:
            while self._inflight:
                self._cond.wait()
            self._stop_now()

    def _stop_now(self) -> None:
        with self._cond:
            stack, self._stack = self._stack, None
            if stack is not None:
                self._pump_stop.set()
                if self._pump_thread is not None:
                    self._pump_thread.join()
                process, self._emulator, self._process = self._process, None, None
                stack.close()  # stops the bootstrap, then the emulator
                if process is not None:  # what it wrote while stopping
                    self._drain(process, final=True)

    def _replace(self, generation: int) -> None:
        """A fresh environment for the next event: stop this one (once the others in flight
        are answered) unless it was already replaced."""
        with self._cond:
            while self._inflight and generation == self._generation:
                self._cond.wait()
            if generation == self._generation:
                self._stop_now()

    def shutdown(self) -> None:
        """Stop now, also while an event is in flight (its invoke fails at once, as the
        runtime is killed, instead of holding the stop until the function's timeout)."""
        process = self._process
        if process is not None:
            process.kill()
        self.stop()

    def restart(self, function: LocalFunction) -> None:
        """Stop (once the events in flight are answered) and start ``function``'s build."""
        with self._cond:
            self.stop()
            self.function = function
            self.start()

    def _enter(self) -> Tuple[int, LambdaEmulator, Running]:
        """Count one more event in flight, on a running environment (a fresh one when the
        runtime exited between events)."""
        with self._cond:
            while self._process is not None and self._process.poll() is not None:
                if not self._inflight:
                    self._log("the runtime exited between events: starting a fresh one")
                    self._stop_now()
                    break
                self._cond.wait(0.05)  # those in flight fail at once; then a fresh one
            if self._emulator is None:
                self.start()
            assert self._emulator is not None and self._process is not None
            self._inflight += 1
            return self._generation, self._emulator, self._process

    def _leave(self, generation: int, process: Running, recorder: List[str], replace: bool) -> None:
        try:
            with self._output:
                try:
                    self._drain(process)  # what it wrote for this event is its, not the next's
                finally:  # by identity: ``list.remove`` takes the first EQUAL list, another's
                    self._recorders = [r for r in self._recorders if r is not recorder]
        finally:  # whatever happened, the event is no longer in flight (or ``_enter`` waits)
            with self._cond:
                self._inflight -= 1
                self._cond.notify_all()
        if replace:
            self._replace(generation)

    @contextmanager
    def invoke(self, body: bytes) -> Iterator[Answer]:
        """Send one event: ``with process.invoke(body) as answer``. The environment is held
        until the block ends, so a streamed body can be relayed as it arrives; once the body
        is read, ``answer.log()`` is the invocation's log (``LogType=Tail``).

        As Lambda: the function's timeout ends the invoke at that moment (SIGKILL, the
        ``Sandbox.Timedout`` error); a runtime that exits or is killed while the event is
        pending fails it at once (``Runtime.ExitError``); both replace the execution
        environment (the next event starts a fresh process). An event over 6 MiB is refused
        before it reaches the function, a buffered response over Lambda's limit is replaced by
        ``Function.ResponseSizeTooLarge``, a stream over 200 MiB is cut."""
        request_id = str(uuid.uuid4())
        if len(body) > REQUEST_LIMIT:
            refused = request_too_large(len(body))
            yield Answer(413, [], False, iter([refused.body]), refused, request_id)
            return
        generation, emulator, process = self._enter()
        recorder: List[str] = []
        with self._output:
            self._recorders.append(recorder)
        began = time.monotonic()
        replace = False
        try:
            timeout = float(self.function.timeout)
            connection = http.client.HTTPConnection(
                "127.0.0.1", emulator.port, timeout=timeout + 60
            )
            watch = Watchdog(process, connection, timeout, request_id)
            try:
                answer = self._send(connection, watch, emulator, body, request_id)
            except LocalError:
                replace = True
                raise
            memory = self.function.memory_size

            def log() -> str:
                self._drain(process)
                lines = list(recorder)
                return invocation_log(request_id, lines, time.monotonic() - began, memory)

            answer.log = log
            try:
                yield answer
            except LocalError:  # the emulator failed mid-stream: a fresh one next time
                replace = True
                raise
            finally:
                connection.close()
                if watch.finish() is not None:
                    replace = True  # timed out, exited, a stream cut short
        finally:
            self._leave(generation, process, recorder, replace)

    def _send(
        self,
        connection: http.client.HTTPConnection,
        watch: Watchdog,
        emulator: LambdaEmulator,
        body: bytes,
        request_id: str,
    ) -> Answer:
        """The answer, once its status and headers came (a buffered body read whole)."""
        error: Optional[BaseException] = None
        try:
            connection.connect()
            watch.start()
            connection.request(
                "POST",
                emulator.invocations_path,
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
                return answer
            data = read_limited(response, RESPONSE_LIMIT)
            failure = watch.finish()
            if failure is not None:
                return self._failed_with(failure, request_id)
            if data is None:
                failure = response_too_large(RESPONSE_LIMIT)
                self._emit(failure.message)
                return Answer(200, [], False, iter([failure.body]), failure, request_id)
            return Answer(response.status, headers, False, iter([data]), None, request_id)
        except (OSError, http.client.HTTPException) as exc:
            failure = watch.finish()
            if failure is not None:
                return self._failed_with(failure, request_id)
            error = exc
        except BaseException:  # Ctrl-C: nothing left waiting on the emulator
            connection.close()
            watch.finish()
            raise
        connection.close()
        raise self._failed(error)

    def _relay(
        self, response: http.client.HTTPResponse, watch: Watchdog, answer: Answer
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
                    self._emit(answer.failure.message)
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
            self._emit(f"{stamp}Z {request_id} Task timed out after {seconds}")
        else:
            self._emit(failure.payload["errorMessage"])
            self._emit(failure.payload["errorType"])

    def _failed_with(self, failure: Failure, request_id: str) -> Answer:
        """The answer Lambda gives for ``failure``; the environment is replaced once the
        answer is given (the end of the ``invoke`` block)."""
        self._report(failure)
        return Answer(200, [], False, iter([failure.body]), failure, request_id)

    def _failed(self, exc: BaseException) -> LocalError:
        """An invoke that got no (whole) answer, the runtime still running: the emulator
        failed, so the next event gets a fresh one (the caller replaces the environment)."""
        return LocalError(f"{self.function.path}: the invoke failed ({exc}); restarting it")


def prefixed(path: str) -> Callable[[str], None]:
    """A log sink writing ``[path] line`` to stderr."""

    def write(line: str) -> None:
        sys.stderr.write(f"[{path}] {line}\n")
        sys.stderr.flush()

    return write
