"""A bootstrap as a process, the way Lambda starts it: the ``AWS_LAMBDA_*`` environment, the
architecture its ELF header names (arm64 under qemu-user on x86_64 hosts), and a relay that
notes when the runtime first asks for ``/next`` (the init time); where a function's staged
bootstrap is."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional

from .._support import lifeline

if TYPE_CHECKING:
    from aws_cdk import aws_lambda as lambda_

QEMU_AARCH64 = "qemu-aarch64-static"


AARCH64_SYSROOT = "/usr/aarch64-linux-gnu"


#: The emulator's default function route (cargo-lambda prints AWS_LAMBDA_FUNCTION_NAME=_).
DEFAULT_FUNCTION = "_"


class EmulationUnavailable(RuntimeError):
    """The bootstrap's architecture cannot run on this host (no qemu-user)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.01)  # a local port: polled often, start-up is what `local` waits for
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def host_arch() -> str:
    return "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "x86_64"


#: ELF ``e_machine`` → Lambda architecture name (EM_X86_64, EM_AARCH64).
_ELF_MACHINES = {0x3E: "x86_64", 0xB7: "arm64"}


def binary_architecture(path: Path) -> str:
    """The Lambda architecture (``x86_64`` or ``arm64``) the Linux executable at ``path`` was
    built for, read from its ELF header (``e_machine``, offset 18).

    Raises ValueError for a file that is not an ELF executable of either architecture."""
    with open(path, "rb") as file:
        header = file.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        raise ValueError(
            f"{path} is not an ELF executable (no ELF header), so its architecture is unknown: "
            "give the bootstrap CDK built (bootstrap_path(fn)), or pass architecture='x86_64' "
            "or 'arm64' to run it anyway"
        )
    if header[5] not in (1, 2):  # EI_DATA: 1 little-endian, 2 big-endian
        raise ValueError(f"{path}: invalid ELF header (EI_DATA={header[5]})")
    machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    if machine not in _ELF_MACHINES:
        raise ValueError(
            f"{path} is built for ELF machine {machine:#x}, not x86_64 (0x3e) or aarch64 "
            "(0xb7): AWS Lambda cannot run it; build for architecture ARM_64 or X86_64"
        )
    return _ELF_MACHINES[machine]


def architecture_of(binary: Path, architecture: Optional[str]) -> str:
    """``architecture`` when given (the caller's word wins), else the binary's own."""
    return architecture if architecture is not None else binary_architecture(binary)


def runner_prefix(architecture: str) -> List[str]:
    """argv prefix that runs a Linux binary of ``architecture`` on this host."""
    if architecture == host_arch():
        return []
    if architecture == "arm64":
        qemu = shutil.which(QEMU_AARCH64)
        if not qemu:
            raise EmulationUnavailable(
                f"{QEMU_AARCH64} not found: install qemu-user-static (and libc6:arm64) "
                "to run arm64 bootstraps here"
            )
        # Prefer the host's multiarch aarch64 glibc (libc6:arm64): threaded binaries (tokio)
        # deadlock at start-up under the cross sysroot's loader. Fall back to the sysroot.
        if Path("/lib/ld-linux-aarch64.so.1").exists():
            return [qemu]
        return [qemu, "-L", AARCH64_SYSROOT]
    qemu = shutil.which("qemu-x86_64-static")
    if not qemu:
        raise EmulationUnavailable(
            "qemu-x86_64-static not found: cannot run x86_64 bootstraps on this host"
        )
    return [qemu]


class FirstRequestRelay:
    """TCP relay bootstrap → emulator that records when the first request arrives."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.first_request_at: Optional[float] = None
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self.port = self._server.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_runtime: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_runtime and self.first_request_at is None:
                    self.first_request_at = time.monotonic()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            if from_runtime:  # the runtime→emulator direction owns the pair
                src.close()
                dst.close()

    def close(self) -> None:
        self._closed = True
        self._server.close()


def _runtime_environment(
    bootstrap: Path, relay_port: int, memory_size: int, extra: Optional[Mapping[str, str]]
) -> Dict[str, str]:
    """The variables Lambda gives a bootstrap (runtime API through the relay), then ``extra``."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{relay_port}/.rt",
        "AWS_LAMBDA_FUNCTION_NAME": DEFAULT_FUNCTION,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/local",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(bootstrap.parent),
        "RUST_LOG": "info",
        **(extra or {}),
    }


class BootstrapProcess:
    """A bootstrap started against an emulator, ready once it first asks for an event."""

    def __init__(
        self,
        emulator_port: int,
        bootstrap: Path,
        *,
        architecture: Optional[str],
        environment: Optional[Mapping[str, str]],
        memory_size: int,
        timeout: float,
    ) -> None:
        self.bootstrap = Path(bootstrap).resolve()
        self._prefix = runner_prefix(architecture_of(self.bootstrap, architecture))
        self._relay = FirstRequestRelay(emulator_port)
        self._env = _runtime_environment(self.bootstrap, self._relay.port, memory_size, environment)
        self._timeout = timeout
        # The bootstrap writes through its own handle; this process reads through another (one
        # shared file offset would move the writer's position on every read).
        self._log_dir = tempfile.TemporaryDirectory(prefix="constructs-rust-invoke-")
        log_path = Path(self._log_dir.name) / "bootstrap.log"
        self._log = open(log_path, "wb")
        self._reader = open(log_path, "rb")
        self._read = ""
        self._pending = ""
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self.init_seconds = 0.0
        self.logs = ""
        """Everything the bootstrap wrote (complete once the process is stopped)."""

    def read_new(self) -> str:
        """What the bootstrap wrote since the last call (after the stop: what was left)."""
        if self._reader.closed:
            new, self._pending = self._pending, ""
            return new
        new = self._reader.read().decode(errors="replace")
        self._read += new
        return new

    def poll(self) -> Optional[int]:
        """The exit status once the bootstrap ended (negative: the signal that ended it), else
        None. What Lambda reports as ``Runtime.ExitError`` when an event is pending."""
        proc = self._proc
        return None if proc is None else proc.poll()

    def kill(self) -> None:
        """End the bootstrap at once (SIGKILL), as Lambda ends a timed-out environment."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    def __enter__(self) -> "BootstrapProcess":
        started = time.monotonic()
        self._proc = subprocess.Popen(
            [*self._prefix, str(self.bootstrap)],
            env=self._env,
            cwd=self.bootstrap.parent,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        lifeline.watch(self._proc.pid, group=False)
        try:
            while self._relay.first_request_at is None:
                if self._proc.poll() is not None:
                    raise RuntimeError(
                        f"bootstrap exited with {self._proc.returncode} before asking for an "
                        f"event:\n{self.read_new()}"
                    )
                if time.monotonic() > started + self._timeout:
                    raise TimeoutError("bootstrap never asked for an event")
                time.sleep(0.002)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.init_seconds = self._relay.first_request_at - started
        return self

    def __exit__(self, *exc: Any) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            lifeline.forget(proc.pid)
        self._relay.close()
        if not self._reader.closed:
            self._log.close()
            self._pending = self._reader.read().decode(errors="replace")
            self.logs = self._read + self._pending
            self._reader.close()
            self._log_dir.cleanup()


def cargo_lambda_binary() -> Optional[str]:
    """``cargo-lambda`` on PATH, or beside the running Python (a venv that is not activated):
    the lookup of ``_cargo.toolchain.find_cargo_lambda``, without importing ``_cargo`` (its
    ``targets`` module loads aws-cdk-lib, which a ``local invoke`` of an assembly never
    needs)."""
    found = shutil.which("cargo-lambda")
    if found:
        return found
    beside = Path(sys.executable).parent / "cargo-lambda"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def request_body(event: Any) -> bytes:
    body = event if isinstance(event, (bytes, str)) else json.dumps(event)
    return body.encode() if isinstance(body, str) else body


def bootstrap_path(function: lambda_.Function) -> Path:
    """The bundled ``bootstrap`` of a RustFunction in the synthesized cloud assembly.

    Call after ``app.synth()`` (or ``Template.from_stack``), which is when the build runs.
    """
    import aws_cdk as cdk  # here: reading an assembly (``local``) loads no aws-cdk-lib
    from aws_cdk import aws_s3_assets as s3_assets

    from .._build.request import PLACEHOLDER

    asset = function.node.try_find_child("Code")
    stage = cdk.Stage.of(function)
    if not isinstance(asset, s3_assets.Asset) or stage is None:
        raise ValueError(f"{function.node.path} has no asset code")
    staged = Path(stage.asset_outdir) / asset.asset_path
    path = staged / "bootstrap"
    if not path.is_file() or (staged / PLACEHOLDER).exists():
        raise FileNotFoundError(
            f"{path} is not built yet: synthesize the app first (and make sure the stack needs "
            "bundling)"
        )
    return path
