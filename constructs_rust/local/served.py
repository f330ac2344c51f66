"""What ``local serve`` serves at a moment: the endpoints (function URLs, routes, REST methods)
and every function of the assembly with its execution environments (a ``FunctionPool``);
swapped as a whole on reload. A function behind an endpoint gets one warm environment at
start; the others (reached through the Lambda Invoke API) start on their first event."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from .assembly import Assembly, shown
from .model import GatewayMethod, LocalFunction
from .pool import FunctionPool
from .process import prefixed, unresolved_warnings
from .routes import Endpoint, endpoints


def say(message: str) -> None:
    print(f"constructs-rust: {message}", file=sys.stderr, flush=True)


class Served:
    def __init__(self, overrides: Mapping[str, str], concurrency: Optional[int] = None) -> None:
        self.overrides = dict(overrides)
        self.concurrency = concurrency
        """``--concurrency``: environments per function without reserved concurrency."""
        self.lock = threading.Lock()
        self.endpoints: List[Endpoint] = []
        self.pools: Dict[str, FunctionPool] = {}
        """Every function of the assembly, by construct path."""
        self.methods: List[GatewayMethod] = []
        """The REST APIs' methods that are not Lambda proxies."""
        self.directory = Path("cdk.out")
        self.stopped = False

    def functions(self) -> List[LocalFunction]:
        """Every function served now (as last updated)."""
        with self.lock:
            return [pool.function for pool in self.pools.values()]

    @property
    def processes(self) -> Dict[str, FunctionPool]:
        """The functions behind an endpoint."""
        wanted = {e.function for e in self.endpoints if e.function}
        return {path: pool for path, pool in self.pools.items() if path in wanted}

    def find(self, name: str) -> FunctionPool:
        """The function ``name`` names (construct path, logical id, ``FunctionName``, as
        ``local invoke`` takes them); LocalError, with the known names, for anything else."""
        with self.lock:
            functions = [pool.function for pool in self.pools.values()]
            found = Assembly(self.directory, functions).find(name)
            return self.pools[found.path]

    def update(
        self,
        functions: List[LocalFunction],
        methods: Sequence[GatewayMethod] = (),
        directory: Optional[Path] = None,
    ) -> List[str]:
        """Serve ``functions`` (those with a URL or route behind endpoints, all through the
        Invoke API) and the REST APIs' other ``methods``; returns what changed."""
        wanted = {f.path: f for f in functions}
        fronted = {f.path for f in functions if f.url_invoke_mode or f.routes}
        changes: List[str] = []
        with self.lock:
            if self.stopped:
                return changes
            if directory is not None:
                self.directory = directory
            for path in sorted(set(self.pools) - set(wanted)):
                self.pools.pop(path).stop()
                changes.append(f"{path}: no longer served")
            for path, function in sorted(wanted.items()):
                pool = self.pools.get(path)
                if (pool is None and path in fronted) or (pool and pool.function != function):
                    for warning in unresolved_warnings(function, self.overrides):
                        say(warning)
                if pool is None:
                    pool = FunctionPool(function, self.overrides, _sink, self.concurrency)
                    self.pools[path] = pool
                    if path in fronted:
                        pool.start()
                elif pool.function != function:
                    pool.restart(function)
                    if pool.environments:
                        changes.append(f"{path}: restarted with {shown(function.bootstrap)}")
                    else:
                        changes.append(f"{path}: new build {shown(function.bootstrap)}")
            self.endpoints = endpoints([f for f in functions if f.path in fronted], methods)
            self.methods = list(methods)
        return changes

    def stop(self) -> None:
        """Stop every function (all at once: a Ctrl-C is over within a second)."""
        with self.lock:
            self.stopped = True
            threads = [
                threading.Thread(target=pool.shutdown, daemon=True) for pool in self.pools.values()
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            self.pools.clear()


def _sink(label: str) -> Callable[[str], None]:
    return prefixed(label)
