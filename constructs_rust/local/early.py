"""cargo-lambda's runtime API emulator started early, in a thread, for ``local invoke``: it
starts (a process of its own, on another core) while the command imports the rest of itself
and reads the assembly, so a warm invoke costs little more than the Python start-up."""

from __future__ import annotations

import threading
from typing import Any, Optional

from ..testing.emulator import LambdaEmulator


class EarlyEmulator:
    """``with EarlyEmulator(start=True) as early``: ``early.take()`` is the started emulator
    (None when it failed to start: the invoke then starts one itself and reports why), handed
    over once; one never taken is stopped when the block ends."""

    def __init__(self, *, start: bool = True) -> None:
        self._emulator: Optional[LambdaEmulator] = None
        self._thread: Optional[threading.Thread] = None
        if start:
            self._thread = threading.Thread(target=self._start, daemon=True)

    def _start(self) -> None:
        emulator = LambdaEmulator()
        try:
            emulator.__enter__()
        except BaseException:  # noqa: BLE001 - the invoke's own start reports it
            return
        self._emulator = emulator

    def __enter__(self) -> "EarlyEmulator":
        if self._thread is not None:
            self._thread.start()
        return self

    def take(self) -> Optional[LambdaEmulator]:
        if self._thread is not None:
            self._thread.join()
        emulator, self._emulator = self._emulator, None
        return emulator

    def __exit__(self, *exc: Any) -> None:
        emulator = self.take()
        if emulator is not None:
            emulator.__exit__(None, None, None)
