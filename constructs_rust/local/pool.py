"""A function's execution environments, as Lambda scales a function out: one process per
environment, started when a request finds none free, up to the function's limit (its reserved
concurrency, else ``DEFAULT_CONCURRENCY`` or ``--concurrency``), kept warm after, each taking
one event at a time. Past the limit a request waits for the first environment to free up."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator, List, Mapping, Optional

from .model import LocalError, LocalFunction
from .process import Answer, FunctionProcess

#: Execution environments per function when its template reserves no concurrency.
DEFAULT_CONCURRENCY = 10


class FunctionPool:
    """``invoke(body)`` as ``FunctionProcess.invoke``, on a free environment (a new one when
    none is free and the limit allows); ``start()`` warms one, ``restart(new)`` replaces them
    (an event in flight is answered by its old environment first), ``stop()``/``shutdown()``.
    ``log(label)`` gives the log sink of an environment (``Stack/Fn``, ``Stack/Fn #2``, ...)."""

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
        self._idle: List[FunctionProcess] = []
        self._busy: List[FunctionProcess] = []
        self._starting = 0
        self._stopped = False
        self.started = 0
        """Environments started so far (all builds)."""

    @property
    def limit(self) -> int:
        """At most this many environments: the reserved concurrency, else ``concurrency``."""
        reserved = self.function.reserved_concurrency
        if reserved is not None and reserved > 0:
            return reserved
        return max(1, self.concurrency or DEFAULT_CONCURRENCY)

    @property
    def environments(self) -> int:
        with self._cond:
            return len(self._idle) + len(self._busy) + self._starting

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
                self._cond.notify()
            raise
        return process

    def start(self) -> None:
        """One warm environment, now (a bootstrap that does not start fails here)."""
        with self._cond:
            if self._stopped or self._idle or self._busy:
                return
            self._starting += 1
            function = self.function
        process = self._spawn(function)
        with self._cond:
            self._starting -= 1
            self._idle.append(process)
            self._cond.notify()

    def _acquire(self) -> FunctionProcess:
        with self._cond:
            while True:
                if self._stopped:
                    raise LocalError(f"{self.function.path}: stopped")
                if self._idle:
                    process = self._idle.pop()
                    self._busy.append(process)
                    return process
                if len(self._busy) + self._starting < self.limit:
                    self._starting += 1
                    function = self.function
                    break
                self._cond.wait()
        process = self._spawn(function)
        with self._cond:
            self._starting -= 1
            self._busy.append(process)
        return process

    def _release(self, process: FunctionProcess) -> None:
        with self._cond:
            self._busy.remove(process)
            retired = self._stopped or process.function != self.function
            if not retired:
                self._idle.append(process)
            self._cond.notify()
        if retired:
            process.stop()

    @contextmanager
    def invoke(self, body: bytes) -> Iterator[Answer]:
        process = self._acquire()
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
            old, self._idle = self._idle, []
            warm = bool(old or self._busy)
        for process in old:
            process.stop()
        if warm:
            self.start()

    def _end(self, kill: bool) -> None:
        with self._cond:
            self._stopped = True
            processes = self._idle + self._busy
            self._idle = []
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
