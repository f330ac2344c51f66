"""A function's asset planned, built and staged again without its app: what ``local serve``
does when an edit touched only files a function's asset hash covers.

At synth, ``write`` keeps (in the user cache, keyed by the staged asset directory) what
``pipeline.plan`` was given for a RustFunction (manifest, binary, target, bundling options,
extra files, construct path) and the files and directories its hash covers. Later, ``read``
finds it from the staged asset directory, ``Replay.covers`` maps an edited file to it, and
``rebuild`` runs the same pipeline in a build session of its own (plan → look up → build →
binary check → stage): same request, same argv, same artifact, so the bytes ``cdk synth``
stages for the edit. It stages them where the next ``cdk synth`` stages that asset
(``asset.<CDK's hash>``: the synth then finds it staged and copies nothing): CDK names a
custom-hash asset ``sha256(asset hash + JSON of its bundling options)``, which ``cdk_key``
reproduces and ``replay_of`` checks against the directory CDK staged (a CDK that names its
assets otherwise gets ``paths.rebuilt_asset_dir``).

Never written: values of ``BundlingOptions.environment`` (they may be secrets). Only each
value's ``secret_digest`` is kept; ``read`` takes the values from the environment of the
process reading it and gives None (replay not possible: synthesize) unless every digest
matches.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .._cargo import cargo_config
from .._cargo.targets import Target
from .._fingerprint import extra_files
from .._fingerprint import record as fingerprint_record
from .._fingerprint.lines import ROOT_FILES, secret_digest
from .._support import paths, session
from .._support.disk_memo import cache_root, digest
from ..errors import ConstructsRustError
from ..options import BundlingOptions
from . import pipeline
from .queue import BuildQueue, queue_for
from .request import PLACEHOLDER, BuildRequest
from .sbom import write_sbom
from .stage import install_if_cached

#: Bumped when ``Replay`` changes: older files are then ignored (the serve synthesizes).
VERSION = 1
#: Replays kept per cloud assembly (the newest; an older asset is then synthesized again).
KEEP = 400


@dataclass(frozen=True)
class Replay:
    """What one function's asset was planned from, and what its hash covers."""

    construct_path: str
    manifest: Path
    binary_name: Optional[str]
    """As the construct was given it (None: the package's only binary)."""
    target: Target
    options: BundlingOptions
    """With ``environment`` emptied: see ``env_digests``."""
    env_digests: Tuple[Tuple[str, str], ...]
    """``BundlingOptions.environment``: each name with its value's ``secret_digest``."""
    extra: Tuple[extra_files.Resolved, ...]
    asset_hash: str
    dirs: Tuple[Path, ...]
    """Directories whose every file the hash covers (the package's, its path dependencies')."""
    files: Tuple[Path, ...]
    """Single files the hash covers (root manifest, lock file, cargo configs, files the last
    build read, extra files)."""
    cdk_named: bool = False
    """``cdk_key`` named the asset directory CDK staged (checked when the replay was made)."""

    def covers(self, path: Path) -> bool:
        """Is ``path`` (absolute) one of the files this asset's hash covers?"""
        return path in self.files or any(d == path or d in path.parents for d in self.dirs)


def cdk_key(asset_hash: str, options: BundlingOptions) -> str:
    """The name CDK gives the staged directory of a function asset with this (custom) asset
    hash: ``asset.`` + sha256 of the hash and ``JSON.stringify`` of its bundling options (the
    Docker image, and the local bundler: an object with no fields of its own)."""
    bundling = json.dumps(
        {"image": options.docker_image, "local": {}}, separators=(",", ":"), ensure_ascii=False
    )
    return "asset." + hashlib.sha256((asset_hash + bundling).encode()).hexdigest()


def replay_of(
    request: BuildRequest,
    *,
    manifest: Path,
    binary_name: Optional[str],
    staged: Optional[Path] = None,
) -> Replay:
    """The replay of a planned request (``pipeline.plan`` with a ``manifest`` and
    ``binary_name`` as given), staged in ``staged`` (whose name tells whether ``cdk_key``
    names this CDK's asset directories)."""
    ws, options = request.workspace, request.options
    files = [ws.root_manifest, ws.root / "Cargo.lock", *(ws.root / n for n in ROOT_FILES)]
    files += [c.path for c in cargo_config.config_files(ws.root)]
    # what the last build read: its record on disk (a build just now may have read more)
    record = fingerprint_record.read_record(ws, request.inputs.static_key) or request.inputs.record
    files += [ws.root / f for f in (record.files if record else ())]
    dirs = [request.package.directory, *request.graph.path_dirs]
    for item in request.extra_files:
        (dirs if item.is_dir else files).append(item.source)
    return Replay(
        construct_path=request.construct_path,
        manifest=manifest,
        binary_name=binary_name,
        target=request.target,
        options=replace(options, environment={}),
        env_digests=tuple((k, secret_digest(k, v)) for k, v in sorted(options.environment.items())),
        extra=request.extra_files,
        asset_hash=request.inputs.asset_hash,
        dirs=tuple(sorted({d.resolve() for d in dirs})),  # as edits are named: no ``..``
        files=tuple(sorted({f.resolve() for f in files})),
        cdk_named=staged is not None and staged.name == cdk_key(request.inputs.asset_hash, options),
    )


def _file(asset_dir: Path) -> Path:
    assembly = digest([str(asset_dir.parent.resolve())])[:20]
    return paths.replay_file(cache_root(), assembly, asset_dir.name)


def write(replay: Replay, asset_dir: Path) -> None:
    """Keep ``replay`` for the staged asset directory ``asset_dir`` (replaced atomically; left
    alone when unchanged; a failure to write is not an error: the serve then synthesizes)."""
    target = _file(asset_dir)
    data = pickle.dumps((VERSION, replay), protocol=4)
    try:
        if target.read_bytes() == data:
            return
    except OSError:
        pass
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temp.write_bytes(data)
        os.replace(temp, target)
        _prune(target.parent)
    except OSError:
        pass


def _prune(directory: Path) -> None:
    """Keep the newest ``KEEP`` replays of one assembly (one is written per new asset)."""
    found = sorted(directory.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in found[KEEP:]:
        old.unlink(missing_ok=True)


def read(asset_dir: Path) -> Optional[Replay]:
    """The replay of the staged asset ``asset_dir``, with its bundling environment's values
    from this process's environment; None when there is none (an assembly synthesized before,
    a git source, an extension, an image), it is of another version, or a value is missing
    or differs."""
    try:
        version, found = pickle.loads(_file(asset_dir).read_bytes())
    except Exception:  # noqa: BLE001 -- absent, damaged or from another version: no replay
        return None
    if version != VERSION or not isinstance(found, Replay):
        return None
    environment: Dict[str, str] = {}
    for key, wanted in found.env_digests:
        value = os.environ.get(key)
        if value is None or secret_digest(key, value) != wanted:
            return None
        environment[key] = value
    return replace(found, options=replace(found.options, environment=environment))


@dataclass
class Rebuilt:
    """One replayed asset: its new hash and staged directory, or its error."""

    replay: Replay
    asset_hash: str
    asset_dir: Optional[Path] = None
    """None when unchanged (``asset_hash`` is the replay's) or failed."""
    error: Optional[str] = None


class _Reload:
    """Stands for the app in the build session of one ``rebuild``."""


def rebuild(replays: Sequence[Replay], assembly_dir: Path) -> List[Rebuilt]:
    """Plan every replay again (in a fresh build session: every file re-read); build the
    changed ones as ``cdk synth`` would (one cargo run per workspace group) and stage each
    where the next synth stages it in ``assembly_dir`` (see the module's docstring). Raises
    ConstructsRustError when a function cannot be planned any more (its binary gone, a
    manifest broken): the caller synthesizes, which reports it with its construct."""
    owner = _Reload()
    with session.session_for(owner).active():
        queue = queue_for(owner)
        planned: List[Tuple[Rebuilt, BuildRequest, Path]] = []
        results: List[Rebuilt] = []
        try:
            for replay in replays:
                result, request, final = _plan(owner, queue, replay, assembly_dir)
                results.append(result)
                if request is not None:
                    planned.append((result, request, final))
            for result, queued, final in planned:
                _stage(queue, result, queued, final, assembly_dir)
        except BaseException:  # never a half-staged temp dir left behind
            for _, queued, _ in planned:
                shutil.rmtree(queued.asset_dir, ignore_errors=True)
            raise
    return results


def _plan(
    owner: _Reload, queue: BuildQueue, replay: Replay, assembly_dir: Path
) -> Tuple[Rebuilt, Optional[BuildRequest], Path]:
    """One replay planned again: unchanged, staged already, staged from the local store, or
    queued for the build (its request and final directory returned to stage)."""
    request = pipeline.plan(
        owner,
        replay.manifest,
        replay.binary_name,
        target=replay.target,
        options=replay.options,
        construct_path=replay.construct_path,
        extra=replay.extra,
    )
    pipeline.describe(request, request.workspace.target_dir, replay.construct_path)
    result = Rebuilt(replay, request.inputs.asset_hash)
    if replay.cdk_named:
        final = assembly_dir / cdk_key(result.asset_hash, request.options)
    else:
        final = paths.rebuilt_asset_dir(assembly_dir, result.asset_hash)
    if result.asset_hash == replay.asset_hash:
        return result, None, final
    if (final / request.artifact_name).is_file() and not (final / PLACEHOLDER).exists():
        result.asset_dir = final  # staged already (an earlier reload or synth)
        _keep(replay, request, final, assembly_dir)
        return result, None, final
    temp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    shutil.rmtree(temp, ignore_errors=True)
    request = replace(request, asset_dir=temp)
    if request.error is None and not install_if_cached(request):
        queue.add(request)
    return result, request, final


def _stage(
    queue: BuildQueue, result: Rebuilt, request: BuildRequest, final: Path, assembly_dir: Path
) -> None:
    """Finish the queue (once), then move the staged temp dir into place."""
    pipeline.ensure(queue, request)
    if request.error is not None:
        result.error = queue.error_of(request)
        shutil.rmtree(request.asset_dir, ignore_errors=True)
        return
    try:
        os.rename(request.asset_dir, final)
    except OSError:  # another process staged it meanwhile: the same bytes
        if not (final / request.artifact_name).is_file():
            raise ConstructsRustError(f"could not stage {final}") from None
        shutil.rmtree(request.asset_dir, ignore_errors=True)
    result.asset_dir = final
    _keep(result.replay, request, final, assembly_dir)


def _keep(before: Replay, request: BuildRequest, final: Path, assembly_dir: Path) -> None:
    """The replay of the new asset (for the next edit) and, when auditable, its SBOM."""
    after = replay_of(
        request, manifest=before.manifest, binary_name=before.binary_name, staged=final
    )
    write(after, final)
    if request.options.auditable:
        write_sbom(request, assembly_dir)
