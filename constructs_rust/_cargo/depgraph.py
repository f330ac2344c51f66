"""The resolved dependency graph ONE binary is built with, as cargo itself resolves it.

A function's asset hash must cover what can change its binary and nothing else, so it needs
the packages its build actually compiles: names, versions, sources, checksums and enabled
features, as cargo resolves them for the target (dev dependencies excluded, platform-specific
dependencies filtered), each registry or git package joined with its ``Cargo.lock`` entry.

Two ways to build, two ways to resolve:

- WORKSPACE-UNIFIED (no ``bundling.features``): the build selects the whole workspace
  (``cargo lambda build --workspace --bin …``, what ``cargo lambda build`` at the workspace root
  does), so every binary of a workspace and target shares ONE cargo run and one set of
  dependency features, whichever binaries the app (or the selected stacks) use. The graph is
  the package's part of ``cargo tree --workspace`` (features unified over every member).
- PACKAGE-SCOPED (``bundling.features``/``no_default_features``, which apply to one package):
  ``cargo tree -p <package>``, resolved as ``cargo build -p <package>`` does; such binaries
  are built per package (see ``conflicts``) so their bytes never depend on their batch.

Results are cached on disk per workspace manifest content and target, not per checkout path:
entries hold relative paths only, so a CI runner that restores the library's cache directory
(``~/.cache/constructs-rust``) into a checkout at another path reuses them. An entry is used
while every input that can change it is unchanged: the ``Cargo.lock`` entries of its packages,
the manifests of its path packages (of every member, for the unified resolve), the workspace
manifest and the cargo config files (``cargo_config.py``). A warm synth runs no cargo at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from .._support import disk_memo, session
from ..errors import CargoError
from . import cargo_config
from .metadata import Package, Workspace, run_cargo

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

FORMAT = "constructs-rust-depgraph-v2"
_LINE = re.compile(r"^(\S+) v(\S+)(.*)$")


@dataclass(frozen=True)
class Node:
    """One package of the graph."""

    name: str
    version: str
    source: str
    """``crates.io``, a registry or git URL as cargo prints it, or the path of a path package."""
    features: str
    """Enabled features, comma-separated, sorted by cargo."""
    proc_macro: bool
    path: Optional[Path]
    """The package directory for path packages, else None."""

    @property
    def key(self) -> str:
        return f"{self.name} {self.version} {self.source if self.path is None else 'path'}"


@dataclass(frozen=True)
class Graph:
    """The packages compiled into one binary, for one target and feature selection."""

    nodes: Tuple[Node, ...]

    @property
    def path_dirs(self) -> List[Path]:
        return sorted({n.path for n in self.nodes if n.path is not None})

    def features_by_package(self) -> Dict[str, FrozenSet[str]]:
        """Package key → the feature sets it is compiled with (host and target may differ)."""
        found: Dict[str, Set[str]] = {}
        for node in self.nodes:
            found.setdefault(node.key, set()).add(node.features)
        return {k: frozenset(v) for k, v in found.items()}


def conflicts(a: Graph, b: Graph) -> bool:
    """True when building both in ONE cargo run would change either one's features."""
    fa, fb = a.features_by_package(), b.features_by_package()
    return any(fa[key] != fb[key] for key in fa.keys() & fb.keys())


# -- Cargo.lock ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Lock:
    entries: Mapping[Tuple[str, str], Tuple[Mapping[str, Any], ...]]

    def entries_for(self, name: str, version: str) -> Tuple[Mapping[str, Any], ...]:
        return self.entries.get((name, version), ())

    def checksums(self, name: str, version: str) -> str:
        return ",".join(
            sorted(str(e.get("checksum", "-")) for e in self.entries_for(name, version))
        )


#: Parsed Cargo.lock files by (path, size, mtime).
LOCKS: session.MemoKey[Tuple[Path, int, int], Lock] = session.MemoKey("cargo.locks")


def read_lock(workspace: Workspace) -> Lock:
    path = workspace.root / "Cargo.lock"
    try:
        st = path.stat()
    except OSError:
        return Lock(entries={})
    key = (path, st.st_size, st.st_mtime_ns)
    _locks = session.current().memo(LOCKS)
    if key not in _locks:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        entries: Dict[Tuple[str, str], List[Mapping[str, Any]]] = {}
        for pkg in data.get("package", []):
            entries.setdefault((pkg["name"], pkg["version"]), []).append(pkg)
        _locks[key] = Lock(entries={k: tuple(v) for k, v in entries.items()})
    return _locks[key]


# -- the workspace manifest ------------------------------------------------------------------


#: Parsed Cargo.toml files by (path, size, mtime).
MANIFESTS: session.MemoKey[Tuple[Path, int, int], Optional[Dict[str, Any]]] = session.MemoKey(
    "cargo.manifests"
)


def read_manifest(path: Path) -> Optional[Dict[str, Any]]:
    """A parsed Cargo.toml (memoised by size and mtime); None when unreadable."""
    try:
        st = path.stat()
        key = (path, st.st_size, st.st_mtime_ns)
        _manifests = session.current().memo(MANIFESTS)
        if key not in _manifests:
            with open(path, "rb") as fh:
                _manifests[key] = tomllib.load(fh)
        return _manifests[key]
    except (OSError, tomllib.TOMLDecodeError):
        return None


# -- cargo tree -----------------------------------------------------------------------------


def tree_argv(
    workspace: Workspace,
    package: Package,
    *,
    triple: str,
    features: Sequence[str] = (),
    no_default_features: bool = False,
) -> List[str]:
    """``cargo tree`` listing every package ``cargo build -p <package>`` compiles, once each."""
    argv = ["cargo", "tree", "--manifest-path", str(workspace.root_manifest)]
    argv += ["--package", f"{package.name}@{package.version}", "--target", triple]
    argv += ["--edges", "normal,build", "--prefix", "none", "--format", "{p}|{f}"]
    argv += ["--locked", "--offline", "--color", "never"]
    if features:
        argv += ["--features", ",".join(features)]
    if no_default_features:
        argv.append("--no-default-features")
    return argv


def _parse_line(line: str, workspace: Workspace) -> Optional[Node]:
    """One ``{p}|{f}`` line (without prefix) → Node; path sources become workspace-relative."""
    line = line.strip()
    if line.endswith(" (*)"):
        line = line[: -len(" (*)")]
    left, _, feats = line.rpartition("|")
    match = _LINE.match(left)
    if not match:
        return None
    name, version, rest = match.groups()
    proc_macro = rest.endswith(" (proc-macro)")
    if proc_macro:
        rest = rest[: -len(" (proc-macro)")]
    source, path = "crates.io", None
    rest = rest.strip()
    if rest.startswith("(") and rest.endswith(")"):
        source = rest[1:-1]
        if os.path.isabs(source):
            path = Path(source)
            source = Path(os.path.relpath(path, workspace.root)).as_posix()
    return Node(name, version, source, feats.strip(), proc_macro, path)


def _node_id(node: Node) -> Tuple[str, str, bool]:
    return (node.key, node.features, node.proc_macro)


def parse_tree(output: str, workspace: Workspace) -> Graph:
    """Parse ``{p}|{f}`` lines of one package's tree (``--prefix none``)."""
    nodes = {}
    for raw in output.splitlines():
        node = _parse_line(raw, workspace)
        if node is not None:
            nodes[_node_id(node)] = node
    return Graph(nodes=tuple(nodes[k] for k in sorted(nodes)))


def parse_workspace_tree(output: str, workspace: Workspace) -> Dict[str, Graph]:
    """Parse ``cargo tree --workspace --prefix depth``: every member's graph (``name@version``
    → Graph) with the features cargo unifies over the whole workspace. A package printed
    again is marked ``(*)`` without its dependencies, so reachability follows the edges
    collected over the whole output."""
    nodes: Dict[Tuple[str, str, bool], Node] = {}
    children: Dict[Tuple[str, str, bool], Set[Tuple[str, str, bool]]] = {}
    roots: List[Tuple[str, str, bool]] = []
    stack: List[Tuple[str, str, bool]] = []
    for raw in output.splitlines():
        match = re.match(r"^(\d+)(.*)$", raw.strip())
        if not match:
            continue
        node = _parse_line(match.group(2), workspace)
        if node is None:
            continue
        depth, key = int(match.group(1)), _node_id(node)
        nodes[key] = node
        del stack[depth:]
        if depth == 0:
            roots.append(key)
        elif stack:
            children.setdefault(stack[-1], set()).add(key)
        stack.append(key)
    graphs: Dict[str, Graph] = {}
    for root in roots:
        seen: Set[Tuple[str, str, bool]] = set()
        todo = [root]
        while todo:
            key = todo.pop()
            if key not in seen:
                seen.add(key)
                todo.extend(children.get(key, ()))
        member = nodes[root]
        graphs[f"{member.name}@{member.version}"] = Graph(
            nodes=tuple(nodes[k] for k in sorted(seen))
        )
    return graphs


def workspace_tree_argv(workspace: Workspace, triple: str) -> List[str]:
    """``cargo tree`` of every member, features unified as ``cargo build --workspace`` does."""
    argv = ["cargo", "tree", "--manifest-path", str(workspace.root_manifest), "--workspace"]
    argv += ["--target", triple, "--edges", "normal,build", "--prefix", "depth"]
    argv += ["--format", "{p}|{f}", "--locked", "--offline", "--color", "never"]
    return argv


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "absent"


def _validity(
    workspace: Workspace, lock: Lock, graph_keys: Iterable[Tuple[str, str]], dirs: Iterable[str]
) -> str:
    """Everything a cached graph depends on; equal → the graph is still what cargo resolves."""
    parts: List[Any] = [FORMAT, _file_digest(workspace.root_manifest)]
    for config in cargo_config.config_files(workspace.root):  # [patch], [source] resolve
        parts.append(f"{config.label}={_file_digest(config.path)}")
    for name, version in sorted(set(graph_keys)):
        for entry in lock.entries_for(name, version):
            parts.append(json.dumps(entry, sort_keys=True, default=str))
    for rel in sorted(set(dirs)):
        parts.append(f"{rel}={_file_digest(workspace.root / rel / 'Cargo.toml')}")
    return disk_memo.digest(parts)


def _to_json(graph: Graph) -> List[List[Any]]:
    return [
        [n.name, n.version, n.source, n.features, n.proc_macro, n.path is not None]
        for n in graph.nodes
    ]


def _from_json(rows: List[List[Any]], workspace: Workspace) -> Graph:
    return Graph(
        nodes=tuple(
            Node(
                name,
                version,
                source,
                features,
                proc_macro,
                Path(os.path.normpath(workspace.root / source)) if is_path else None,
            )
            for name, version, source, features, proc_macro, is_path in rows
        )
    )


def _tree_output(argv: List[str], workspace: Workspace, *, what: str, manifest: Path) -> str:
    """``cargo tree``'s output, run from the workspace root (where cargo finds its config)."""
    proc = run_cargo(argv, cwd=workspace.root)
    if proc.returncode != 0:
        raise CargoError(
            f"cargo tree failed for {what}:\n{proc.stderr.strip()}",
            prop="manifest_path",
            value=str(manifest),
            fix="run the same `cargo tree` in that directory to reproduce; after editing "
            "Cargo.toml, check the features named in bundling.features exist",
        )
    return proc.stdout


def _resolve(argv: List[str], workspace: Workspace, package: Package) -> Graph:
    what = f"package {package.name} ({package.manifest_path})"
    output = _tree_output(argv, workspace, what=what, manifest=package.manifest_path)
    return parse_tree(output, workspace)


#: Dependency graphs by (workspace root, package, version, triple, features, no-default).
GRAPHS: session.MemoKey[Tuple[Any, ...], Graph] = session.MemoKey("cargo.graphs")


def _unified_graphs(workspace: Workspace, triple: str, lock: Lock) -> Dict[str, Graph]:
    """Every member's graph with workspace-unified features, from the cache while every input
    of ANY member is unchanged (another member's manifest can change the unified features)."""
    portable = (_file_digest(workspace.root_manifest), "workspace", triple)
    key = disk_memo.digest([FORMAT, *portable])
    entry = disk_memo.read_json("depgraph", key)
    if entry and isinstance(entry.get("members"), dict):
        graphs = {m: _from_json(rows, workspace) for m, rows in entry["members"].items()}
        if entry.get("valid") == _unified_validity(workspace, lock, graphs):
            return graphs
    output = _tree_output(
        workspace_tree_argv(workspace, triple),
        workspace,
        what=f"the workspace {workspace.root_manifest}",
        manifest=workspace.root_manifest,
    )
    graphs = parse_workspace_tree(output, workspace)
    disk_memo.write_json(
        "depgraph",
        key,
        {
            "members": {m: _to_json(g) for m, g in graphs.items()},
            "valid": _unified_validity(workspace, lock, graphs),
        },
    )
    return graphs


def _unified_validity(workspace: Workspace, lock: Lock, graphs: Mapping[str, Graph]) -> str:
    nodes = [n for g in graphs.values() for n in g.nodes]
    return _validity(
        workspace,
        lock,
        [(n.name, n.version) for n in nodes],
        [n.source for n in nodes if n.path is not None],
    )


def dependency_graphs(
    workspace: Workspace,
    wanted: Sequence[Tuple[Package, str, Tuple[str, ...], bool]],
) -> List[Graph]:
    """Graphs for several (package, triple, features, no_default_features), from the cache
    where still valid. Without features the graph is the package's part of the
    workspace-unified resolve (one ``cargo tree --workspace`` per target: a build of such a
    binary selects the whole workspace, as ``cargo lambda build`` at the root does); with
    features, the package's own resolve (``cargo tree -p``), resolved in parallel."""
    lock = read_lock(workspace)
    _memo = session.current().memo(GRAPHS)
    results: Dict[int, Graph] = {}
    todo: List[Tuple[int, Tuple[Any, ...], str, List[str]]] = []
    for i, (package, triple, features, no_default) in enumerate(wanted):
        memo_key = (workspace.root, package.name, package.version, triple, features, no_default)
        if memo_key in _memo:
            results[i] = _memo[memo_key]
            continue
        if not features and not no_default:
            graphs = _unified_graphs(workspace, triple, lock)
            for member, graph in graphs.items():
                name, _, version = member.rpartition("@")
                _memo[(workspace.root, name, version, triple, (), False)] = graph
            member = f"{package.name}@{package.version}"
            if member not in graphs:
                raise CargoError(
                    f"cargo tree --workspace did not list the package {member}",
                    prop="manifest_path",
                    value=str(package.manifest_path),
                    fix="check that the package is a member of the workspace",
                )
            results[i] = graphs[member]
            continue
        # On disk: the workspace's identity is its manifest's content, not its absolute path.
        portable = (_file_digest(workspace.root_manifest), *memo_key[1:])
        key = disk_memo.digest([FORMAT, *map(str, portable)])
        entry = disk_memo.read_json("depgraph", key)
        if entry and "nodes" in entry:
            graph = _from_json(entry["nodes"], workspace)
            keys = [(n.name, n.version) for n in graph.nodes]
            dirs = [n.source for n in graph.nodes if n.path is not None]
            if entry.get("valid") == _validity(workspace, lock, keys, dirs):
                _memo[memo_key] = results[i] = graph
                continue
        argv = tree_argv(
            workspace, package, triple=triple, features=features, no_default_features=no_default
        )
        todo.append((i, memo_key, key, argv))
    if todo:
        workers = max(1, min(len(todo), (os.cpu_count() or 2) * 2))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            graphs_ = list(pool.map(lambda t: _resolve(t[3], workspace, wanted[t[0]][0]), todo))
        for (i, memo_key, key, _), graph in zip(todo, graphs_, strict=True):
            keys = [(n.name, n.version) for n in graph.nodes]
            dirs = [n.source for n in graph.nodes if n.path is not None]
            disk_memo.write_json(
                "depgraph",
                key,
                {"nodes": _to_json(graph), "valid": _validity(workspace, lock, keys, dirs)},
            )
            _memo[memo_key] = results[i] = graph
    return [results[i] for i in range(len(wanted))]


def dependency_graph(
    workspace: Workspace,
    package: Package,
    *,
    triple: str,
    features: Sequence[str] = (),
    no_default_features: bool = False,
) -> Graph:
    return dependency_graphs(workspace, [(package, triple, tuple(features), no_default_features)])[
        0
    ]
