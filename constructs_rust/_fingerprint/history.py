"""Why did this asset hash change? The inputs of every fingerprint are kept next to the build
cache, so a synth can say which inputs differ from the previous synth of the same function.

Layout, under ``<target-dir>/constructs-rust/``: ``inputs/<fingerprint>.txt`` holds the input
lines (the same lines ``CONSTRUCTS_RUST_EXPLAIN=1`` prints), ``inputs/<fingerprint>.files.json``
the file entries behind each ``tree`` line (so an edit is named by file), and
``last/<digest of the construct path>`` the fingerprint the construct had at its last synth.
Only relative paths and digests are stored, never environment values in clear.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .._support import paths
from .._support.disk_memo import atomic_write, digest

#: How many changed lines are printed per function (the rest are counted).
MAX_LINES = 20


def _dir(target_dir: Path) -> Path:
    return paths.build_dir(target_dir)


def inputs_of(target_dir: Path, fingerprint: str) -> Optional[List[str]]:
    try:
        return (_dir(target_dir) / "inputs" / f"{fingerprint}.txt").read_text().splitlines()
    except OSError:
        return None


def _key(line: str) -> str:
    """What a line describes (so its old and new value pair up): ``dep <name> <source>``,
    ``path <dir> <name>``, else the text before the value (``tree api``, ``read proto/a.proto``,
    ``setting features``, ``setting host_env=RUSTFLAGS``, ``config .cargo/config.toml [env]``)."""
    words = line.split(" ")
    if words[0] == "dep" and len(words) >= 4:
        return " ".join((words[0], words[1], words[3]))
    if words[0] == "path" and len(words) >= 3:
        return " ".join(words[:3])
    if words[0] == "toolchain":
        return "toolchain"
    if words[0] == "setting" and line.startswith("setting host_env="):
        return line.rsplit("=", 1)[0]
    return line.split("=", 1)[0]


def _value(line: str) -> str:
    return line.split("=", 1)[1] if "=" in line else ""


def _tree_changes(label: str, before: Sequence[str], after: Sequence[str]) -> List[str]:
    """``edited``/``added``/``removed`` per file of one package tree, paths relative to the
    workspace root, sorted by path."""
    old = dict(entry.rsplit("=", 1) for entry in before if "=" in entry)
    new = dict(entry.rsplit("=", 1) for entry in after if "=" in entry)
    prefix = "" if label == "." else f"{label}/"
    out = []
    for path in sorted(set(old) | set(new)):
        if path not in new:
            out.append(f"removed {prefix}{path}")
        elif path not in old:
            out.append(f"added {prefix}{path}")
        elif old[path] != new[path]:
            executable_only = old[path].split(":")[0] == new[path].split(":")[0]
            what = "executable bit of" if executable_only else "edited"
            out.append(f"{what} {prefix}{path}")
    return out


def changed_lines(
    before: Sequence[str],
    after: Sequence[str],
    before_trees: Optional[Mapping[str, Sequence[str]]] = None,
    after_trees: Optional[Mapping[str, Sequence[str]]] = None,
) -> List[str]:
    """The inputs that differ, in the order of the input list, each input's ``-`` (old) line
    before its ``+`` (new) line. A package tree whose files are known on both sides is named
    by file (``edited``/``added``/``removed <path>``); a discovered file (``read``) too."""
    old, new = set(before), set(after)
    removed = [line for line in before if line not in new]
    added = [line for line in after if line not in old]
    order: Dict[str, int] = {}
    for line in [*after, *before]:
        order.setdefault(_key(line), len(order))
    by_key: Dict[str, Tuple[List[str], List[str]]] = {}
    for line in removed:
        by_key.setdefault(_key(line), ([], []))[0].append(line)
    for line in added:
        by_key.setdefault(_key(line), ([], []))[1].append(line)
    out: List[str] = []
    for key in sorted(by_key, key=lambda k: order[k]):
        gone, came = by_key[key]
        kind, _, label = key.partition(" ")
        if kind == "tree" and gone and came and before_trees and after_trees:
            if label in before_trees and label in after_trees:
                files = _tree_changes(label, before_trees[label], after_trees[label])
                if files:
                    out.extend(files)
                    continue
        if kind == "tree" and not (gone and came):
            what = "a package the binary now compiles" if came else "no longer compiled"
            out.extend(f"{'+' if came else '-'} tree {label} ({what})" for _ in gone or came)
            continue
        if kind == "read" and len(gone) == 1 and len(came) == 1:
            was, now = _value(gone[0]), _value(came[0])
            verb = "removed" if now == "absent" else "added" if was == "absent" else "edited"
            out.append(f"{verb} {label} (read by the build)")
            continue
        out.extend(f"- {line}" for line in gone)
        out.extend(f"+ {line}" for line in came)
    return [line.replace(chr(31), " ") for line in out]


def _files_path(target_dir: Path, fingerprint: str) -> Path:
    return _dir(target_dir) / "inputs" / f"{fingerprint}.files.json"


def trees_of(target_dir: Path, fingerprint: str) -> Optional[Dict[str, List[str]]]:
    try:
        value = json.loads(_files_path(target_dir, fingerprint).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or not all(
        isinstance(v, list) and all(isinstance(e, str) for e in v) for v in value.values()
    ):
        return None
    return value


def record(
    target_dir: Path,
    construct_path: str,
    fingerprint: str,
    inputs: Sequence[str],
    trees: Optional[Mapping[str, Sequence[str]]] = None,
) -> Optional[List[str]]:
    """Remember this synth's inputs (and the files behind each ``tree`` line); return the
    changed lines when the construct had another fingerprint at its previous synth (None when
    unchanged or never seen)."""
    base = _dir(target_dir)
    try:
        store = base / "inputs" / f"{fingerprint}.txt"
        if not store.is_file():
            atomic_write(store, ("\n".join(inputs) + "\n").encode())
        files = _files_path(target_dir, fingerprint)
        if trees and not files.is_file():
            atomic_write(files, json.dumps({k: list(v) for k, v in trees.items()}).encode())
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
    return changed_lines(before, inputs, trees_of(target_dir, previous), trees)


def render(construct_path: str, lines: Sequence[str]) -> str:
    shown = list(lines[:MAX_LINES])
    if len(lines) > MAX_LINES:
        shown.append(
            f"... and {len(lines) - MAX_LINES} more (CONSTRUCTS_RUST_EXPLAIN=1 prints all inputs)"
        )
    head = f"constructs_rust: {construct_path}: asset hash changed since the last synth, because:"
    return "\n".join([head, *(f"constructs_rust:   {line}" for line in shown)])
