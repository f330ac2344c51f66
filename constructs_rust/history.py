"""Why did this asset hash change? The inputs of every fingerprint are kept next to the build
cache, so a synth can say which inputs differ from the previous synth of the same function.

Layout, under ``<target-dir>/constructs-rust/``: ``inputs/<fingerprint>.txt`` holds the input
lines (the same lines ``CONSTRUCTS_RUST_EXPLAIN=1`` prints) and ``last/<digest of the construct
path>`` the fingerprint the construct had at its last synth. Only relative paths and digests are
stored, never environment values in clear.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

from .cache import atomic_write, digest

#: How many changed lines are printed per function (the rest are counted).
MAX_LINES = 20


def _dir(target_dir: Path) -> Path:
    return target_dir / "constructs-rust"


def inputs_of(target_dir: Path, fingerprint: str) -> Optional[List[str]]:
    try:
        return (_dir(target_dir) / "inputs" / f"{fingerprint}.txt").read_text().splitlines()
    except OSError:
        return None


def changed_lines(before: Sequence[str], after: Sequence[str]) -> List[str]:
    """``- line`` for inputs gone, ``+ line`` for inputs new, grouped by what they describe."""
    old, new = set(before), set(after)
    removed = [f"- {line}" for line in before if line not in new]
    added = [f"+ {line}" for line in after if line not in old]
    return sorted(removed + added, key=lambda line: (line[2:].split(" ")[0:2], line[0] == "+"))


def record(
    target_dir: Path, construct_path: str, fingerprint: str, inputs: Sequence[str]
) -> Optional[List[str]]:
    """Remember this synth's inputs; return the changed lines when the construct had another
    fingerprint at its previous synth (None when unchanged or never seen)."""
    base = _dir(target_dir)
    try:
        store = base / "inputs" / f"{fingerprint}.txt"
        if not store.is_file():
            atomic_write(store, ("\n".join(inputs) + "\n").encode())
        last = base / "last" / digest([construct_path])
        previous = last.read_text().strip() if last.is_file() else None
        if previous != fingerprint:
            atomic_write(last, fingerprint.encode())
    except OSError:
        return None  # the history only explains; it never fails a synth
    if previous is None or previous == fingerprint:
        return None
    before = inputs_of(target_dir, previous)
    if before is None:
        return [f"(the inputs of the previous fingerprint {previous[:12]} are no longer kept)"]
    return changed_lines(before, inputs)


def render(construct_path: str, lines: Sequence[str]) -> str:
    shown = list(lines[:MAX_LINES])
    if len(lines) > MAX_LINES:
        shown.append(
            f"... and {len(lines) - MAX_LINES} more (CONSTRUCTS_RUST_EXPLAIN=1 prints all inputs)"
        )
    head = f"constructs_rust: {construct_path}: asset hash changed since the last synth, because:"
    return "\n".join([head, *(f"constructs_rust:   {line}" for line in shown)])
