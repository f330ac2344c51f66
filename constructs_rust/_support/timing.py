"""The library's own time per synth (``CONSTRUCTS_RUST_TIMING=1``): planning and fingerprinting
every function plus staging cached artifacts, excluding the cargo builds themselves. Printed
once when the synth process exits; ``bench/run.py`` reports it per function."""

from __future__ import annotations

import atexit
import functools
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from typing_extensions import ParamSpec

from . import settings

P = ParamSpec("P")
R = TypeVar("R")

_total = 0.0
_functions = 0
_registered = False


@contextmanager
def measure(*, function: bool = False) -> Iterator[None]:
    global _total, _functions, _registered
    if not _registered:  # the exit report is armed by the first measurement, not by import
        _registered = True
        atexit.register(_report)
    start = time.perf_counter()
    try:
        yield
    finally:
        _total += time.perf_counter() - start
        _functions += int(function)


def per_function(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator: one call plans one function; its time counts as the library's own."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with measure(function=True):
            return fn(*args, **kwargs)

    return wrapper


def _report() -> None:
    if settings.timing() and _functions:
        print(
            f"constructs_rust: timing: {_total * 1000:.1f} ms of library work for "
            f"{_functions} functions ({_total * 1000 / _functions:.2f} ms each)",
            file=sys.stderr,
            flush=True,
        )
