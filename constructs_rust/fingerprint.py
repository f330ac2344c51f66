"""The asset hash of a Rust function, computed from its INPUTS, never from the built binary.

It covers exactly what can change the binary: the binary's package and every path dependency
it reaches (found through cargo metadata), every workspace member's manifest (cargo unifies
features across the packages built together), the workspace manifest and ``Cargo.lock``,
``.cargo/config(.toml)``, ``rust-toolchain(.toml)``, ``CargoLambda.toml``, the build options,
the target and the toolchain versions. Paths enter only relative to the workspace root, so the
same sources checked out at two paths or on two machines give the same hash.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Dict, Iterable, List

from .cache import digest
from .cargo import IGNORED_DIRS, Package, Workspace

VERSION = "constructs-rust-fingerprint-v1"
ROOT_FILES = (
    "Cargo.toml",
    "Cargo.lock",
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
    hashed as dependencies when the binary depends on them).
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
            if path.is_file():
                entries.append(f"{path.relative_to(directory).as_posix()}={_file_digest(path)}")
    result = digest(entries)
    _tree_memo[directory] = result
    return result


def forget_memo() -> None:
    _tree_memo.clear()


def _rel(workspace: Workspace, path: Path) -> str:
    return Path(os.path.relpath(path, workspace.root)).as_posix()


def compute(
    *,
    workspace: Workspace,
    package: Package,
    binary: str,
    settings: Iterable[str],
    toolchain: str,
) -> str:
    """The fingerprint: a digest of ``explain(...)`` of the same inputs."""
    return digest(
        explain(
            workspace=workspace,
            package=package,
            binary=binary,
            settings=settings,
            toolchain=toolchain,
        )
    )


def explain(
    *,
    workspace: Workspace,
    package: Package,
    binary: str,
    settings: Iterable[str],
    toolchain: str,
) -> List[str]:
    """Every input of the fingerprint, one readable line each (``CONSTRUCTS_RUST_EXPLAIN=1``
    prints them at synth, to find out why an asset hash changed)."""
    parts: List[str] = [VERSION, f"package={package.name}", f"binary={binary}"]
    for directory in workspace.dependency_closure(package):
        parts.append(f"tree {_rel(workspace, directory)}={hash_tree(directory)}")
    for member in workspace.packages:
        parts.append(
            f"manifest {_rel(workspace, member.manifest_path)}={_file_digest(member.manifest_path)}"
        )
    for name in ROOT_FILES:
        path = workspace.root / name
        parts.append(f"root {name}={_file_digest(path) if path.is_file() else 'absent'}")
    parts.extend(f"setting {s}" for s in settings)
    parts.append(f"toolchain {toolchain}")
    return parts
