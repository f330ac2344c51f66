"""What `local serve` watches: the files of the app directory that cdk.json's ``watch``
settings cover (all of them without such settings), polled for changes. Never the assembly,
cargo's target dirs, node_modules, ``__pycache__`` or hidden directories (``.git``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from .._support.watch_config import watches

#: Directory names never watched (written by builds, installs and synths).
SKIPPED_DIRS = ("target", "node_modules", "__pycache__")


class Watcher:
    def __init__(self, root: Path, watch: Dict[str, Any], *, exclude: Sequence[Path] = ()) -> None:
        self.root = root
        self.watch = watch
        self.exclude = {p.resolve() for p in exclude}
        self._state = self._scan()

    def _skipped(self, directory: Path, name: str) -> bool:
        return (
            name.startswith(".")
            or name in SKIPPED_DIRS
            or (directory / name).resolve() in self.exclude
        )

    def _scan(self) -> Dict[str, Tuple[int, int]]:
        state: Dict[str, Tuple[int, int]] = {}
        for directory, dirs, files in os.walk(self.root):
            here = Path(directory)
            rel_dir = here.relative_to(self.root).as_posix()
            dirs[:] = [
                d
                for d in dirs
                if not self._skipped(here, d)
                and watches(self.watch, _join(rel_dir, d), directory=True)
            ]
            for name in files:
                rel = _join(rel_dir, name)
                if name.startswith(".") or not watches(self.watch, rel):
                    continue
                try:
                    stat = (here / name).stat()
                except OSError:
                    continue
                state[rel] = (stat.st_mtime_ns, stat.st_size)
        return state

    def changed(self) -> List[str]:
        """Files added, removed or modified since the last call (sorted)."""
        new = self._scan()
        old, self._state = self._state, new
        return sorted(p for p in set(old) | set(new) if old.get(p) != new.get(p))


def _join(rel_dir: str, name: str) -> str:
    return name if rel_dir == "." else f"{rel_dir}/{name}"
