"""The record store: per static inputs, the files and environment the last build read
(``<target>/constructs-rust/records/``), and per binary slot the previous record, so a warm
synth knows its discovered inputs before anything is built."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

from .._cargo.metadata import Package, Workspace
from .._support import paths
from .._support.disk_memo import atomic_write, digest


@dataclass(frozen=True)
class Record:
    """What the last build of one binary read beyond its static inputs."""

    files: Tuple[str, ...] = ()
    """Paths relative to the workspace root (posix)."""
    env: Tuple[str, ...] = ()
    """Variable names."""

    def union(self, other: "Record") -> "Record":
        return Record(
            files=tuple(sorted(set(self.files) | set(other.files))),
            env=tuple(sorted(set(self.env) | set(other.env))),
        )

    def covers(self, other: "Record") -> bool:
        return set(other.files) <= set(self.files) and set(other.env) <= set(self.env)

    def to_json(self) -> Dict[str, Any]:
        return {"files": list(self.files), "env": list(self.env)}

    @staticmethod
    def from_json(value: Any) -> Optional["Record"]:
        """A record from the local store or the remote (untrusted): plain relative paths and
        variable names only, else None."""
        if not isinstance(value, dict):
            return None
        files, env = value.get("files"), value.get("env")
        if not isinstance(files, list) or not isinstance(env, list):
            return None
        if not all(isinstance(f, str) and f and not f.startswith("/") for f in files):
            return None
        if not all(isinstance(e, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", e) for e in env):
            return None
        return Record(files=tuple(sorted(set(files))), env=tuple(sorted(set(env))))


def _store(workspace: Workspace) -> Path:
    return paths.records_dir(workspace.target_dir)


def slot(package: Package, binary: str, settings: Sequence[str]) -> str:
    """One binary built one way (the previous record of a binary whose sources changed)."""
    return digest(["slot", package.name, binary, *settings])


def read_record(workspace: Workspace, static_key: str) -> Optional[Record]:
    try:
        value = json.loads((_store(workspace) / f"{static_key}.json").read_text())
    except (OSError, ValueError):
        return None
    return Record.from_json(value.get("used")) if isinstance(value, dict) else None


def previous_record(workspace: Workspace, slot_key: str) -> Optional[Record]:
    """What the binary read at its previous build (under other static inputs)."""
    try:
        value = json.loads((_store(workspace) / "last" / f"{slot_key}.json").read_text())
    except (OSError, ValueError):
        return None
    return Record.from_json(value)


def write_record(
    workspace: Workspace, static_key: str, slot_key: str, used: Record, discovered: Record
) -> None:
    """``used``: the lines the hash of these static inputs covers from now on (what was used
    plus what the build discovered); ``discovered``: exactly what the build read (the
    starting point after the next source change)."""
    try:
        atomic_write(
            _store(workspace) / f"{static_key}.json",
            json.dumps({"used": used.to_json(), "discovered": discovered.to_json()}).encode(),
        )
        atomic_write(
            _store(workspace) / "last" / f"{slot_key}.json",
            json.dumps(discovered.to_json()).encode(),
        )
    except OSError:
        pass  # a record that cannot be kept costs a build at the next synth, never staleness
