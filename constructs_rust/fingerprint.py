"""The asset hash of a Rust function, computed from its INPUTS, never from the built binary.

It covers exactly what can change ONE binary, and nothing else:

- the source trees of the path packages in the binary's resolved dependency graph (its own
  package, a shared lib crate, path dependencies outside the workspace), manifests included;
- every registry and git package of that graph: name, version, source, checksum and enabled
  features, as ``cargo tree -p <package> --target <triple>`` resolves them (see depgraph.py);
- the workspace manifest's ``[profile]``, ``[patch]``, ``[replace]``, ``[workspace.package]``
  and metadata sections, ``.cargo/config(.toml)``, ``rust-toolchain(.toml)``,
  ``CargoLambda.toml``;
- the build options, the target and the toolchain identity.

So ``cargo update -p X`` changes only the hashes of binaries whose graph contains X, a new
dependency of member B changes B's hash only, and touching a shared crate changes exactly the
binaries that depend on it. Paths enter only relative to the workspace root, so the same
sources checked out at two paths or on two machines give the same hash.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Dict, Iterable, List

from .cache import digest
from .cargo import IGNORED_DIRS, Package, Workspace
from .depgraph import Graph, node_lines, read_lock, root_section_lines

VERSION = "constructs-rust-fingerprint-v2"
#: Files of the workspace root that count as a whole (the root Cargo.toml counts by its
#: sections, Cargo.lock by the entries of each binary's graph).
ROOT_FILES = (
    ".cargo/config.toml",
    ".cargo/config",
    "rust-toolchain",
    "rust-toolchain.toml",
    "CargoLambda.toml",
)

_tree_memo: Dict[Path, str] = {}


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    executable = bool(os.stat(path).st_mode & stat.S_IXUSR)
    return f"{h.hexdigest()}:{'x' if executable else '-'}"


def hash_tree(directory: Path) -> str:
    """Content hash of a package directory: every file, relative paths, executable bits.

    Subdirectories holding their own Cargo.toml are other packages and are skipped (they are
    hashed as dependencies when the binary depends on them). ``Cargo.lock`` files are skipped:
    the lock counts through the entries of each binary's graph.
    """
    if directory in _tree_memo:
        return _tree_memo[directory]
    entries: List[str] = []
    for dirpath, dirnames, filenames in os.walk(directory):
        keep = []
        for d in sorted(dirnames):
            if d in IGNORED_DIRS:
                continue
            if (Path(dirpath) / d / "Cargo.toml").is_file():
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name != "Cargo.lock" and path.is_file():
                entries.append(f"{path.relative_to(directory).as_posix()}={_file_digest(path)}")
    result = digest(entries)
    _tree_memo[directory] = result
    return result


def forget_memo() -> None:
    _tree_memo.clear()


def _rel(workspace: Workspace, path: Path) -> str:
    return Path(os.path.relpath(path, workspace.root)).as_posix()


def explain(
    *,
    workspace: Workspace,
    package: Package,
    binary: str,
    graph: Graph,
    settings: Iterable[str],
    toolchain: str,
) -> List[str]:
    """Every input of the fingerprint, one readable line each; the fingerprint is their
    ``cache.digest`` (``CONSTRUCTS_RUST_EXPLAIN=1``
    prints them at synth; ``history.py`` prints the lines that changed since the last synth)."""
    parts: List[str] = [VERSION, f"package={package.name}", f"binary={binary}"]
    for directory in sorted({package.directory, *graph.path_dirs}):
        parts.append(f"tree {_rel(workspace, directory)}={hash_tree(directory)}")
    parts.extend(node_lines(graph, read_lock(workspace)))
    parts.extend(root_section_lines(workspace))
    for name in ROOT_FILES:
        path = workspace.root / name
        parts.append(f"root {name}={_file_digest(path) if path.is_file() else 'absent'}")
    parts.extend(f"setting {s}" for s in settings)
    parts.append(f"toolchain {toolchain}")
    return parts
