"""How a batch is run: the cargo-lambda argv and environment for a local build, and the
``docker run`` argv for a Docker build (bind mounts or VOLUME_COPY, user, network, platform),
with the checks that fail early when Docker cannot see the workspace."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .._cargo import toolchain
from .._cargo.metadata import Workspace
from .._cargo.targets import host_docker_platform
from .._support import paths
from ..errors import ConfigurationError, ConstructsRustError, ToolchainError
from ..options import BundlingOptions
from . import commands, volume_copy
from .auditable import auditable_env
from .request import BuildRequest, workspace_build_dir
from .rustflags import local_remaps, rustflags_for, tame_c_flags


def _command(
    batch: Sequence[BuildRequest], lambda_dir: str, manifest: str, *, in_image: bool = False
) -> List[str]:
    """The cargo-lambda argv of a batch (``in_image``: run in the pinned build image, which has
    only the ``-gnu`` std, so cargo-lambda adds a musl std with the image's rustup)."""
    first = batch[0]
    return commands.cargo_lambda_build_argv(
        manifest_path=manifest,
        target=first.target.cargo_lambda_target,
        profile=first.options.profile,
        packages=[r.package.name for r in batch],
        binaries=[r.binary for r in batch],
        lambda_dir=lambda_dir,
        features=first.options.features,
        no_default_features=first.options.no_default_features,
        extra_flags=first.options.effective_flags(),
        extension=first.extension,
        workspace=first.unified,
        skip_target_check=not (in_image and first.target.musl),
    )


def local_invocation(
    batch: Sequence[BuildRequest], out: Path, target_dir: Optional[Path] = None
) -> Tuple[List[str], Dict[str, str]]:
    first = batch[0]
    ws = first.workspace
    zig = toolchain.preflight_local(first.target, ws.root)
    env = dict(os.environ)
    env.update(first.options.environment)
    env.update(zig.env)
    env.update(tame_c_flags(env, first.target))
    env["CARGO_ENCODED_RUSTFLAGS"] = rustflags_for(
        first.options,
        first.target,
        local_remaps(ws, target_dir),
        use_docker=False,
        root=ws.root,
    )
    env.pop("RUSTFLAGS", None)
    if first.options.auditable:
        env.update(auditable_env(first.options))
    if target_dir is not None:
        env["CARGO_TARGET_DIR"] = str(target_dir)
    cargo_lambda = toolchain.find_cargo_lambda()
    if cargo_lambda and not shutil.which("cargo-lambda"):
        env["PATH"] = os.path.dirname(cargo_lambda) + os.pathsep + env.get("PATH", "")
    return _command(batch, str(out), str(ws.root_manifest)), env


def check_docker_mountable(workspace: Workspace) -> None:
    """Fail before any container runs when the build needs files Docker cannot see."""
    outside = workspace.outside_roots()
    if outside:
        listed = ", ".join(str(directory) for directory in outside)
        raise ConfigurationError(
            f"Docker sees only the workspace root {workspace.root} (Docker bundling mounts it; "
            "it is ContainerBuild.IN_DOCKER's build context), but these path dependencies are "
            f"outside the workspace root: {listed}",
            prop="manifest_path",
            value=str(workspace.root_manifest),
            fix="move the dependency under the workspace root (or make the workspace root a "
            "common parent directory), or build locally with cargo-lambda",
        )


def docker_user(options: BundlingOptions) -> str:
    """``docker run --user``: the option, else the synthesizing user (no root-owned files)."""
    if options.docker_user:
        return options.docker_user
    return f"{os.getuid()}:{os.getgid()}"


def docker_invocation(
    batch: Sequence[BuildRequest],
    out: Path,
    target_dir: Optional[Path] = None,
    session: Optional[volume_copy.Session] = None,
) -> Tuple[List[str], Dict[str, str]]:
    """The build's ``docker run`` and the docker CLI's environment. ``session``: the volumes
    of a VOLUME_COPY build (see volume_copy.py) instead of bind mounts of host paths."""
    first = batch[0]
    ws = first.workspace
    try:
        check_docker_mountable(ws)
    except ConstructsRustError as exc:
        raise exc.at(", ".join(sorted({r.construct_path for r in batch}))) from None
    problem = toolchain.docker_engine_problem()
    if problem:
        if not toolchain.find_cargo_lambda():
            raise ToolchainError(
                f"cargo-lambda is not installed and {problem}",
                fix=f"either {toolchain.FIX_CARGO_LAMBDA} to build locally, or start a Docker "
                "engine",
            )
        raise ToolchainError(f"Docker bundling was forced but {problem}", fix=toolchain.FIX_DOCKER)
    build_dir = workspace_build_dir(ws)
    options = first.options
    if session is not None:
        container_out = paths.CONTAINER_VOLUME_OUT
        mounts: List[Tuple[str, str, bool]] = []
        volumes = session.mounts
    else:
        container_out = f"{paths.CONTAINER_BUILD_DIR}/{out.relative_to(build_dir).as_posix()}"
        mounts = [
            (str(ws.root), paths.CONTAINER_WORKSPACE, (ws.root / "Cargo.lock").is_file()),
            (str(build_dir), paths.CONTAINER_BUILD_DIR, False),
        ]
        volumes = []
    # The user's own volumes (caches: not fingerprinted).
    for volume in options.docker_volumes:
        if volume.host_path is not None:
            mounts.append(
                (os.path.abspath(volume.host_path), volume.container_path, volume.read_only)
            )
        else:
            assert volume.volume_name is not None
            volumes.append((volume.volume_name, volume.container_path, volume.read_only))
    command = _command(
        batch, container_out, f"{paths.CONTAINER_WORKSPACE}/Cargo.toml", in_image=True
    )
    if first.options.docker_cargo_cache:
        from .._support.disk_memo import cache_root

        cargo_home = paths.CONTAINER_CARGO_HOME
        if session is None:  # (a VOLUME_COPY session mounts its cargo-home volume there)
            cargo_cache = cache_root() / "docker-cargo"
            cargo_cache.mkdir(parents=True, exist_ok=True)
            mounts.append((str(cargo_cache), cargo_home, False))
    else:
        cargo_home = paths.CONTAINER_SCRATCH_CARGO_HOME
    # zig (and cargo-zigbuild) build their libc stubs and compiler-rt into a cache on first
    # use: keep it on a mount, or every container run pays for it again (minutes).
    tool_cache = (
        f"{cargo_home}/tool-cache"
        if first.options.docker_cargo_cache
        else f"{paths.CONTAINER_BUILD_DIR}/tool-cache"
    )
    container_target = (
        f"{paths.CONTAINER_BUILD_DIR}/{target_dir.relative_to(build_dir).as_posix()}"
        if target_dir is not None
        else paths.CONTAINER_TARGET_DIR
    )
    environment = first.options.container_environment()
    environment.update(tame_c_flags(environment, first.target))
    environment.update(
        {
            "CARGO_HOME": cargo_home,
            "HOME": "/tmp",
            "XDG_CACHE_HOME": tool_cache,
            "ZIG_GLOBAL_CACHE_DIR": f"{tool_cache}/zig",
            "CARGO_TARGET_DIR": container_target,
            # Whatever the cargo home inside the container, the binary records /cargo (as a
            # local build does), so docker_cargo_cache cannot change the bytes.
            "CARGO_ENCODED_RUSTFLAGS": rustflags_for(
                first.options,
                first.target,
                [
                    (inside, mapped)
                    for inside, mapped in (
                        (cargo_home, paths.CONTAINER_CARGO_HOME),
                        (container_target, paths.CONTAINER_TARGET_DIR),
                    )
                    if inside != mapped
                ],
                use_docker=True,
                root=ws.root,
            ),
        }
    )
    argv = commands.docker_run_argv(
        name=f"constructs-rust-{uuid.uuid4().hex[:12]}",
        image=first.options.docker_image,
        platform=host_docker_platform(),
        user=docker_user(options),
        command=command,
        mounts=mounts,
        volumes=volumes,
        security_options=options.docker_security_options,
        environment=environment,
        network=first.options.docker_network,
    )
    # Values ride the docker CLI's environment, never its argv (``ps`` shows argv to all).
    return argv, commands.docker_client_env(base=os.environ, environment=environment)


def kill_container(name: str, env: Dict[str, str]) -> None:
    """An interrupted Docker build: the container stops with its client."""
    subprocess.run(["docker", "kill", name], env=env, capture_output=True, timeout=30, check=False)
