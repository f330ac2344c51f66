"""What cargo says about a crate: ``cargo metadata`` run, parsed and cached.

Binary resolution never guesses from TOML: it reads the targets cargo itself reports, so
``autobins = false``, ``[[bin]]`` paths, ``src/bin/*.rs``, workspace inheritance and path
dependencies all work the way cargo understands them.

``cargo metadata`` runs WITH the dependency resolve, so cargo writes ``Cargo.lock`` (creates it,
or updates it after a manifest edit) before anything is fingerprinted: the build that follows
never rewrites the lock, and the next synth sees the same inputs. The result is cached (see
``cache.py``) under a stamp of the workspace's manifests, the lock and the set of its ``.rs``
files, taken after cargo ran, so a synth with nothing changed runs no cargo at all.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .._support import disk_memo, log, session
from ..errors import CargoError, ConfigurationError, ToolchainError

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
    version: str = "0.0.0"
    gated_bins: Tuple[str, ...] = ()
    """Binaries with ``required-features`` (built only when those features are enabled)."""

    @property
    def directory(self) -> Path:
        return self.manifest_path.parent


@dataclass(frozen=True)
class Workspace:
    """The part of ``cargo metadata`` the constructs need."""

    root: Path
    target_dir: Path
    packages: Tuple[Package, ...]
    path_packages: Tuple[Path, ...] = ()
    """Directories of every path package in the resolve (members and path dependencies,
    including those outside the workspace root), sorted."""

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

    @functools.cached_property
    def _outside_roots(self) -> Tuple[Path, ...]:
        outside = [d for d in self.path_packages if not _is_within(d, self.root)]
        return tuple(d for d in outside if not any(o != d and _is_within(d, o) for o in outside))

    def outside_roots(self) -> List[Path]:
        """Path packages that lie outside the workspace root (e.g. ``../../lambda-runtime``),
        outermost only: their absolute paths would otherwise end up in the binary."""
        return list(self._outside_roots)


def _is_within(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def parse_metadata(data: Dict[str, Any]) -> Workspace:
    """Turn ``cargo metadata --format-version 1`` JSON (with or without deps) into a Workspace."""
    members = set(data.get("workspace_members") or [])
    packages = []
    for pkg in data["packages"]:
        if members and pkg["id"] not in members:
            continue
        bin_targets = [t for t in pkg.get("targets", []) if "bin" in t.get("kind", [])]
        bins = tuple(t["name"] for t in bin_targets)
        gated = tuple(t["name"] for t in bin_targets if t.get("required-features"))
        deps = tuple(
            sorted({Path(d["path"]) for d in pkg.get("dependencies", []) if d.get("path")})
        )
        packages.append(
            Package(
                name=pkg["name"],
                manifest_path=Path(pkg["manifest_path"]),
                bins=bins,
                path_dependencies=deps,
                version=pkg.get("version", "0.0.0"),
                gated_bins=gated,
            )
        )
    path_packages = {
        Path(p["manifest_path"]).parent for p in data["packages"] if not p.get("source")
    }
    return Workspace(
        root=Path(data["workspace_root"]),
        target_dir=Path(data["target_directory"]),
        packages=tuple(sorted(packages, key=lambda p: p.name)),
        path_packages=tuple(sorted(path_packages)),
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


#: Fragments of cargo's message when it could not reach a registry (then the resolve is retried
#: offline, from the crates and index entries already downloaded).
_NETWORK_ERRORS = (
    "failed to download",
    "failed to query replaced source",
    "failed to get",
    "failed to load source",
    "network failure",
    "failed to update",
    "download of ",
    "couldn't resolve host",
    "could not resolve host",
    "connection refused",
    "failed to connect",
    "timed out",
    "spurious network error",
)


def run_cargo(argv: List[str], cwd: Optional[Path] = None) -> "subprocess.CompletedProcess[str]":
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False, cwd=cwd
        )
    except FileNotFoundError:
        raise ToolchainError(
            "cargo is not installed or not on PATH",
            fix="install Rust with rustup (https://rustup.rs) and make sure `cargo` is on PATH",
        ) from None


#: cargo flags that govern the lock and the network; given in ``cargo_lambda_flags`` they apply
#: to the library's own ``cargo metadata`` and ``cargo tree`` as well.
LOCK_FLAGS = ("--locked", "--frozen", "--offline")


def run_metadata(
    manifest_path: Path, lock_flags: Sequence[str] = (), cwd: Optional[Path] = None
) -> Dict[str, Any]:
    """Run ``cargo metadata --format-version 1`` WITH the resolve for the manifest, from
    ``cwd`` (default: the manifest's directory; cargo reads ``.cargo/config.toml`` from its
    working directory up).

    cargo creates or updates the workspace's ``Cargo.lock`` as a build would (the minimal
    change after a manifest edit); one stderr line says when it did. Without network, the
    resolve is retried ``--offline`` from what is already downloaded.
    """
    argv = ["cargo", "metadata", "--format-version", "1", "--manifest-path", str(manifest_path)]
    argv += list(lock_flags)
    cwd = cwd or manifest_path.parent
    before = _lock_snapshot(manifest_path)
    proc = run_cargo(argv, cwd=cwd)
    offline = False
    network_failed = any(f in proc.stderr.lower() for f in _NETWORK_ERRORS)
    if proc.returncode != 0 and network_failed and "--locked" not in lock_flags:
        retry = run_cargo(argv + ["--offline"], cwd=cwd)
        if retry.returncode == 0:
            proc, offline = retry, True
    if proc.returncode != 0:
        raise CargoError(
            f"cargo metadata failed for {manifest_path}:\n{proc.stderr.strip()}",
            prop="manifest_path",
            value=str(manifest_path),
            fix="fix the Cargo.toml/Cargo.lock problem cargo reports above (run `cargo metadata` "
            "in that directory to reproduce it)",
        )
    data: Dict[str, Any] = json.loads(proc.stdout)
    lock = Path(data["workspace_root"]) / "Cargo.lock"
    after = lock.read_bytes() if lock.is_file() else None
    if after is not None and after != before.get(lock):
        how = " offline, from the downloaded crates," if offline else ""
        if before.get(lock) is None:
            what = f"created {lock}{how} before fingerprinting (commit it for reproducible builds)"
        else:
            what = f"updated {lock}{how} to match the manifests before fingerprinting"
        log.say(f"cargo {what}")
    return data


def _lock_snapshot(manifest_path: Path) -> Dict[Path, Optional[bytes]]:
    """Contents of every Cargo.lock that may belong to the manifest's workspace (the workspace
    root is the manifest's directory or one of its parents)."""
    found: Dict[Path, Optional[bytes]] = {}
    for directory in [manifest_path.parent, *manifest_path.parent.parents]:
        lock = directory / "Cargo.lock"
        found[lock] = lock.read_bytes() if lock.is_file() else None
    return found


def _stamp(root: Path, outside: Sequence[Path] = ()) -> str:
    """What can change the metadata: manifests, lock and configs (by size and mtime) and which
    .rs files exist (cargo discovers targets from file names) under the workspace root and the
    path packages outside it, plus target-dir and toolchain overrides."""
    entries: List[str] = []
    for top in [root, *outside]:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
            rel = os.path.relpath(dirpath, root)
            for name in sorted(filenames):
                if name in MANIFEST_FILES or name.startswith("rust-toolchain"):
                    st = os.stat(os.path.join(dirpath, name))
                    entries.append(f"{rel}/{name}:{st.st_size}:{st.st_mtime_ns}")
                elif name.endswith(".rs"):
                    entries.append(f"{rel}/{name}")
    for var in ("CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR", "CARGO_HOME", "RUSTC"):
        entries.append(f"{var}={os.environ.get(var, '')}")
    return disk_memo.digest(entries)


def _stamp_of(workspace: Workspace) -> str:
    return _stamp(workspace.root, workspace.outside_roots())


#: The workspaces an app has loaded, by the manifest path asked for.
WORKSPACES: session.MemoKey[Path, Workspace] = session.MemoKey("cargo.workspaces")


def load_workspace(manifest_path: Path, lock_flags: Sequence[str] = ()) -> Workspace:
    """The workspace of ``manifest_path``, from the cache when nothing relevant changed.
    ``lock_flags`` (``--locked``…) are passed to ``cargo metadata``: with ``--locked`` an
    out-of-date lock fails the synth instead of being rewritten."""
    lock_flags = tuple(f for f in LOCK_FLAGS if f in lock_flags)
    _memo = session.current().memo(WORKSPACES)
    if manifest_path in _memo:
        return _memo[manifest_path]
    # `cargo metadata` of any member describes the whole workspace: reuse one already loaded
    # by this app instead of asking cargo again for every function.
    for known in list(_memo.values()):
        if manifest_path == known.root_manifest or known.package_at(manifest_path) is not None:
            # Loaded (and its stamp checked) by this app: a synth does not edit manifests
            # between two functions, so no second walk of the workspace (one per function
            # would make a synth quadratic in the number of functions).
            _memo[manifest_path] = known
            return known
    key = disk_memo.digest(["metadata-v2", str(manifest_path), *lock_flags])
    entry = disk_memo.read_json("metadata", key)
    workspace: Optional[Workspace] = None
    if entry and Path(entry["root"]).is_dir():
        cached = parse_metadata(entry["metadata"])
        if entry["stamp"] == _stamp_of(cached):
            workspace = cached
    if workspace is None:
        data = run_metadata(manifest_path, lock_flags)
        root = Path(data["workspace_root"])
        if any(
            (d / ".cargo").is_dir()
            for d in [manifest_path.parent, *manifest_path.parent.parents]
            if d != root and root in d.parents
        ):
            # A member's own .cargo/ would apply from its directory, never to the build (which
            # runs from the workspace root): resolve as the build will.
            data = run_metadata(manifest_path, lock_flags, cwd=root)
        workspace = parse_metadata(data)
        stamp = _stamp_of(workspace)  # taken after cargo wrote the lock
        disk_memo.write_json(
            "metadata", key, {"root": str(workspace.root), "stamp": stamp, "metadata": data}
        )
    _memo[manifest_path] = workspace
    return workspace


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
