"""File locks between synths (processes) sharing a build dir or a harness dir."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import filelock


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock between synths (processes) on one build dir; ``filelock`` works on
    every platform (``fcntl`` would make the import fail on Windows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(path)):
        yield
