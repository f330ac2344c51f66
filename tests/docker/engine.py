"""A private Docker engine for the test session, and the local stand-ins of the images we pin.

No image registry is reachable from the test machines, so the images the constructs pin are
rebuilt locally from Debian (``debootstrap --variant=minbase bookworm`` + ``docker import`` +
``docker build`` of the recipes in ``standins/``), tagged with the names the tests use, and
cached with ``docker save`` under ``~/.cache/constructs-rust-tests/images/`` keyed by a digest
of their recipe: only the first run on a machine pays for them.

The engine (``dockerd`` from Debian's ``docker.io``) gets its own ``--data-root``,
``--exec-root``, pidfile and unix socket (through ``DOCKER_HOST``), changes nothing on the
host's network (``--iptables=false --bridge=none``: containers use ``--network host`` or
``none``) and is stopped by its PID.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

RECIPES = Path(__file__).resolve().parent / "standins"
CACHE = Path(
    os.environ.get("CONSTRUCTS_RUST_TEST_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "constructs-rust-tests"
)
MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
CA_DIR = Path("/usr/local/share/ca-certificates")

#: Tags of the stand-ins. The cargo-lambda image carries the exact name the constructs pin (so
#: Docker bundling and IN_DOCKER's FROM find it locally); the Lambda base image is pinned by
#: digest, which a local image cannot match, so tests pass these through ``base_image``.
CARGO_LAMBDA_TAG = "ghcr.io/cargo-lambda/cargo-lambda:1.9.2"
PROVIDED_TAGS = {
    "amd64": "constructs-rust-test/provided:al2023-amd64",
    "arm64": "constructs-rust-test/provided:al2023-arm64",
}


class EngineUnavailable(RuntimeError):
    """Why no Docker engine can be started here (the tests skip with this reason)."""


def docker_cli() -> str:
    """Debian's docker CLI (20.10: classic builder, BuildKit with DOCKER_BUILDKIT=1) when
    present; a newer CLI on PATH needs the buildx plugin for ``docker build``."""
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise EngineUnavailable("no docker CLI (apt-get install docker.io)")


@dataclass
class Engine:
    host: str
    """``unix:///…/docker.sock``, the value of DOCKER_HOST."""
    pid: Optional[int]
    workdir: Path
    log_path: Path
    started_seconds: float
    timings: Dict[str, float] = field(default_factory=dict)
    data_root: Optional[Path] = None
    lock: Optional[object] = None

    def env(self, **extra: str) -> Dict[str, str]:
        return dict(os.environ, DOCKER_HOST=self.host, **extra)

    def docker(
        self, *args: str, check: bool = True, timeout: float = 1800, **kwargs
    ) -> subprocess.CompletedProcess:
        env = kwargs.pop("env", None) or self.env()
        proc = subprocess.run(
            [docker_cli(), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            **kwargs,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"docker {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
            )
        return proc

    def build(self, context: Path, tag: str, *args: str, timeout: float = 3600) -> None:
        # Debian's 20.10 CLI with BuildKit; --network host: the daemon has no bridge.
        self.docker(
            "build",
            "--network",
            "host",
            "--tag",
            tag,
            *args,
            str(context),
            env=self.env(DOCKER_BUILDKIT="1"),
            timeout=timeout,
        )

    def has_image(self, tag: str) -> bool:
        return self.docker("image", "inspect", tag, check=False).returncode == 0

    def image_id(self, tag: str) -> str:
        proc = self.docker("image", "inspect", "--format", "{{.Id}}", tag, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def image_size(self, tag: str) -> int:
        return int(self.docker("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())

    def stop(self) -> None:
        """Stop dockerd by its PID (TERM, then KILL after 30 s) and remove its directories."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and _alive(self.pid):
                time.sleep(0.2)
            if _alive(self.pid):
                os.kill(self.pid, signal.SIGKILL)
                while _alive(self.pid):
                    time.sleep(0.1)
            self.pid = None
        # Mounts left by a killed daemon would make rmtree fail half-way: unmount first.
        for line in reversed(Path("/proc/self/mounts").read_text().splitlines()):
            mountpoint = line.split()[1].replace("\\040", " ")
            roots = [str(self.workdir)] + ([str(self.data_root)] if self.data_root else [])
            if any(mountpoint.startswith(root + "/") for root in roots):
                subprocess.run(["umount", "-l", mountpoint], capture_output=True)
        shutil.rmtree(self.workdir, ignore_errors=True)
        if self.lock is not None:
            self.lock.close()  # type: ignore[attr-defined]
            self.lock = None


_children: Dict[int, subprocess.Popen] = {}


def _alive(pid: int) -> bool:
    proc = _children.get(pid)
    if proc is not None:
        return proc.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def start_engine(timeout: float = 90) -> Engine:
    """Start a private dockerd, or raise EngineUnavailable saying why it cannot run here.

    Its data root is kept under the cache (loaded stand-ins and BuildKit's cache mounts then
    survive the session) when no other session holds it, else a fresh temporary one."""
    import fcntl

    CACHE.mkdir(parents=True, exist_ok=True)
    lock = open(CACHE / "dockerd-data.lock", "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        return _start_engine(timeout, None)
    try:
        engine = _start_engine(timeout, CACHE / "dockerd-data")
    except EngineUnavailable:
        # A data root left broken (a killed daemon) must not cost the session its engine.
        shutil.rmtree(CACHE / "dockerd-data", ignore_errors=True)
        try:
            engine = _start_engine(timeout, None)
        except BaseException:
            lock.close()
            raise
    engine.lock = lock
    return engine


def _start_engine(timeout: float, data_root: Optional[Path]) -> Engine:
    if os.geteuid() != 0:
        raise EngineUnavailable("starting dockerd needs root (rootless Docker is not set up)")
    dockerd = shutil.which("dockerd") or (
        "/usr/sbin/dockerd" if os.path.exists("/usr/sbin/dockerd") else None
    )
    if not dockerd:
        raise EngineUnavailable(
            "dockerd is not installed "
            "(`apt-get install docker.io`; scripts/setup-system.sh does it)"
        )
    docker_cli()
    # Short paths: containerd's sockets live under the exec root (108-byte socket path limit).
    workdir = Path(tempfile.mkdtemp(prefix="crt-dockerd-", dir="/tmp"))
    os.chmod(workdir, 0o755)  # the socket must be reachable by a non-root user in group docker
    sock = workdir / "docker.sock"
    log_path = workdir / "dockerd.log"
    argv = [
        dockerd,
        "--data-root",
        str(data_root or workdir / "data"),
        "--exec-root",
        str(workdir / "exec"),
        "--pidfile",
        str(workdir / "dockerd.pid"),
        "--host",
        f"unix://{sock}",
        "--storage-driver=overlay2",
        "--exec-opt",
        "native.cgroupdriver=cgroupfs",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-masq=false",
        "--bridge=none",
    ]
    try:
        import grp

        grp.getgrnam("docker")
        argv += ["--group", "docker"]
    except KeyError:
        argv += ["--group", "root"]
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    engine = Engine(
        host=f"unix://{sock}",
        pid=proc.pid,
        workdir=workdir,
        log_path=log_path,
        started_seconds=0.0,
        data_root=data_root,
    )
    deadline = started + timeout
    while True:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            engine.pid = None
            engine.stop()
            raise EngineUnavailable(f"dockerd exited with {proc.returncode}: " + " | ".join(tail))
        probe = subprocess.run(
            [docker_cli(), "version", "--format", "{{.Server.Version}}"],
            env=engine.env(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        if probe.returncode == 0 and probe.stdout.strip():
            break
        if time.monotonic() > deadline:
            engine.stop()
            raise EngineUnavailable(f"dockerd did not answer within {timeout:.0f} s")
        time.sleep(0.2)
    engine.started_seconds = time.monotonic() - started
    return engine


# ----------------------------------------------------------------------------- stand-ins


def _say(message: str) -> None:
    print(f"[docker stand-ins] {message}", file=sys.stderr, flush=True)


def _digest(parts: Sequence[object]) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()[:16]


def _venv_tools() -> Dict[str, Path]:
    """cargo-lambda and zig as the test venv installed them from PyPI."""
    import ziglang

    from constructs_rust._cargo.toolchain import find_cargo_lambda

    cargo_lambda = find_cargo_lambda()
    if not cargo_lambda:
        raise EngineUnavailable("cargo-lambda is not installed in the test venv (make setup)")
    return {"cargo-lambda": Path(cargo_lambda), "zig": Path(ziglang.__file__).parent}


def _tool_versions(tools: Dict[str, Path]) -> List[str]:
    from importlib.metadata import version

    return [f"cargo-lambda {version('cargo-lambda')}", f"ziglang {version('ziglang')}"]


def _ca_files() -> List[Path]:
    return sorted(CA_DIR.glob("*.crt")) if CA_DIR.is_dir() else []


def _debootstrap(arch: str, dest: Path) -> None:
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not os.path.exists(debootstrap):
        raise EngineUnavailable("debootstrap is not installed (scripts/setup-system.sh does it)")
    argv = [debootstrap, "--variant=minbase", f"--arch={arch}"]
    if arch != _host_deb_arch():
        # Unpack only (the second stage would need to run foreign binaries): the files of the
        # required packages are in place, which is what a runtime base image needs.
        argv.append("--foreign")
    argv += [SUITE, str(dest), MIRROR]
    proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def _host_deb_arch() -> str:
    return "arm64" if os.uname().machine in ("aarch64", "arm64") else "amd64"


def _import_rootfs(engine: Engine, arch: str, tag: str, scratch: Path) -> None:
    root = scratch / f"rootfs-{arch}"
    _debootstrap(arch, root)
    tarball = scratch / f"rootfs-{arch}.tar"
    subprocess.run(
        ["tar", "--numeric-owner", "-C", str(root), "-cf", str(tarball), "."],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(root, ignore_errors=True)
    if arch == _host_deb_arch():
        engine.docker("import", str(tarball), tag)
    else:
        # The 20.10 daemon ignores `docker import --platform`: the image would claim the
        # host's architecture. A FROM scratch + ADD build for that platform runs nothing.
        (scratch / "Dockerfile").write_text(f"FROM scratch\nADD {tarball.name} /\n")
        engine.build(scratch, tag, "--platform", f"linux/{arch}")
        (scratch / "Dockerfile").unlink()
    tarball.unlink()


@dataclass
class StandIns:
    cargo_lambda: str
    provided: Dict[str, str]
    sizes: Dict[str, int]
    seconds: Dict[str, float]
    built: List[str]
    """Tags built in this session (not loaded from the cache)."""


def _recipe_keys() -> Dict[str, str]:
    base = {
        arch: _digest(["debootstrap --variant=minbase", SUITE, MIRROR, arch])
        for arch in ("amd64", "arm64")
    }
    provided_recipe = [
        (RECIPES / "provided.Dockerfile").read_bytes(),
        (RECIPES / "lambda-entrypoint.sh").read_bytes(),
    ]
    tools = _venv_tools()
    keys = {f"provided-{arch}": _digest([base[arch], *provided_recipe]) for arch in base}
    keys["cargo-lambda"] = _digest(
        [
            base["amd64"],
            (RECIPES / "cargo-lambda.Dockerfile").read_bytes(),
            *_tool_versions(tools),
            *(p.read_bytes() for p in _ca_files()),
        ]
    )
    keys.update({f"base-{arch}": key for arch, key in base.items()})
    return keys


def ensure_standins(engine: Engine) -> StandIns:
    """Load the stand-ins from the cache, building (and caching) the missing ones."""
    keys = _recipe_keys()
    tags = {
        "cargo-lambda": CARGO_LAMBDA_TAG,
        "provided-amd64": PROVIDED_TAGS["amd64"],
        "provided-arm64": PROVIDED_TAGS["arm64"],
    }
    images = CACHE / "images"
    images.mkdir(parents=True, exist_ok=True)
    seconds: Dict[str, float] = {}
    built: List[str] = []
    scratch = Path(tempfile.mkdtemp(prefix="crt-standins-", dir="/tmp"))
    try:
        for name, tag in tags.items():
            started = time.monotonic()
            cached = images / f"{name}-{keys[name]}.tar"
            # The image ID each recipe produced: a kept data root may hold an older build.
            id_file = cached.with_suffix(".id")
            recorded = id_file.read_text().strip() if id_file.is_file() else ""
            if recorded and engine.image_id(tag) == recorded:
                continue
            if cached.is_file():
                engine.docker("load", "--input", str(cached))
                id_file.write_text(engine.image_id(tag))
                seconds[f"load {name}"] = time.monotonic() - started
                continue
            arch = "arm64" if name.endswith("arm64") else "amd64"
            base_tag = f"constructs-rust-test/bookworm-minbase:{arch}-{keys['base-' + arch]}"
            if not engine.has_image(base_tag):
                _say(f"debootstrap {SUITE} ({arch}) for {tag} …")
                t0 = time.monotonic()
                _import_rootfs(engine, arch, base_tag, scratch)
                seconds[f"debootstrap+import {arch}"] = time.monotonic() - t0
            context = scratch / name
            context.mkdir()
            if name == "cargo-lambda":
                tools = _venv_tools()
                shutil.copy2(RECIPES / "cargo-lambda.Dockerfile", context / "Dockerfile")
                (context / "ca").mkdir()
                for ca in _ca_files():
                    shutil.copy2(ca, context / "ca" / ca.name)
                shutil.copy2(tools["cargo-lambda"], context / "cargo-lambda")
                shutil.copytree(
                    tools["zig"],
                    context / "zig",
                    ignore=shutil.ignore_patterns("__pycache__", "*.py", "*.pyc"),
                )
            else:
                shutil.copy2(RECIPES / "provided.Dockerfile", context / "Dockerfile")
                shutil.copy2(RECIPES / "lambda-entrypoint.sh", context / "lambda-entrypoint.sh")
            _say(f"building {tag} …")
            t0 = time.monotonic()
            engine.build(
                context,
                tag,
                "--platform",
                f"linux/{arch}",
                "--build-arg",
                f"BASE={base_tag}",
            )
            seconds[f"build {name}"] = time.monotonic() - t0
            shutil.rmtree(context, ignore_errors=True)
            t0 = time.monotonic()
            for stale in [*images.glob(f"{name}-*.tar"), *images.glob(f"{name}-*.id")]:
                stale.unlink()
            partial = cached.with_suffix(".tar.partial")
            engine.docker("save", "--output", str(partial), tag)
            partial.rename(cached)
            id_file.write_text(engine.image_id(tag))
            seconds[f"save {name}"] = time.monotonic() - t0
            built.append(tag)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    sizes = {tag: engine.image_size(tag) for tag in tags.values()}
    return StandIns(
        cargo_lambda=CARGO_LAMBDA_TAG,
        provided=dict(PROVIDED_TAGS),
        sizes=sizes,
        seconds=seconds,
        built=built,
    )


# ----------------------------------------------------------------------------- arm64 binfmt

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
QEMU_BINFMT_CONF = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")


@dataclass
class Binfmt:
    """The kernel's qemu-aarch64 handler for the session (arm64 containers), and how to undo
    what the session changed."""

    problem: str
    """'' when arm64 binaries run inside containers, else why not."""
    mounted: bool = False
    registered: bool = False

    def undo(self) -> None:
        if self.registered:
            (BINFMT_DIR / "qemu-aarch64").write_text("-1")
        if self.mounted:
            subprocess.run(["umount", str(BINFMT_DIR)], capture_output=True)


def _binfmt_mounted() -> bool:
    return any(
        line.split()[1] == str(BINFMT_DIR) for line in Path("/proc/mounts").read_text().splitlines()
    )


def ensure_arm64_binfmt() -> Binfmt:
    """Register qemu-user-static's aarch64 handler with the F flag (the kernel opens the
    interpreter at registration, so it works inside containers) unless one is registered.
    Without systemd as PID 1, qemu-user-static's own registration (systemd-binfmt) never ran."""
    result = Binfmt(problem="")
    entry = BINFMT_DIR / "qemu-aarch64"
    if not _binfmt_mounted():
        proc = subprocess.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT_DIR)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            result.problem = f"binfmt_misc cannot be mounted: {proc.stderr.strip()}"
            return result
        result.mounted = True
    if not entry.exists():
        if not QEMU_BINFMT_CONF.is_file():
            result.problem = f"{QEMU_BINFMT_CONF} is missing (apt-get install qemu-user-static)"
            return result
        try:
            (BINFMT_DIR / "register").write_text(QEMU_BINFMT_CONF.read_text().strip())
            result.registered = True
        except OSError as exc:
            result.problem = f"registering qemu-aarch64 in binfmt_misc failed: {exc}"
            return result
    flags = next(
        (line.split()[1] for line in entry.read_text().splitlines() if line.startswith("flags:")),
        "",
    )
    if "F" not in flags:
        result.problem = (
            f"the registered qemu-aarch64 handler lacks the F flag (flags: {flags!r}): its "
            "interpreter path does not exist inside containers"
        )
    return result
