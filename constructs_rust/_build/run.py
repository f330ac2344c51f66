"""One cargo-lambda run of a batch: hooks, the local or Docker invocation, learning what the
build read (the record of its discovered inputs), storing each binary in the artifact store,
and ``CONSTRUCTS_RUST_VERIFY``'s rebuild-from-clean comparison."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from .._cargo.targets import host_docker_platform
from .._fingerprint import discover
from .._fingerprint import record as fingerprint_record
from .._store import artifacts
from .._support import log, paths, processes, settings
from ..errors import ConstructsRustError
from . import volume_copy
from .failure import build_failure
from .invoke import docker_invocation, docker_user, kill_container, local_invocation
from .request import BuildRequest, artifact_dir, workspace_build_dir


def _run_hooks(hook_commands: Sequence[str], *, cwd: Path, env: Dict[str, str], what: str) -> None:
    for command in hook_commands:
        log.say(f"{what} hook: {command}")
        code, _ = processes.stream(["sh", "-c", command], cwd=cwd, env=env)
        if code != 0:
            raise ConstructsRustError(
                f"{what} hook `{command}` exited with {code}; its output is printed above",
                prop="bundling.command_hooks",
                fix="fix the hook command (hooks run through `sh -c`)",
            )


def _store(request: BuildRequest, built: Path) -> None:
    """Move one built binary (plus after-build hook output) into the artifact cache."""
    final = artifact_dir(request.workspace, request.fingerprint)
    tmp = final.parent / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    try:
        stored = tmp / request.artifact_name
        stored.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, stored)
        os.chmod(stored, 0o755)
        hooks = request.options.command_hooks
        if hooks and hooks.after_build:
            env = dict(os.environ, INPUT_DIR=str(request.workspace.root), OUTPUT_DIR=str(tmp))
            _run_hooks(hooks.after_build, cwd=request.workspace.root, env=env, what="after-build")
        artifacts.seal(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / request.artifact_name).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: ``CONSTRUCTS_RUST_VERIFY=1``: every function is rebuilt from clean (a fresh target dir) and
#: compared with its cached artifact (local or remote); a difference fails the synth.
ENV_VERIFY = settings.VERIFY


_MAX_ATTEMPTS = 3


def verifying() -> bool:
    return settings.verify()


def _cargo_target_dir(request: BuildRequest, verify_dir: Optional[Path]) -> Path:
    """The host path of the target dir a build of ``request`` writes."""
    if verify_dir is not None:
        return verify_dir
    if request.use_docker:
        return workspace_build_dir(request.workspace) / Path(paths.CONTAINER_TARGET_DIR).name
    return request.workspace.target_dir


def _learn(
    request: BuildRequest, target_dir: Path, started: float, *, last_attempt: bool = False
) -> List[str]:
    """Record what the build of ``request`` read (cargo's dep-info and build-script outputs);
    a request planned without a record gets its final fingerprint here. Returns the files
    that changed while cargo ran (the binary may predate them: build again)."""
    ws = request.workspace
    place = discover.build_place(
        workspace=ws,
        target=request.target,
        options=request.options,
        use_docker=request.use_docker,
        target_dir=target_dir,
    )
    if not (place.out_dir / f"{request.binary}.d").is_file():
        log.say(
            f"WARNING {request.construct_path}: cargo wrote no dep-info file for "
            f"{request.binary} in {place.out_dir}; files read outside its package cannot be "
            "tracked for this build"
        )
    discovered, racing = discover.discover(
        place,
        workspace=ws,
        package=request.package,
        binary=request.binary,
        graph=request.graph,
        build_started=started,
    )
    if racing and not last_attempt:
        return racing
    if racing:
        log.say(
            f"WARNING {request.construct_path}: {', '.join(racing[:5])} changed during every "
            "build (written by the build itself?); keeping this build's binary"
        )
    used = request.inputs.record
    if used is None:
        request.inputs = request.inputs.with_record(
            ws, discovered, request.options, request.use_docker
        )
        used = discovered
    elif not used.covers(discovered):
        new = sorted(set(discovered.files) - set(used.files)) + sorted(
            f"${name}" for name in set(discovered.env) - set(used.env)
        )
        log.say(
            f"{request.construct_path}: the build read inputs its asset hash did not cover yet "
            f"({', '.join(new[:5])}{', …' if len(new) > 5 else ''}): the binary is fresh, and "
            "from the next synth on they are part of its hash"
        )
        used = used.union(discovered)
        request.complete = request.inputs.with_record(ws, used, request.options, request.use_docker)
    fingerprint_record.write_record(ws, request.inputs.static_key, request.slot, used, discovered)
    return []


def _compare(request: BuildRequest, built: Path) -> None:
    """Verify mode: the cached artifact must be the bytes a clean build gives."""
    final = artifact_dir(request.workspace, request.fingerprint)
    cached = final / request.artifact_name
    if cached.read_bytes() == built.read_bytes():
        log.say(f"verified {request.construct_path}: the cached artifact equals a clean build")
        return
    shutil.rmtree(final, ignore_errors=True)
    _store(request, built)
    request.error = (
        f"{ENV_VERIFY}: the cached artifact {request.fingerprint[:12]}… of "
        f"{request.construct_path} differs from a clean build of the same inputs (a stale "
        "cache entry). The clean build replaced it locally. Fix: find what the cache entry was "
        "built from (its inputs are in the remote manifest or target/constructs-rust/inputs/) "
        "and report the input the hash missed; remote entries under that fingerprint must be "
        "deleted"
    )


def build_batch(batch: List[BuildRequest], *, verify: bool = False) -> None:
    """One cargo-lambda run for ``batch``; outputs go to the artifact cache (or, verifying,
    are compared with it). A file edited while cargo ran means building again."""
    first = batch[0]
    ws = first.workspace
    verify_dir = workspace_build_dir(ws) / f"verify-target-{uuid.uuid4().hex}" if verify else None
    try:
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            racing = _run_once(batch, verify_dir, last_attempt=attempt == _MAX_ATTEMPTS)
            if not racing:
                return
            log.say(
                f"{', '.join(racing[:5])} changed while cargo ran "
                f"(attempt {attempt}/{_MAX_ATTEMPTS}): building again"
            )
    finally:
        if verify_dir is not None:
            shutil.rmtree(verify_dir, ignore_errors=True)


def _run_once(
    batch: List[BuildRequest], verify_dir: Optional[Path], *, last_attempt: bool = False
) -> List[str]:
    first = batch[0]
    ws = first.workspace
    out = workspace_build_dir(ws) / "lambda-out" / uuid.uuid4().hex
    out.mkdir(parents=True)
    session: Optional[volume_copy.Session] = None
    started_session = False
    try:
        hooks = first.options.command_hooks
        if hooks and hooks.before_build:
            env = dict(os.environ, INPUT_DIR=str(ws.root))
            _run_hooks(hooks.before_build, cwd=ws.root, env=env, what="before-build")
        if first.use_docker:
            if first.options.volume_copy:
                session = volume_copy.session(
                    workspace_root=ws.root,
                    image=first.options.docker_image,
                    platform=host_docker_platform(),
                    user=docker_user(first.options),
                    env=dict(os.environ),
                    cargo_cache=first.options.docker_cargo_cache,
                )
            argv, env = docker_invocation(batch, out, verify_dir, session)
            if session is not None:
                started_session = True
                session.start(ws.root, exclude=[ws.target_dir])
        else:
            argv, env = local_invocation(batch, out, verify_dir)
        mode = (
            f"Docker ({first.options.docker_image})" if first.use_docker else "local cargo-lambda"
        )
        log.say(
            f"{'verifying' if verify_dir else 'building'} "
            f"{', '.join(sorted({r.binary for r in batch}))} for "
            f"{first.target.cargo_lambda_target} ({first.options.profile}, {mode}) "
            f"for {', '.join(sorted({r.construct_path for r in batch}))}"
        )
        started = time.time()
        container = argv[argv.index("--name") + 1] if first.use_docker else None
        code, lines = processes.stream(
            argv,
            cwd=ws.root,
            env=env,
            on_interrupt=(lambda: kill_container(container, env)) if container else None,
            cargo=True,
            if_orphaned=["docker", "kill", container] if container else (),
        )
        if code != 0:
            raise build_failure(batch, code, lines)
        if session is not None:  # the outputs and cargo's records, back from the volumes
            container_target = (
                paths.CONTAINER_TARGET_DIR
                if verify_dir is None
                else f"{paths.CONTAINER_BUILD_DIR}/{verify_dir.name}"
            )
            where = f"{first.target.triple}/{discover.profile_dir(first.options)}"
            session.copy_back(
                out,
                f"{container_target}/{where}",
                _cargo_target_dir(first, verify_dir) / where,
            )
        racing: List[str] = []
        for request in batch:
            built = request.built_path(out)
            if not built.is_file():
                raise ConstructsRustError(
                    f"cargo-lambda did not produce {built.relative_to(out).as_posix()}",
                    fix="check that the binary builds with `cargo lambda build "
                    + ("--extension " if request.extension else "")
                    + "--bin "
                    + request.binary
                    + "`",
                )
            racing += _learn(
                request,
                _cargo_target_dir(request, verify_dir),
                started,
                last_attempt=last_attempt,
            )
        if racing:
            return racing
        for request in batch:
            built = request.built_path(out)
            cached = artifact_dir(ws, request.fingerprint) / request.artifact_name
            if verify_dir is not None and cached.is_file():
                _compare(request, built)
                continue
            _store(request, built)
            if request.complete is not None:  # the same bytes under the complete inputs
                complete = artifact_dir(ws, request.complete.fingerprint)
                if not complete.exists():
                    shutil.copytree(artifact_dir(ws, request.fingerprint), complete)
        return []
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if session is not None and started_session:
            kept = [f"{paths.CONTAINER_BUILD_DIR}/{verify_dir.name}"] if verify_dir else []
            session.remove(kept)
