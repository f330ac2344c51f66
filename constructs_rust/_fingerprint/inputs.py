"""Every input of a Rust asset's hash, in one place: the hash and its "why it changed" come
from one list of lines (``Inputs.lines``), and nothing else decides an asset hash.

A binary's inputs are what cargo's own freshness check covers: STATIC lines known before
any build (``tree``, ``dep``, ``path``, ``root``, ``config``, ``setting``, ``toolchain``,
``source``), ASSET lines that change the zip but not the binary (``include``), and DISCOVERED
lines from cargo's records of the last build of the same static inputs (``read`` for files
and watched directories, ``env``; see ``discover``). What each line covers, and why, is
written once, for users, in docs/bundling.md ("The asset hash: everything cargo reads").

A binary with no record yet (a new machine, no shared record) is built at plan time, so its
hash includes the discovered lines from its first synth on (see ``bundling.plan_bundle``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from .._cargo.depgraph import Graph, read_lock
from .._cargo.metadata import Package, Workspace
from .._cargo.targets import Target
from .._support.disk_memo import digest
from ..options import BundlingOptions
from .lines import VERSION, build_settings, config_lines, extra_lines, graph_lines, root_lines
from .record import Record
from .tree import hash_tree, rel, tree_files


@dataclass(frozen=True)
class Inputs:
    """The inputs of one binary: the hash is the digest of ``lines``."""

    static: Tuple[str, ...]
    extra: Tuple[str, ...] = ()
    record: Optional[Record] = None
    """The discovered inputs the extra lines were computed from (None: not known yet)."""
    zip: Tuple[str, ...] = ()
    """``include …`` lines: the function's extra files in the zip (``extra_files.lines``).
    They change the ASSET hash but not the binary, so they are not part of ``lines``/
    ``fingerprint`` (the artifact cache key, local and remote): editing an extra file
    restages the asset from the cached binary, without cargo."""
    trees: Tuple[Tuple[str, Tuple[str, ...]], ...] = field(default=(), compare=False)
    """Per ``tree`` line, its label and the file entries behind its digest: what the history
    keeps to name the files an edit added, removed or changed. Not part of the hash (the
    ``tree`` line's digest already covers them)."""

    @property
    def static_key(self) -> str:
        """Names the record store entry: the static inputs only."""
        return digest(self.static)

    @property
    def lines(self) -> Tuple[str, ...]:
        return self.static + self.extra

    @property
    def fingerprint(self) -> str:
        """The binary's fingerprint (its artifact's key)."""
        return digest(self.lines)

    @property
    def asset_lines(self) -> Tuple[str, ...]:
        """Every line of the asset: the binary's and the extra files' (what "why did my
        function redeploy" compares)."""
        return self.lines + self.zip

    @property
    def asset_hash(self) -> str:
        """The asset hash: the binary's fingerprint, or with extra files the digest of
        ``asset_lines``."""
        return digest(self.asset_lines) if self.zip else self.fingerprint

    def with_record(
        self, workspace: Workspace, record: Record, options: BundlingOptions, use_docker: bool
    ) -> "Inputs":
        extra = tuple(extra_lines(workspace, record, options, use_docker))
        return Inputs(
            static=self.static, extra=extra, record=record, zip=self.zip, trees=self.trees
        )


def static_inputs(
    *,
    workspace: Workspace,
    package: Package,
    binary: str,
    graph: Graph,
    options: BundlingOptions,
    target: Target,
    use_docker: bool,
    toolchain: str,
    extension: bool,
    source: Sequence[str] = (),
) -> Inputs:
    """Every input known before a build, one readable line each. ``source``: where the
    workspace came from (``source git commit=…`` for a git source, see git_source.py)."""
    lines: List[str] = [VERSION, f"package={package.name}", f"binary={binary}", *source]
    trees = []
    for directory in sorted({package.directory, *graph.path_dirs}):
        tree = hash_tree(directory, workspace.target_dir)
        lines.append(f"tree {rel(workspace, directory)}={tree}")
        trees.append((rel(workspace, directory), tree_files(directory, workspace.target_dir)))
    lines += graph_lines(graph, read_lock(workspace), workspace)
    lines += root_lines(workspace)
    lines += config_lines(workspace, use_docker)
    lines += [f"setting {s}" for s in build_settings(options, target, use_docker)]
    if extension:
        lines.append("setting kind=extension")
    lines.append(f"toolchain {toolchain}")
    return Inputs(static=tuple(lines), trees=tuple(trees))
