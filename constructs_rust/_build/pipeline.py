"""The pipeline of one function: its stages in the order they run, each called from here alone.

CDK needs an asset's hash when ``Code.from_asset`` runs, in the construct's ``__init__``, but
the build of every function of an app is cheapest as one cargo run per workspace group, once
every construct exists. So the pipeline has two halves:

``plan`` (construct time, one function):
  1. **resolve**: ``cargo metadata`` picks the workspace, package and binary (warning when
     cdk.json's watch would see its builds); local or Docker; the dependency graph (``_cargo``);
  2. **inputs and key**: the static input lines and the fingerprint (``_fingerprint``);
  3. **record lookup**: what the last build of these inputs read, from this machine's record,
     the team cache, else the binary's previous record (``_fingerprint/record``, ``_store``);
  4. **cold build**: no record anywhere, so build now and learn what it reads, so the hash
     covers it from the first synth on (``queue.build_now``).

``finish`` (synth time, once per app, from the first validation or aspect that runs), for every
pending function, by group:
  1. **look up** the local artifact store (sealed artifacts; a damaged one is a miss);
  2. **fetch** the misses from the team cache (``_store/remote``);
  3. **build** what is still missing: one cargo-lambda run per batch (``run.build_batch``);
  4. **verify**: ``CONSTRUCTS_RUST_VERIFY=1`` rebuilds every function from clean and compares;
  5. **stage** each artifact into its CDK asset directory (``stage``), after the binary check
     (``binary_check``: architecture, loader, glibc, static, executable, size quota);
  6. **upload** what was built (team cache in ``read-write`` mode).

The CDK side (the stand-in hash of unbundled stacks, notices, EXPLAIN and history output,
``Code.from_asset``, registering the validation) stays in ``_construct/bundling.py``.
"""

from __future__ import annotations

import shutil
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .._cargo import cargo_config, depgraph, metadata, toolchain
from .._cargo.targets import Target
from .._fingerprint import extra_files, history, inputs
from .._fingerprint import lines as fingerprint_lines
from .._fingerprint import record as fingerprint_record
from .._support import log, session, settings, timing, watch_config
from .._support.locks import locked
from ..errors import ConstructsRustError
from ..options import BundlingOptions
from .auditable import check_auditable
from .failure import split_reason
from .queue import BuildQueue, fail_requests, queue_for, report_built, split_batches
from .request import BuildRequest, GroupKey, artifact_dir, workspace_build_dir
from .run import build_batch, verifying
from .stage import cached_intact, install_artifact

# -- construct time ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """Stage 1's answer: what will be built, where and how."""

    workspace: metadata.Workspace
    package: metadata.Package
    binary: str
    use_docker: bool
    toolchain: str
    """The toolchain's identity line: the Docker image, or the local cargo-lambda/zig/rustc."""
    graph: depgraph.Graph


def resolve(
    manifest: Path,
    binary_name: Optional[str],
    *,
    target: Target,
    options: BundlingOptions,
    construct_path: str,
) -> Resolved:
    """Stage 1: the workspace, package and binary cargo reports, local or Docker, the graph."""
    workspace = metadata.load_workspace(manifest, options.cargo_lambda_flags)
    package, binary = metadata.resolve_binary(workspace, manifest, binary_name)
    watch_config.warn_if_watched(workspace.target_dir)
    use_docker = _use_docker(options)
    check_auditable(options, use_docker=use_docker)
    if use_docker:
        _warn_unseen_config(workspace, construct_path)
    tools = (
        f"docker {options.docker_image}" if use_docker else toolchain.local_identity(workspace.root)
    )
    graph = depgraph.dependency_graph(
        workspace,
        package,
        triple=target.triple,
        features=options.features,
        no_default_features=options.no_default_features,
    )
    return Resolved(workspace, package, binary, use_docker, tools, graph)


def request_for(
    resolved: Resolved,
    *,
    target: Target,
    options: BundlingOptions,
    construct_path: str,
    extension: bool,
    source: Sequence[str] = (),
) -> BuildRequest:
    """Stage 2: the build request with its static inputs (no record consulted yet)."""
    ws, package, binary = resolved.workspace, resolved.package, resolved.binary
    return BuildRequest(
        construct_path=construct_path,
        workspace=ws,
        package=package,
        binary=binary,
        target=target,
        options=options,
        use_docker=resolved.use_docker,
        inputs=inputs.static_inputs(
            workspace=ws,
            package=package,
            binary=binary,
            graph=resolved.graph,
            options=options,
            target=target,
            use_docker=resolved.use_docker,
            toolchain=resolved.toolchain,
            extension=extension,
            source=source,
        ),
        slot=fingerprint_record.slot(
            package, binary, fingerprint_lines.build_settings(options, target, resolved.use_docker)
        ),
        graph=resolved.graph,
        extension=extension,
    )


def plan(
    root: object,
    manifest: Path,
    binary_name: Optional[str],
    *,
    target: Target,
    options: BundlingOptions,
    construct_path: str,
    extension: bool = False,
    source: Sequence[str] = (),
    extra: Sequence[extra_files.Resolved] = (),
) -> BuildRequest:
    """Stages 1-4 for one function of the app whose root construct is ``root`` (any object
    that names one build session: ``local serve``'s reload has no construct): its request,
    with the inputs its last build read (a cold function is built now to learn them).
    ``extra``: files added to the zip next to the binary (their lines join the asset hash,
    not the binary's fingerprint)."""
    resolved = resolve(
        manifest, binary_name, target=target, options=options, construct_path=construct_path
    )
    request = request_for(
        resolved,
        target=target,
        options=options,
        construct_path=construct_path,
        extension=extension,
        source=source,
    )
    queue = queue_for(root)  # the app's queue (and team cache: its settings are read now)
    record = queue.record_for(request)  # stage 3
    if record is not None:
        request.inputs = request.inputs.with_record(
            resolved.workspace, record, options, resolved.use_docker
        )
    else:  # stage 4. An extension's run builds only the extension: the other binaries, built
        # with --extension, would be of no use to the workspace's functions.

        def siblings() -> List[BuildRequest]:
            if not request.unified or extension:
                return []
            return _siblings(request, resolved.toolchain, source)

        queue.build_now(request, siblings)
    request.inputs = replace(request.inputs, zip=tuple(extra_files.lines(extra)))
    request.extra_files = tuple(extra)
    return request


def describe(request: BuildRequest, history_dir: Path, history_key: str) -> None:
    """After ``plan``: the EXPLAIN lines of the asset's inputs, and (recorded in ``history_dir``
    under ``history_key``) what changed since the previous asset of the same key."""
    path, fp, lines = request.construct_path, request.inputs.asset_hash, request.inputs.asset_lines
    if settings.explain():
        for line in lines:
            log.explain(f"{path} fingerprint input: {line}")
        log.explain(f"{path} fingerprint: {fp}")
    changed = history.record(history_dir, history_key, fp, lines, trees=dict(request.inputs.trees))
    if changed:
        log.say(history.render(path, changed), prefix=False)


def _siblings(
    request: BuildRequest, toolchain: str, source: Sequence[str] = ()
) -> List[BuildRequest]:
    """The workspace's other binaries, built the same way, that have no record yet: a new
    machine's second cold function builds them all in ITS cargo run (the whole workspace is
    selected anyway), so the app's other functions of the workspace find records and
    artifacts."""
    ws, options = request.workspace, request.options
    names = {request.binary}
    found: List[BuildRequest] = []
    for package in ws.packages:
        for binary in package.bins:
            if binary in names or binary in package.gated_bins:
                continue
            names.add(binary)
            graph = depgraph.dependency_graph(ws, package, triple=request.target.triple)
            resolved = Resolved(ws, package, binary, request.use_docker, toolchain, graph)
            sibling = request_for(
                resolved,
                target=request.target,
                options=options,
                construct_path=f"(workspace binary {binary})",
                extension=request.extension,
                source=source,
            )
            if fingerprint_record.read_record(ws, sibling.inputs.static_key) is None:
                found.append(sibling)
    return found


def _use_docker(options: BundlingOptions) -> bool:
    if options.force_docker:
        return True
    if toolchain.find_cargo_lambda() is None:
        if session.current().once("docker-fallback"):
            log.say(
                "cargo-lambda not found; bundling Rust functions in Docker "
                f"({options.docker_image})"
            )
        return True
    return False


def _warn_unseen_config(workspace: metadata.Workspace, construct_path: str) -> None:
    """Docker builds see the workspace root only: config files above it or in $CARGO_HOME
    that a local build would read are not part of a Docker build (nor of its hash)."""
    unseen = cargo_config.outside_config_files(workspace.root)
    if unseen and session.current().once(("unseen-config", workspace.root)):
        log.say(
            f"WARNING {construct_path}: Docker bundling does not read "
            f"{', '.join(c.label for c in unseen)} (outside the mounted workspace root); copy "
            "what the build needs into the workspace's own .cargo/config.toml"
        )


# -- synth time --------------------------------------------------------------------------------


def ensure(queue: BuildQueue, request: BuildRequest) -> Optional[str]:
    """Finish the app's pending functions (once) and return this request's error, if it is
    the one that reports it."""
    if not request.done:
        finish(queue)
    if request.error is not None and request.asset_dir != Path():
        shutil.rmtree(request.asset_dir, ignore_errors=True)  # never a half-written asset
    if request.error is None or not request.reports_error:
        return None
    return queue.error_of(request)


def finish(queue: BuildQueue) -> None:
    """Stages 1-6 of every pending function of the app, group by group."""
    groups: Dict[GroupKey, List[BuildRequest]] = {}
    for request in queue.requests:
        if not request.done:
            groups.setdefault(request.group_key, []).append(request)
    if queue.remote is not None:
        _fetch(queue, [r for group in groups.values() for r in group])  # stages 1-2
    built: List[BuildRequest] = []
    runs: Dict[str, List[BuildRequest]] = {}
    for index, group in enumerate(groups.values(), 1):
        position = f"group {index} of {len(groups)}" if len(groups) > 1 else ""
        for batch in _build_and_stage(group, position):  # stages 1, 3-5
            built += batch
            runs.setdefault(str(batch[0].workspace.root), []).append(batch[0])
    for firsts in runs.values():
        if len(firsts) > 1:
            log.say(
                f"{len(firsts)} cargo runs for the workspace of "
                f"{firsts[0].construct_path}, because {split_reason(firsts[0], firsts[1])}"
            )
    if queue.remote is not None and built:
        queue.upload(built)  # stage 6


def _fetch(queue: BuildQueue, pending: List[BuildRequest]) -> None:
    """Stages 1-2 with a team cache: every local miss of the app, fetched concurrently, into
    the local store (temp dir + verify + rename, under each workspace's lock)."""
    assert queue.remote is not None
    by_build_dir: Dict[Path, Dict[str, Tuple[Path, str]]] = {}
    for r in pending:
        final = artifact_dir(r.workspace, r.fingerprint)
        if not cached_intact(r):
            entry = (final, r.artifact_name)
            by_build_dir.setdefault(workspace_build_dir(r.workspace), {})[r.fingerprint] = entry
    if not by_build_dir:
        return
    try:
        with ExitStack() as stack:
            for build_dir in sorted(by_build_dir):  # a fixed order: no lock-order deadlock
                stack.enter_context(locked(build_dir / ".lock"))
                (build_dir / "artifacts").mkdir(parents=True, exist_ok=True)
            wanted = {fp: entry for d in by_build_dir.values() for fp, entry in d.items()}
            queue.remote.fetch(wanted)
    except OSError as exc:
        log.say(f"WARNING remote build cache not used: {exc}; building locally")


def _build_and_stage(group: List[BuildRequest], position: str = "") -> List[List[BuildRequest]]:
    """One group, under its workspace's lock: look up the local store, build one batch per
    cargo run (verifying, when asked), then stage every request. Returns the batches built.
    ``position``: e.g. ``"group 2 of 3"``, for the progress line."""
    ws = group[0].workspace
    built: List[List[BuildRequest]] = []
    verify = verifying()
    try:
        with locked(workspace_build_dir(ws) / ".lock"):
            misses: Dict[Tuple[str, str], BuildRequest] = {}
            for request in group:  # stage 1 (after the fetch)
                if verify or not cached_intact(request):
                    misses.setdefault((request.package.name, request.binary), request)
            for batch in split_batches(list(misses.values())):  # stages 3-4
                started = time.monotonic()
                build_batch(batch, verify=verify)
                report_built(batch, started, position)
                if not verify:  # a verifying synth never writes the shared cache
                    built.append(batch)
    except (ConstructsRustError, OSError) as exc:
        fail_requests([r for r in group if not cached_intact(r)], str(exc))
    for request in group:  # stage 5
        request.done = True
        if request.error is None:
            try:
                with timing.measure():
                    install_artifact(request)
            except ConstructsRustError as exc:  # the validation names the construct
                request.error = str(exc)
            except OSError as exc:
                request.error = f"could not stage the bootstrap: {exc}"
        if request.error is not None:
            shutil.rmtree(request.asset_dir, ignore_errors=True)
    return built
