"""Building Rust binaries: one cargo-lambda run per workspace group, cached by fingerprint.

How it fits CDK. CDK stages an asset while the construct is created, before later functions
exist, so building there would mean one cargo run per function. Instead the asset's local
bundler only leaves a placeholder and the function registers a ``BuildRequest``; the build
runs when the app is synthesized (a construct validation, which CDK runs once every construct
exists). The first validation builds every pending request of the app: requests that share
(workspace, target, profile, features, flags, environment, hooks, local/Docker) are compiled
by ONE ``cargo lambda build`` with several ``--bin``. Only functions of stacks that need
bundling register requests, so ``cdk synth -e OneStack`` builds only that stack's binaries.

Outputs are stored in ``<target-dir>/constructs-rust/artifacts/<fingerprint>/`` (written to a
temp dir and renamed, under a file lock), so a later synth, or one after ``rm -rf cdk.out``,
copies the cached bootstrap and runs no cargo at all.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
import weakref
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
)

import filelock

from .._cargo import cargo_config, toolchain
from .._cargo.depgraph import Graph, conflicts
from .._cargo.metadata import Package, Workspace
from .._cargo.targets import Target, host_docker_platform
from .._fingerprint import discover, extra_files
from .._fingerprint import lines as fingerprint_lines
from .._fingerprint import record as fingerprint_record
from .._fingerprint.inputs import Inputs
from .._fingerprint.record import Record
from .._store import artifacts, remote
from .._store.remote import RemoteCache
from .._support import log, paths, processes, settings, timing
from ..errors import ConfigurationError, ConstructsRustError, ToolchainError
from ..options import BundlingOptions
from . import commands, volume_copy

#: Left in a staged asset directory until the real bootstrap replaces it.
PLACEHOLDER = ".constructs-rust-pending"
_ERROR_LINES = 20

#: Requests with equal keys build in one cargo-lambda run: (workspace root, package name when
#: features scope the build to it, build settings, Docker run options (network, user,
#: volumes, security options, file access: not in the fingerprint), function or extension).
GroupKey = Tuple[str, str, Tuple[str, ...], Tuple[str, ...], str]


def docker_run_key(options: BundlingOptions) -> Tuple[str, ...]:
    """The Docker run options that cannot change the binary (so not fingerprinted) but must
    be the same for builds sharing one container run."""
    return (
        f"network={options.docker_network or ''}",
        f"user={options.docker_user or ''}",
        *(f"security={o}" for o in options.docker_security_options),
        *(
            f"volume={v.host_path or ''}|{v.volume_name or ''}|{v.container_path}|{v.read_only}"
            for v in options.docker_volumes
        ),
        f"file_access={'volume_copy' if options.volume_copy else 'bind_mount'}",
    )


@dataclass(eq=False)
class BuildRequest:
    """One function's binary, to be placed in its staged asset directory."""

    construct_path: str
    workspace: Workspace
    package: Package
    binary: str
    target: Target
    options: BundlingOptions
    use_docker: bool
    inputs: Inputs
    """Every input line; the fingerprint is their digest (written to the remote manifest)."""
    slot: str
    """This package's binary built these settings' way (``inputs.slot``): where its previous
    record is found after a source edit."""
    graph: Graph
    """The binary's resolved dependency graph (decides which binaries may share a cargo run)."""
    asset_dir: Path = Path()
    error: Optional[str] = None
    reports_error: bool = True
    """False for the other members of a failed shared build: one construct reports it (the
    message names every binary and construct), so the user reads it once, not once each."""
    done: bool = False
    extension: bool = False
    """A Lambda extension (``--extension``): staged as ``extensions/<binary>``."""
    extra_files: Tuple[extra_files.Resolved, ...] = ()
    """Files added to the staged asset next to the binary (not part of the artifact)."""
    complete: Optional[Inputs] = None
    """Set when the build read inputs ``inputs`` did not cover: the same bytes are also stored
    under these complete inputs, and only they are shared (a cache entry's lines must name
    everything its bytes depend on)."""

    @property
    def shared_inputs(self) -> Inputs:
        """The inputs the artifact is uploaded under."""
        return self.complete or self.inputs

    @property
    def fingerprint(self) -> str:
        return self.inputs.fingerprint

    @property
    def artifact_name(self) -> str:
        """Where the binary goes in the artifact and the staged asset."""
        return f"extensions/{self.binary}" if self.extension else "bootstrap"

    def built_path(self, lambda_dir: Path) -> Path:
        """Where cargo-lambda writes this binary under ``--lambda-dir``."""
        if self.extension:
            return lambda_dir / "extensions" / self.binary
        return lambda_dir / self.binary / "bootstrap"

    @property
    def unified(self) -> bool:
        """Built with the whole workspace selected (features unified over every member); with
        ``bundling.features``, which apply to one package, built for that package alone."""
        return not (self.options.features or self.options.no_default_features)

    @property
    def group_key(self) -> GroupKey:
        # Features apply to one package, so such builds are grouped per package.
        scoped = "" if self.unified else self.package.name
        return (
            str(self.workspace.root),
            scoped,
            tuple(fingerprint_lines.build_settings(self.options, self.target, self.use_docker)),
            docker_run_key(self.options) if self.use_docker else (),
            # --extension applies to every binary of a cargo-lambda run.
            "extension" if self.extension else "function",
        )


def _build_dir(workspace: Workspace) -> Path:
    return paths.build_dir(workspace.target_dir)


def artifact_dir(workspace: Workspace, fingerprint: str) -> Path:
    return _build_dir(workspace) / "artifacts" / fingerprint


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock between synths (processes) on one build dir; ``filelock`` works on
    every platform (``fcntl`` would make the import fail on Windows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(path)):
        yield


_say = log.say


def _run_hooks(hook_commands: Sequence[str], *, cwd: Path, env: Dict[str, str], what: str) -> None:
    for command in hook_commands:
        _say(f"{what} hook: {command}")
        code, _ = processes.stream(["sh", "-c", command], cwd=cwd, env=env)
        if code != 0:
            raise ConstructsRustError(
                f"{what} hook `{command}` exited with {code}; its output is printed above",
                prop="bundling.command_hooks",
                fix="fix the hook command (hooks run through `sh -c`)",
            )


_native_warned: Set[str] = set()


def _warn_native_once(what: str, instead: str) -> None:
    """Say once per process that a host-tuning flag was replaced for the Lambda CPU."""
    if what in _native_warned:
        return
    _native_warned.add(what)
    _say(
        f"WARNING {what} would tune the Lambda binary to this build machine (SIGILL on Lambda "
        f"hosts with an older CPU): building with {instead} instead; name an explicit CPU to "
        "choose another"
    )


def tame_c_flags(environ: Dict[str, str], target: Target) -> Dict[str, str]:
    """The C/C++ flag variables of ``environ`` (those cc-rs reads for ``target``) whose
    ``-march/-mcpu/-mtune=native`` must become the Lambda CPU, with their new values."""
    changed: Dict[str, str] = {}
    for name in commands.c_flag_variables(target.triple):
        if name in environ:
            value, replaced = commands.without_native_c_flags(environ[name], target.rust_arch)
            if replaced:
                changed[name] = value
                _warn_native_once(f"-m…=native in {name}", "the Lambda CPU's -march/-mcpu")
    return changed


def _rustflags(
    options: BundlingOptions,
    target: Target,
    remaps: Sequence[Tuple[str, str]],
    *,
    use_docker: bool,
    root: Path,
) -> str:
    """``CARGO_ENCODED_RUSTFLAGS`` of a build: the user's own rustflags first, resolved the way
    cargo would (a build in Docker sees only ``options.environment`` and the workspace's own
    config file), then the library's target-cpu and path remaps. Setting this variable makes
    cargo ignore every other rustflags source, so nothing the user configured may be left out."""
    environ = (
        options.container_environment() if use_docker else {**os.environ, **options.environment}
    )
    files = cargo_config.config_files(root, include_outside=not use_docker)
    cfgs = cargo_config.target_cfgs(toolchain.rustc_command(), target.triple)
    user = cargo_config.effective_rustflags(files, triple=target.triple, environ=environ, cfgs=cfgs)
    if commands.without_native_cpu(user, target.target_cpu)[1]:
        _warn_native_once(
            "target-cpu=native (in RUSTFLAGS, a CARGO_*RUSTFLAGS variable or a config file's "
            "rustflags)",
            f"-C target-cpu={target.target_cpu}",
        )
    return commands.encoded_rustflags(
        lambda_cpu=target.target_cpu,
        remaps=remaps,
        target_cpu=target.target_cpu if options.profile == "release" else "",
        user_flags=user,
    )


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


def local_remaps(ws: Workspace, target_dir: Optional[Path] = None) -> List[Tuple[str, str]]:
    """``--remap-path-prefix`` pairs for a local build: the cargo home, the workspace root,
    every path package outside it (``../../lambda-runtime`` → ``/workspace/../../lambda-runtime``)
    and the target dir (generated sources), so no host path ends up in the binary and a build in
    another target dir (``CONSTRUCTS_RUST_VERIFY``) gives the same bytes. rustc applies the LAST
    matching pair, so the most specific (longest) host paths come last."""
    pairs = [(str(cargo_config.cargo_home()), paths.CONTAINER_CARGO_HOME)]
    pairs.append((str(ws.root), paths.CONTAINER_WORKSPACE))
    for outside in ws.outside_roots():
        rel = Path(os.path.relpath(outside, ws.root)).as_posix()
        pairs.append((str(outside), f"{paths.CONTAINER_WORKSPACE}/{rel}"))
    pairs.append((str(target_dir or ws.target_dir), paths.CONTAINER_TARGET_DIR))
    return sorted(pairs, key=lambda pair: len(pair[0]))


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
    env["CARGO_ENCODED_RUSTFLAGS"] = _rustflags(
        first.options,
        first.target,
        local_remaps(ws, target_dir),
        use_docker=False,
        root=ws.root,
    )
    env.pop("RUSTFLAGS", None)
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


#: ``docker run`` exits with these when the container could not run at all (the engine, the
#: image or its entrypoint failed), never with the build's own status.
_DOCKER_RUN_FAILURES = {
    125: "the Docker engine could not create or start the container (image missing and not "
    "pullable, a refused pull, an invalid option or an engine error)",
    126: "the container's command could not be invoked",
    127: "the container's command was not found in the image",
}
_OUTSIDE_FILE_ERRORS = ("couldn't read", "couldn't find file", "file not found for module")


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
    build_dir = _build_dir(ws)
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
            "CARGO_ENCODED_RUSTFLAGS": _rustflags(
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


def _kill_container(name: str, env: Dict[str, str]) -> None:
    """An interrupted Docker build: the container stops with its client."""
    subprocess.run(["docker", "kill", name], env=env, capture_output=True, timeout=30, check=False)


class BuildFailed(ConstructsRustError):
    """A cargo-lambda run failed; ``packages`` are those cargo could not compile."""

    def __init__(
        self,
        problem: str,
        *,
        packages: FrozenSet[str] = frozenset(),
        code: int = 0,
        lines: Sequence[str] = (),
        **kw: Any,
    ) -> None:
        super().__init__(problem, **kw)
        self.packages = packages
        self.code, self.lines = code, tuple(lines)


_COULD_NOT_COMPILE = re.compile(r"could not compile `([^`]+)`")


def _failure(batch: Sequence[BuildRequest], code: int, lines: Sequence[str]) -> ConstructsRustError:
    """The error of a failed build run: Docker's own failures told apart from cargo's."""
    first = batch[0]
    binaries = ", ".join(sorted({r.binary for r in batch}))
    if first.use_docker and code in _DOCKER_RUN_FAILURES:
        tail = "\n".join(line.rstrip() for line in lines[-_ERROR_LINES:])
        return ConstructsRustError(
            f"`docker run` failed (exit {code}) before building {binaries}: "
            f"{_DOCKER_RUN_FAILURES[code]}:\n{tail}",
            prop="bundling.docker_image",
            value=first.options.docker_image,
            fix="check that the image exists or can be pulled (`docker pull "
            f"{first.options.docker_image}`) and that the engine works (`docker run --rm "
            f"{first.options.docker_image} cargo lambda --version`); nothing was compiled",
        )
    fix = "fix the error cargo printed above this message"
    if first.use_docker and any(m in line for line in lines for m in _OUTSIDE_FILE_ERRORS):
        fix += (
            f". In Docker only the workspace root is visible (at {paths.CONTAINER_WORKSPACE}): "
            "a #[path], include!() or include_str!() reaching outside it cannot be read; move "
            "the file under the workspace root, or build locally with cargo-lambda"
        )
    # cargo's diagnostic was streamed to stderr as it came: the error holds a summary only,
    # so the compile log is not printed again (by CDK's validation, then by jsii and Python).
    # Workspace siblings built along at plan time have no construct path (shown as "(…)").
    where = ", ".join(sorted({r.construct_path for r in batch if r.construct_path[:1] != "("}))
    return BuildFailed(
        f"cargo lambda build failed (exit {code}) for {binaries} (of {where}); cargo's error "
        "is printed above",
        fix=fix,
        packages=frozenset(m.group(1) for line in lines for m in _COULD_NOT_COMPILE.finditer(line)),
        code=code,
        lines=lines,
    )


def _fits(request: BuildRequest, batch: Sequence[BuildRequest]) -> bool:
    """May ``request`` share one cargo run with ``batch``? Not when a binary name repeats
    (outputs are per name), and not when cargo would unify a dependency's features across
    their packages: each binary must get exactly the bytes it gets when built alone."""
    for other in batch:
        if other.binary == request.binary:
            return False
        if request.unified or other.package.name == request.package.name:
            continue  # one resolve for the whole workspace (or one package): nothing to unify
        if conflicts(request.graph, other.graph):
            return False
    return True


def _batches(requests: Sequence[BuildRequest]) -> List[List[BuildRequest]]:
    """Split a group into as few cargo runs as ``_fits`` allows (first fit, in order)."""
    batches: List[List[BuildRequest]] = []
    for request in requests:
        for batch in batches:
            if _fits(request, batch):
                batch.append(request)
                break
        else:
            batches.append([request])
    return batches


def split_reason(a: BuildRequest, b: BuildRequest) -> str:
    """Why two requests of one workspace were not built by one cargo run (one line)."""
    ka, kb = a.group_key, b.group_key
    if ka[1] != kb[1]:
        return "bundling.features/no_default_features apply to one package (built per package)"
    if ka[2] != kb[2]:
        names = sorted({x.split("=", 1)[0] for x in set(ka[2]) ^ set(kb[2])} - {"host_env"}) or [
            "host environment"
        ]
        return f"their bundling settings differ ({', '.join(names)})"
    if ka[3] != kb[3]:
        return "their Docker run options differ (network, user, volumes, security options)"
    if ka[4] != kb[4]:
        return "extensions are built with --extension, functions without"
    if a.binary == b.binary:
        return f"the binary name {a.binary} repeats (cargo-lambda's outputs are per name)"
    return "their packages enable different features of a shared dependency"


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
        return _build_dir(request.workspace) / Path(paths.CONTAINER_TARGET_DIR).name
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
        _say(
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
        _say(
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
        _say(
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
        _say(f"verified {request.construct_path}: the cached artifact equals a clean build")
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


def _build_batch(batch: List[BuildRequest], *, verify: bool = False) -> None:
    """One cargo-lambda run for ``batch``; outputs go to the artifact cache (or, verifying,
    are compared with it). A file edited while cargo ran means building again."""
    first = batch[0]
    ws = first.workspace
    verify_dir = _build_dir(ws) / f"verify-target-{uuid.uuid4().hex}" if verify else None
    try:
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            racing = _run_once(batch, verify_dir, last_attempt=attempt == _MAX_ATTEMPTS)
            if not racing:
                return
            _say(
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
    out = _build_dir(ws) / "lambda-out" / uuid.uuid4().hex
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
        _say(
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
            on_interrupt=(lambda: _kill_container(container, env)) if container else None,
            cargo=True,
            if_orphaned=["docker", "kill", container] if container else (),
        )
        if code != 0:
            raise _failure(batch, code, lines)
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


def cached_intact(request: BuildRequest) -> bool:
    """Is ``request``'s artifact in the local store, exactly as built? (A damaged one is
    removed: a miss.)"""
    return artifacts.intact(
        artifact_dir(request.workspace, request.fingerprint),
        request.artifact_name,
        who=request.construct_path,
    )


def install_if_cached(request: BuildRequest) -> bool:
    """Stage the locally cached artifact now (True), or leave the request for the queue."""
    if not cached_intact(request):
        return False
    try:
        with timing.measure():
            _install(request)
    except (OSError, ConstructsRustError):
        return False  # the queue stages it again and reports the error
    request.done = True
    return True


def _install(request: BuildRequest) -> None:
    """Copy the cached artifact into the staged asset directory and drop the placeholder."""
    source = artifact_dir(request.workspace, request.fingerprint)
    request.asset_dir.mkdir(parents=True, exist_ok=True)
    for item in sorted(source.iterdir()):
        if item.name == artifacts.SEAL:
            continue
        target = request.asset_dir / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            shutil.copy2(item, target)
    if request.extra_files:
        names = {rel for rel, _ in artifacts.artifact_files(source)}
        extra_files.stage(request.extra_files, request.asset_dir, names)
    placeholder = request.asset_dir / PLACEHOLDER
    if placeholder.exists():
        placeholder.unlink()


class BuildQueue:
    """The build requests of one CDK app (and its remote build cache, when configured)."""

    def __init__(self, remote: Optional[RemoteCache] = None) -> None:
        self.requests: List[BuildRequest] = []
        self.remote = remote
        self._failed: Dict[str, str] = {}
        """Static key -> error of a plan-time run that failed in this synth (not run again)."""
        self._cold: Set[GroupKey] = set()
        """Groups that had a plan-time run in this synth (the next one takes the siblings)."""
        self._cold_failed: Dict[GroupKey, Tuple[BuildFailed, List[BuildRequest]]] = {}
        """Group -> the plan-time run of it that failed to compile, and the requests it fails."""

    def add(self, request: BuildRequest) -> None:
        self.requests.append(request)

    def record_for(self, request: BuildRequest) -> Optional[Record]:
        """The discovered inputs of ``request``'s static inputs: this machine's record, else
        the shared cache's (a new machine, a CI runner), else the binary's previous record."""
        ws, key = request.workspace, request.inputs.static_key
        found = fingerprint_record.read_record(ws, key)
        if found is None and self.remote is not None:
            found = self.remote.fetch_record(key)
        if found is None:
            found = fingerprint_record.previous_record(ws, request.slot)
        return found

    def build_now(
        self,
        request: BuildRequest,
        siblings: Callable[[], Sequence[BuildRequest]] = lambda: (),
    ) -> None:
        """Plan time, for a binary with no record of what it reads: build it now, so its asset
        hash covers every input from this synth on. A failure is reported by the construct's
        validation (as for any build), with the static inputs as its hash.

        The first such binary of a group (workspace, target, settings) builds ALONE: an app
        that deploys one binary of a workspace builds just that one. The second builds with
        ``siblings()`` (the workspace's other binaries without a record), so the app's further
        functions of the workspace find records and artifacts: at most two cargo runs per
        group on a new machine, and none for binaries the app cannot use when it uses one."""
        failed = self._failed.get(request.inputs.static_key)
        if failed is not None:  # it was in a run that failed earlier in this synth
            request.error, request.reports_error, request.done = failed, False, True
            return
        if self._fails_the_same_way(request):
            return
        first = request.group_key not in self._cold
        self._cold.add(request.group_key)
        others = [] if first else list(siblings())
        batch = [request, *others]
        ws = request.workspace
        try:
            with _locked(_build_dir(ws) / ".lock"):
                record = fingerprint_record.read_record(ws, request.inputs.static_key)
                if record is not None:  # another synth built it while this one waited
                    request.inputs = request.inputs.with_record(
                        ws, record, request.options, request.use_docker
                    )
                    return
                _say(
                    f"{request.construct_path}: no record yet of the files and variables its "
                    "build reads: building it now"
                    + (f", with the workspace's {len(others)} other binaries" if others else "")
                )
                started = time.monotonic()
                try:
                    _build_batch(batch)
                except BuildFailed as exc:
                    own = {node.name for node in request.graph.nodes}
                    if not others or (exc.packages and exc.packages <= own):
                        raise  # its own code failed: building it alone would fail the same way
                    _say(
                        "the workspace-wide build failed (above); building "
                        f"{request.construct_path}'s binary {request.binary} alone"
                    )
                    batch = [request]
                    _build_batch(batch)
                _built(batch, started, "at plan time")
        except (ConstructsRustError, OSError) as exc:
            for failed_request in batch:
                self._failed[failed_request.inputs.static_key] = str(exc)
            if isinstance(exc, BuildFailed) and exc.packages:
                self._cold_failed[request.group_key] = (exc, [request])
            request.error = str(exc)
            request.done = True
            return
        if self.remote is not None:
            self._upload(batch)

    def _fails_the_same_way(self, request: BuildRequest) -> bool:
        """A later cold function of a group whose plan-time run could not compile a package
        this one depends on fails the same way: no second run, no second diagnostic; the
        first function's error names both (it is reported once, by the first)."""
        found = self._cold_failed.get(request.group_key)
        if found is None:
            return False
        exc, failed = found
        if not exc.packages & {node.name for node in request.graph.nodes}:
            return False
        failed.append(request)
        message = str(_failure(failed, exc.code, exc.lines))
        for one in failed:  # the queued copies of the requests read it from here (``ensure``)
            self._failed[one.inputs.static_key] = message
        request.error, request.reports_error, request.done = message, False, True
        return True

    def _upload(self, built: Sequence[BuildRequest]) -> None:
        """Step 4 (read-write mode only): one concurrent upload of everything built here."""
        assert self.remote is not None
        shared = [(r, r.shared_inputs) for r in built]
        self.remote.upload(
            [(i.fingerprint, artifact_dir(r.workspace, i.fingerprint), i.lines) for r, i in shared]
        )
        for r in built:
            record = fingerprint_record.read_record(r.workspace, r.inputs.static_key)
            if record is not None:
                self.remote.upload_record(r.inputs.static_key, record)

    def ensure(self, request: BuildRequest) -> Optional[str]:
        """Build everything pending (once) and return this request's error, if any."""
        if not request.done:
            self.run_pending()
        if request.error is not None and request.asset_dir != Path():
            shutil.rmtree(request.asset_dir, ignore_errors=True)  # never a half-written asset
        if request.error is None or not request.reports_error:
            return None
        return self._failed.get(request.inputs.static_key, request.error)

    def run_pending(self) -> None:
        groups: Dict[GroupKey, List[BuildRequest]] = {}
        for request in self.requests:
            if not request.done:
                groups.setdefault(request.group_key, []).append(request)
        if self.remote is not None:
            self._fetch_remote([r for group in groups.values() for r in group])
        built: List[BuildRequest] = []
        runs: Dict[str, List[BuildRequest]] = {}
        for index, group in enumerate(groups.values(), 1):
            position = f"group {index} of {len(groups)}" if len(groups) > 1 else ""
            for batch in self._run_group(group, position):
                built += batch
                runs.setdefault(str(batch[0].workspace.root), []).append(batch[0])
        for firsts in runs.values():
            if len(firsts) > 1:
                _say(
                    f"{len(firsts)} cargo runs for the workspace of "
                    f"{firsts[0].construct_path}, because {split_reason(firsts[0], firsts[1])}"
                )
        if self.remote is not None and built:
            self._upload(built)

    def _fetch_remote(self, pending: List[BuildRequest]) -> None:
        """Step 2 of the lookup: every local miss of the app, fetched concurrently, into the
        local cache (temp dir + verify + rename, under each workspace's lock)."""
        assert self.remote is not None
        by_build_dir: Dict[Path, Dict[str, Tuple[Path, str]]] = {}
        for r in pending:
            final = artifact_dir(r.workspace, r.fingerprint)
            if not cached_intact(r):
                entry = (final, r.artifact_name)
                by_build_dir.setdefault(_build_dir(r.workspace), {})[r.fingerprint] = entry
        if not by_build_dir:
            return
        try:
            with ExitStack() as stack:
                for build_dir in sorted(by_build_dir):  # a fixed order: no lock-order deadlock
                    stack.enter_context(_locked(build_dir / ".lock"))
                    (build_dir / "artifacts").mkdir(parents=True, exist_ok=True)
                wanted = {fp: entry for d in by_build_dir.values() for fp, entry in d.items()}
                self.remote.fetch(wanted)
        except OSError as exc:
            _say(f"WARNING remote build cache not used: {exc}; building locally")

    def _run_group(self, group: List[BuildRequest], position: str = "") -> List[List[BuildRequest]]:
        """Local cache (after the remote fetch) → one build per batch; returns the batches
        built. ``position``: e.g. ``"group 2 of 3"``, for the progress line."""
        ws = group[0].workspace
        built: List[List[BuildRequest]] = []

        def cached(request: BuildRequest) -> bool:
            return cached_intact(request)

        verify = verifying()
        try:
            with _locked(_build_dir(ws) / ".lock"):
                misses: Dict[Tuple[str, str], BuildRequest] = {}
                for request in group:
                    if verify or not cached(request):
                        misses.setdefault((request.package.name, request.binary), request)
                for batch in _batches(list(misses.values())):
                    started = time.monotonic()
                    _build_batch(batch, verify=verify)
                    _built(batch, started, position)
                    if not verify:  # a verifying synth never writes the shared cache
                        built.append(batch)
        except (ConstructsRustError, OSError) as exc:
            _fail([r for r in group if not cached(r)], str(exc))
        for request in group:
            request.done = True
            if request.error is None:
                try:
                    with timing.measure():
                        _install(request)
                except ConstructsRustError as exc:
                    request.error = str(exc.at(request.construct_path))
                except OSError as exc:
                    request.error = f"could not stage the bootstrap: {exc}"
            if request.error is not None:
                shutil.rmtree(request.asset_dir, ignore_errors=True)
        return built


def _built(batch: Sequence[BuildRequest], started: float, position: str) -> None:
    """The one line a finished cargo run gets (progress in a log: which binaries, how long,
    how far along the synth's groups)."""
    where = f" ({position})" if position else ""
    _say(
        f"built {', '.join(sorted({r.binary for r in batch}))} for "
        f"{batch[0].target.cargo_lambda_target} in {time.monotonic() - started:.1f} s{where}"
    )


def _fail(failed: Sequence[BuildRequest], message: str) -> None:
    """Mark a failed build's requests; the first construct (by path) reports it for all."""
    ordered = sorted(failed, key=lambda r: r.construct_path)
    for request in ordered:
        request.error = message
        request.reports_error = request is ordered[0]


# One queue per app object (construct addresses of roots are all equal, so key by identity;
# weak keys let a discarded app take its queue with it).
_queues: "weakref.WeakKeyDictionary[object, BuildQueue]" = weakref.WeakKeyDictionary()


def queue_for(root: object) -> BuildQueue:
    """The build queue of the app whose root construct is ``root``.

    Created with the first function that needs a build; the remote cache configuration is
    read then (environment first, then the app's context), so a bad value fails early.
    """
    queue = _queues.get(root)
    if queue is None:
        node = getattr(root, "node", None)
        context = node.try_get_context if node is not None else (lambda key: None)
        queue = _queues[root] = BuildQueue(remote.from_environment(context))
    return queue
