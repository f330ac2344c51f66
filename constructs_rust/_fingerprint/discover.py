"""The DISCOVERED inputs: what the last build of a binary actually read, from cargo's dep-info
(``.d``) files and the ``cargo:rerun-if-*`` / ``cargo:rustc-env`` lines of build scripts, with
the place (target dir, profile dir) a build writes them to, locally or in Docker."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, List, Optional, Set, Tuple

from .._cargo import cargo_config
from .._cargo.depgraph import Graph
from .._cargo.metadata import Package, Workspace
from .._cargo.targets import Target
from .._support import paths
from ..options import BundlingOptions
from .record import Record
from .tree import rel, tree_files

#: Variables cargo sets for rustc and build scripts itself (derived from the manifest, profile
#: and target, all hashed elsewhere; ``CARGO`` is a host path).
_CARGO_SET_ENV = re.compile(
    r"^(CARGO|CARGO_PKG_\w+|CARGO_MANIFEST_\w+|CARGO_CRATE_NAME|CARGO_BIN_NAME|CARGO_BIN_EXE_\w+|"
    r"CARGO_PRIMARY_PACKAGE|CARGO_TARGET_TMPDIR|CARGO_RUSTC_CURRENT_DIR|CARGO_CFG_\w+|"
    r"CARGO_FEATURE_\w+|CARGO_ENCODED_RUSTFLAGS|CARGO_MAKEFLAGS|OUT_DIR|TARGET|HOST|PROFILE|"
    r"OPT_LEVEL|DEBUG|NUM_JOBS|RUSTC|RUSTDOC|RUSTC_LINKER|RUSTC_WORKSPACE_WRAPPER|"
    r"RUSTC_WRAPPER)$"
)


def parse_dep_info(text: str) -> Tuple[List[str], List[str]]:
    """A Makefile-style dep-info file → (every prerequisite path, ``# env-dep:`` names)."""
    files: List[str] = []
    env: List[str] = []
    for raw in text.splitlines():
        if raw.startswith("# env-dep:"):
            env.append(raw[len("# env-dep:") :].split("=", 1)[0])
            continue
        if raw.startswith("#") or ":" not in raw:
            continue
        # "target: dep1 dep2" with "\ " escaping spaces; the target may hold ':' only on Windows.
        _, _, deps = raw.partition(": ")
        if not deps.strip():
            continue
        for item in re.split(r"(?<!\\) ", deps.strip()):
            if item:
                files.append(item.replace("\\ ", " "))
    return files, env


def profile_dir(options: BundlingOptions) -> str:
    return {"release": "release", "dev": "debug"}.get(options.profile, options.profile)


@dataclass(frozen=True)
class BuildPlace:
    """Where one build's outputs are, and how its paths map back to the host."""

    out_dir: Path
    """``<target-dir>/<triple>/<profile>`` on the host."""
    host_dir: Path
    """``<target-dir>/<profile>`` on the host: proc macros and build scripts (host code)."""
    workspace_prefix: str
    """The workspace root as the build saw it (the host path, or ``/workspace`` in Docker)."""
    skip_prefixes: Tuple[str, ...] = field(default_factory=tuple)
    """Paths covered by other lines (cargo home, sysroot, target dir) or not the host's."""


def _crate(name: str) -> str:
    return name.replace("-", "_")


def discover(
    place: BuildPlace,
    *,
    workspace: Workspace,
    package: Package,
    binary: str,
    graph: Graph,
    build_started: float,
) -> Tuple[Record, List[str]]:
    """What one built binary read beyond its static inputs, from cargo's own records; and the
    files that changed while it was built (the artifact must not be cached then)."""
    files: Set[str] = set()
    racing: List[str] = []
    covered = tree_covered({package.directory, *graph.path_dirs}, workspace.target_dir)
    try:
        text = (place.out_dir / f"{binary}.d").read_text(errors="replace")
    except OSError:
        text = ""
    seen_files, _ = parse_dep_info(text)
    for name in seen_files:
        label = host_label(name, place, workspace, covered)
        if label is not None:
            files.add(label)
        # Any source rustc read (in a package tree or not) edited after cargo started: the
        # binary may hold the old content under a hash computed from the new, or vice versa.
        host = _host_path(name, place, workspace)
        try:
            if host is not None and os.stat(host).st_mtime >= build_started:
                racing.append(rel(workspace, host))
        except OSError:
            pass
    crates = {_crate(n.name) for n in graph.nodes} | {_crate(binary), _crate(package.name)}
    env: Set[str] = set()
    # The target's outputs, and the host's (``<target-dir>/<profile>``): with ``--target``,
    # proc macros and build scripts are compiled for the host there, and cargo rebuilds them
    # (and so the binary) on their env-deps too.
    for out_dir in (place.out_dir, place.host_dir):
        for dep_info in _glob(out_dir / "deps", ".d"):
            stem = dep_info.name[: -len(".d")].rsplit("-", 1)[0]
            if stem in crates:
                env.update(parse_dep_info(_read(dep_info))[1])
        for build_dir in _glob(out_dir / "build", ""):
            if _crate(build_dir.name.rsplit("-", 1)[0]) not in crates:
                continue
            for script_info in _glob(build_dir, ".d"):  # the build script's own compilation
                env.update(parse_dep_info(_read(script_info))[1])
            for line in _read(build_dir / "output").splitlines():
                for prefix in ("cargo:rerun-if-env-changed=", "cargo::rerun-if-env-changed="):
                    if line.startswith(prefix):
                        env.add(line[len(prefix) :].strip())
    env = {e for e in env if e and not _CARGO_SET_ENV.match(e)}
    return Record(files=tuple(sorted(files)), env=tuple(sorted(env))), racing


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _glob(directory: Path, suffix: str, nested: bool = False) -> List[Path]:
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return []
    if nested:
        return [e / suffix for e in entries if (e / suffix).is_file()]
    return [e for e in entries if e.name.endswith(suffix)]


def _host_path(name: str, place: BuildPlace, workspace: Workspace) -> Optional[Path]:
    """A dep-info path → the host file, or None when no line of the user's covers it (the
    cargo home, the target dir, a path of the build image)."""
    path = os.path.normpath(name)
    if not os.path.isabs(path):
        path = os.path.normpath(os.path.join(place.workspace_prefix, path))
    if any(path == p or path.startswith(p.rstrip("/") + "/") for p in place.skip_prefixes):
        return None
    if place.workspace_prefix != str(workspace.root):
        prefix = place.workspace_prefix.rstrip("/") + "/"
        if not path.startswith(prefix):
            return None  # a path of the build image, identified by the image name
        path = str(workspace.root / path[len(prefix) :])
    return Path(path)


def host_label(
    name: str, place: BuildPlace, workspace: Workspace, covered: Set[str]
) -> Optional[str]:
    """A dep-info path → its label relative to the workspace root, or None when another line
    covers it (a file a package tree hashed, the cargo home, generated files, the image)."""
    host = _host_path(name, place, workspace)
    if host is None or os.path.normpath(host) in covered:
        return None
    return rel(workspace, host)


def tree_covered(trees: Iterable[Path], target_dir: Optional[Path]) -> Set[str]:
    """Exactly the files the package trees hashed (normalised host paths). A read is dropped
    only when its file is one of them: never because its directory is one the tree skips
    (``.vscode/``, a nested package, the target dir), and never for a directory."""
    covered: Set[str] = set()
    for tree in trees:
        for entry in tree_files(tree, target_dir):
            covered.add(os.path.normpath(tree / entry.rsplit("=", 1)[0]))
    return covered


def build_place(
    *,
    workspace: Workspace,
    target: Target,
    options: BundlingOptions,
    use_docker: bool,
    target_dir: Path,
    sysroot: str = "",
) -> BuildPlace:
    out_dir = target_dir / target.triple / profile_dir(options)
    host_dir = target_dir / profile_dir(options)
    if use_docker:
        return BuildPlace(
            out_dir=out_dir,
            host_dir=host_dir,
            workspace_prefix=paths.CONTAINER_WORKSPACE,
            skip_prefixes=(paths.CONTAINER_BUILD_DIR,),
        )
    skips = [str(cargo_config.cargo_home()), str(workspace.target_dir), str(target_dir)]
    if sysroot:
        skips.append(sysroot)
    return BuildPlace(
        out_dir=out_dir,
        host_dir=host_dir,
        workspace_prefix=str(workspace.root),
        skip_prefixes=tuple(skips),
    )
