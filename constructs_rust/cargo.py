"""What cargo says about a crate: ``cargo metadata`` run, parsed and cached.

Binary resolution never guesses from TOML: it reads the targets cargo itself reports, so
``autobins = false``, ``[[bin]]`` paths, ``src/bin/*.rs``, workspace inheritance and path
dependencies all work the way cargo understands them.

``cargo metadata`` is cached (see ``cache.py``) under a stamp of the workspace's manifests and
the set of its ``.rs`` files, so a synth with nothing changed runs no cargo at all.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from . import cache
from .errors import CargoError, ConfigurationError, ToolchainError

#: Directory names never walked: build outputs, VCS data, CDK output, tool environments.
IGNORED_DIRS = frozenset({"target", ".git", "cdk.out", "node_modules", ".venv", "__pycache__"})
#: Files whose change can change what cargo metadata reports.
MANIFEST_FILES = frozenset({"Cargo.toml", "Cargo.lock", "config.toml", "config"})


@dataclass(frozen=True)
class Package:
    """A workspace member as cargo reports it."""

    name: str
    manifest_path: Path
    bins: Tuple[str, ...]
    path_dependencies: Tuple[Path, ...]
    """Directories of this package's path dependencies (any kind: normal, build, dev)."""

    @property
    def directory(self) -> Path:
        return self.manifest_path.parent


@dataclass(frozen=True)
class Workspace:
    """The part of ``cargo metadata --no-deps`` the constructs need."""

    root: Path
    target_dir: Path
    packages: Tuple[Package, ...]

    @property
    def root_manifest(self) -> Path:
        return self.root / "Cargo.toml"

    def package_at(self, manifest_path: Path) -> Optional[Package]:
        return next((p for p in self.packages if p.manifest_path == manifest_path), None)

    def package_named(self, name: str) -> Optional[Package]:
        return next((p for p in self.packages if p.name == name), None)

    def dependency_closure(self, package: Package) -> List[Path]:
        """Directories of ``package`` and every path dependency it reaches, sorted."""
        by_dir = {p.directory: p for p in self.packages}
        seen: Dict[Path, None] = {}
        todo = [package.directory]
        while todo:
            directory = todo.pop()
            if directory in seen:
                continue
            seen[directory] = None
            member = by_dir.get(directory)
            if member is not None:
                todo.extend(member.path_dependencies)
        return sorted(seen)


def parse_metadata(data: Dict[str, Any]) -> Workspace:
    """Turn ``cargo metadata --format-version 1 --no-deps`` JSON into a Workspace."""
    members = set(data.get("workspace_members") or [])
    packages = []
    for pkg in data["packages"]:
        if members and pkg["id"] not in members:
            continue
        bins = tuple(t["name"] for t in pkg.get("targets", []) if "bin" in t.get("kind", []))
        deps = tuple(
            sorted({Path(d["path"]) for d in pkg.get("dependencies", []) if d.get("path")})
        )
        packages.append(
            Package(
                name=pkg["name"],
                manifest_path=Path(pkg["manifest_path"]),
                bins=bins,
                path_dependencies=deps,
            )
        )
    return Workspace(
        root=Path(data["workspace_root"]),
        target_dir=Path(data["target_directory"]),
        packages=tuple(sorted(packages, key=lambda p: p.name)),
    )


def normalize_manifest_path(manifest_path: str) -> Path:
    """A ``Cargo.toml`` path or a directory holding one → absolute path of the Cargo.toml.

    Relative paths are resolved against the current working directory, like
    ``Code.from_asset``.
    """
    path = Path(os.path.abspath(manifest_path))
    if path.is_dir():
        path = path / "Cargo.toml"
        if not path.is_file():
            raise ConfigurationError(
                "the directory holds no Cargo.toml",
                prop="manifest_path",
                value=manifest_path,
                fix="point manifest_path at a crate or workspace directory, or its Cargo.toml",
            )
        return path
    if not path.exists():
        raise ConfigurationError(
            f"does not exist (resolved against the working directory {os.getcwd()!r})",
            prop="manifest_path",
            value=manifest_path,
            fix="give a path to a Cargo.toml or its directory, relative to where you run cdk",
        )
    if path.name != "Cargo.toml":
        raise ConfigurationError(
            "is not a Cargo.toml",
            prop="manifest_path",
            value=manifest_path,
            fix="point manifest_path at the crate's Cargo.toml or the directory that holds it",
        )
    return path


def run_metadata(manifest_path: Path) -> Dict[str, Any]:
    """Run ``cargo metadata --format-version 1 --no-deps`` for the manifest."""
    argv = [
        "cargo",
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--manifest-path",
        str(manifest_path),
    ]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
        )
    except FileNotFoundError:
        raise ToolchainError(
            "cargo is not installed or not on PATH",
            fix="install Rust with rustup (https://rustup.rs) and make sure `cargo` is on PATH",
        ) from None
    if proc.returncode != 0:
        raise CargoError(
            f"cargo metadata failed for {manifest_path}:\n{proc.stderr.strip()}",
            prop="manifest_path",
            value=str(manifest_path),
            fix="fix the Cargo.toml error cargo reports above (try `cargo metadata` in that "
            "directory)",
        )
    data: Dict[str, Any] = json.loads(proc.stdout)
    return data


def _stamp(root: Path) -> str:
    """What can change the metadata: manifests/configs (by size and mtime) and which .rs
    files exist (cargo discovers targets from file names), plus target-dir overrides."""
    entries: List[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
        rel = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            if name in MANIFEST_FILES or name.startswith("rust-toolchain"):
                st = os.stat(os.path.join(dirpath, name))
                entries.append(f"{rel}/{name}:{st.st_size}:{st.st_mtime_ns}")
            elif name.endswith(".rs"):
                entries.append(f"{rel}/{name}")
    for var in ("CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR", "CARGO_HOME"):
        entries.append(f"{var}={os.environ.get(var, '')}")
    return cache.digest(entries)


_memo: Dict[Path, Workspace] = {}
_stamps: Dict[Path, str] = {}


def load_workspace(manifest_path: Path) -> Workspace:
    """The workspace of ``manifest_path``, from the cache when nothing relevant changed."""
    if manifest_path in _memo:
        return _memo[manifest_path]
    # `cargo metadata --no-deps` of any member describes the whole workspace: reuse one
    # already loaded in this process instead of asking cargo again for every function.
    for known in list(_memo.values()):
        if manifest_path == known.root_manifest or known.package_at(manifest_path) is not None:
            if known.root.is_dir() and _stamp(known.root) == _stamps.get(known.root):
                _memo[manifest_path] = known
                return known
    key = cache.digest([str(manifest_path)])
    entry = cache.read_json("metadata", key)
    if entry and Path(entry["root"]).is_dir() and entry["stamp"] == _stamp(Path(entry["root"])):
        data = entry["metadata"]
    else:
        data = run_metadata(manifest_path)
        root = Path(data["workspace_root"])
        cache.write_json(
            "metadata", key, {"root": str(root), "stamp": _stamp(root), "metadata": data}
        )
    workspace = parse_metadata(data)
    _memo[manifest_path] = workspace
    _stamps[workspace.root] = _stamp(workspace.root)
    return workspace


def forget_memo() -> None:
    """Drop the in-process memo (tests that edit crates between synths in one process)."""
    _memo.clear()
    _stamps.clear()


def candidate_binaries(workspace: Workspace, manifest_path: Path) -> List[Tuple[Package, str]]:
    """Binaries the manifest offers: the package's own, or every member's for a workspace root."""
    package = workspace.package_at(manifest_path)
    if manifest_path == workspace.root_manifest:
        scope: Iterable[Package] = workspace.packages
    elif package is not None:
        scope = [package]
    else:
        raise ConfigurationError(
            f"is not a package of the workspace at {workspace.root}",
            prop="manifest_path",
            value=str(manifest_path),
            fix="add the crate to [workspace] members, or give an empty [workspace] table to build "
            "it on its own",
        )
    return [(p, b) for p in scope for b in p.bins]


def resolve_binary(
    workspace: Workspace, manifest_path: Path, binary_name: Optional[str]
) -> Tuple[Package, str]:
    """Pick the binary: the only one, or the one named; errors list what exists."""
    candidates = candidate_binaries(workspace, manifest_path)
    names = sorted(b for _, b in candidates)
    if not candidates:
        raise ConfigurationError(
            "the crate has no binary target (it is a library-only crate)",
            prop="manifest_path",
            value=str(manifest_path),
            fix="add src/main.rs or a [[bin]] section with the Lambda handler's main()",
        )
    if binary_name is None:
        if len(candidates) == 1:
            return candidates[0]
        raise ConfigurationError(
            f"several binaries exist and binary_name is not set: {', '.join(names)}",
            prop="binary_name",
            fix=f"choose one, e.g. binary_name={names[0]!r}",
        )
    matches = [c for c in candidates if c[1] == binary_name]
    if not matches:
        raise ConfigurationError(
            f"no such binary; the binaries are: {', '.join(names)}",
            prop="binary_name",
            value=binary_name,
            fix="use one of the names listed (cargo's [[bin]] names, src/bin/<name>.rs, or the "
            "package name for src/main.rs)",
        )
    if len(matches) > 1:
        owners = ", ".join(sorted(p.name for p, _ in matches))
        raise ConfigurationError(
            f"the binary name is ambiguous: packages {owners} all have it",
            prop="binary_name",
            value=binary_name,
            fix="set manifest_path to the member crate's Cargo.toml instead of the workspace root",
        )
    return matches[0]


def relative_dirs(workspace: Workspace, dirs: Sequence[Path]) -> List[str]:
    return [os.path.relpath(d, workspace.root) for d in dirs]
