"""A function's execution environments, as Lambda scales a function out: one process per
environment, started when a request finds no free slot, kept warm after. An environment has
one slot (classic Lambda) or, on Lambda Managed Instances, ``PerExecutionEnvironmentMaxConcurrency``
slots: its one runtime takes that many events at once. Past the function's reserved concurrency
an event is throttled (``Throttled``, Lambda's 429); past the local limit alone
(``DEFAULT_CONCURRENCY`` environments or ``--concurrency``, not a limit Lambda has) it waits
for a slot to free up."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, Mapping, Optional

from .model import LocalError, LocalFunction
from .process import Answer, FunctionProcess

#: Execution environments per function when its template reserves no concurrency.
DEFAULT_CONCURRENCY = 10


class Throttled(LocalError):
    """An event refused because the function is at its reserved concurrency: Lambda's 429
    ``TooManyRequestsException`` (``ReservedFunctionConcurrentInvocationLimitExceeded``)."""

    reason = "ReservedFunctionConcurrentInvocationLimitExceeded"


class FunctionPool:
    """``invoke(body)`` as ``FunctionProcess.invoke``, on an environment with a free slot (a
    new environment when none has one and the limit allows); ``start()`` warms one,
    ``restart(new)`` replaces them (an event in flight is answered by its old environment
    first), ``stop()``/``shutdown()``. ``log(label)`` gives the log sink of an environment
    (``Stack/Fn``, ``Stack/Fn #2``, ...).

    An environment takes ``per_environment`` events at once: 1, or the Managed Instances
    function's ``PerExecutionEnvironmentMaxConcurrency``."""

    def __init__(
        self,
        function: LocalFunction,
        overrides: Mapping[str, str],
        log: Callable[[str], Callable[[str], None]],
        concurrency: Optional[int] = None,
    ) -> None:
        self.function = function
        self.concurrency = concurrency
        self._overrides = dict(overrides)
        self._log = log
        self._cond = threading.Condition()
        self._load: Dict[FunctionProcess, int] = {}
        """Every running environment, with its events in flight."""
        self._starting = 0
        self._stopped = False
        self.started = 0
        """Environments started so far (all builds)."""

    @property
    def reserved(self) -> Optional[int]:
        reserved = self.function.reserved_concurrency
        return reserved if reserved is not None and reserved > 0 else None

    @property
    def limit(self) -> int:
        """At most this many environments: enough for the reserved concurrency, else
        ``concurrency`` (``DEFAULT_CONCURRENCY``)."""
        if self.reserved is not None:
            return -(-self.reserved // self.function.per_environment)
        return max(1, self.concurrency or DEFAULT_CONCURRENCY)

    @property
    def slots(self) -> int:
        """At most this many events at once: the reserved concurrency, else the environments'
        slots."""
        if self.reserved is not None:
            return self.reserved
        return self.limit * self.function.per_environment

    @property
    def environments(self) -> int:
        with self._cond:
            return len(self._load) + self._starting

    def _label(self) -> str:
        return self.function.path if self.started <= 1 else f"{self.function.path} #{self.started}"

    def _spawn(self, function: LocalFunction) -> FunctionProcess:
        """A started environment of ``function`` (``_starting`` was counted by the caller)."""
        with self._cond:
            self.started += 1
            label = self._label()
        process = FunctionProcess(function, self._overrides, self._log(label))
        try:
            process.start()
        except BaseException:
            with self._cond:
                self._starting -= 1
                self._cond.notify_all()
            raise
        return process

    def start(self) -> None:
        """One warm environment, now (a bootstrap that does not start fails here)."""
        with self._cond:
            current = any(p.function == self.function for p in self._load)
            if self._stopped or current or self._starting:
                return
            self._starting += 1
            function = self.function
        process = self._spawn(function)
        with self._cond:
            self._starting -= 1
            self._load[process] = 0
            self._cond.notify_all()

    def _free(self) -> Optional[FunctionProcess]:
        """The first environment of the current build with a free slot (so events pack into
        the environments already running, as one Managed Instances environment takes many)."""
        for process, load in self._load.items():
            if process.function == self.function and load < self.function.per_environment:
                return process
        return None

    def _acquire(self, wait: bool) -> FunctionProcess:
        with self._cond:
            while True:
                if self._stopped:
                    raise LocalError(f"{self.function.path}: stopped")
                busy = sum(self._load.values()) + self._starting
                free = self._free() if busy < self.slots else None
                if free is not None:
                    self._load[free] += 1
                    return free
                if self.reserved is not None and busy >= self.reserved and not wait:
                    raise Throttled(
                        f"{self.function.path}: Rate Exceeded: its reserved concurrency "
                        f"({self.reserved}) is in use (TooManyRequestsException)"
                    )
                current = sum(1 for p in self._load if p.function == self.function)
                # an environment starting takes several events once up: wait for it
                if busy < self.slots and current + self._starting < self.limit:
                    if not self._starting or self.function.per_environment == 1:
                        self._starting += 1
                        function = self.function
                        break
                self._cond.wait()
        process = self._spawn(function)
        with self._cond:
            self._starting -= 1
            self._load[process] = 1
            self._cond.notify_all()  # its other slots, for those waiting
        return process

    def _release(self, process: FunctionProcess) -> None:
        with self._cond:
            self._load[process] -= 1
            retired = self._stopped or process.function != self.function
            if retired and not self._load[process]:
                del self._load[process]
            else:
                retired = False
            self._cond.notify_all()
        if retired:
            process.stop()

    @contextmanager
    def invoke(self, body: bytes, wait: bool = False) -> Iterator[Answer]:
        """One event on a free slot. At the function's reserved concurrency the event is
        refused (``Throttled``) as Lambda throttles it, unless ``wait`` (an asynchronous
        invoke, which Lambda queues); under the local limit alone it waits for a slot."""
        process = self._acquire(wait)
        try:
            with process.invoke(body) as answer:
                yield answer
        finally:
            self._release(process)

    def restart(self, function: LocalFunction) -> None:
        """Serve ``function`` (a new build or new settings): idle environments stop now, busy
        ones once their event is answered; one new environment is started when any ran."""
        with self._cond:
            self.function = function
            warm = bool(self._load)
            old = [p for p, load in self._load.items() if not load]
            for process in old:
                del self._load[process]
        for process in old:
            process.stop()
        if warm:
            self.start()

    def _end(self, kill: bool) -> None:
        with self._cond:
            self._stopped = True
            processes = list(self._load)
            for process in processes:
                if not self._load[process]:
                    del self._load[process]
            self._cond.notify_all()
        threads = [
            threading.Thread(target=p.shutdown if kill else p.stop, daemon=True) for p in processes
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def stop(self) -> None:
        """Stop every environment (an event in flight is answered first)."""
        self._end(kill=False)

    def shutdown(self) -> None:
        """Stop every environment now, events in flight included."""
        self._end(kill=True)
