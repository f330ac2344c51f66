"""Functions with external extensions, run against a real Extensions API: ``ExtensionSimulator``
builds (once) the harness shipped in ``extension_harness/``, starts each extension as Lambda
would, sends invokes through the function's runtime and records what every extension saw."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3_assets as s3_assets

from .._build.request import PLACEHOLDER
from .._support import paths, settings
from . import bootstrap as boot
from .bootstrap import architecture_of, binary_architecture, bootstrap_path

#: The harness crate shipped with this package (see extension_harness/src/main.rs).
_HARNESS_SOURCE = Path(__file__).resolve().parent.parent / "extension_harness"
_HARNESS_BIN = "constructs-rust-extension-harness"


@dataclass(frozen=True)
class ExtensionRegistration:
    """One extension as the Extensions API saw it during INIT."""

    name: str
    """The name it registered with (lambda-extension uses the executable's file name)."""
    events: Tuple[str, ...]
    """The lifecycle events it registered for, e.g. ``("INVOKE", "SHUTDOWN")``."""
    spawn_to_register_seconds: Optional[float]
    """Process start → ``/extension/register``."""
    register_to_ready_seconds: Optional[float]
    """``/extension/register`` → first ``/extension/event/next`` (ready for events)."""


@dataclass(frozen=True)
class SimulatedInvoke:
    request_id: str
    status: str
    """``success``, ``error`` or ``timeout``."""
    payload: Any
    error: Optional[Dict[str, Any]]
    duration_seconds: Optional[float]
    """The runtime took the event → posted the response."""
    extension_overhead_seconds: Optional[float]
    """Response posted → every INVOKE-subscribed extension asked for its next event."""


@dataclass(frozen=True)
class ExtensionRun:
    """What happened in one simulated execution environment, INIT to SHUTDOWN."""

    registrations: Tuple[ExtensionRegistration, ...]
    """``ExtensionRegistration`` per extension, in registration order."""
    runtime_init_seconds: float
    """Extensions ready → the runtime's first ``/next`` (process start included)."""
    invocations: Tuple[SimulatedInvoke, ...]
    """``SimulatedInvoke`` per event, in order."""
    shutdown_acknowledged: bool
    """Every SHUTDOWN-subscribed extension asked for its next event after SHUTDOWN in time."""
    shutdown_seconds: float
    """SHUTDOWN sent → acknowledged by all (or the shutdown timeout)."""
    telemetry: Tuple[Dict[str, Any], ...]
    """Telemetry API records the simulator emitted (``{"type", "time", "record"}`` dicts)."""
    function_logs: str
    extension_logs: Dict[str, str]
    """stdout+stderr of each extension, by its file name."""
    function_exit_code: Optional[int]
    extension_exit_codes: Tuple[Optional[int], ...]


def _harness_dir() -> Path:
    # Not cache_root(): tests isolate that per session, and the harness (keyed by the digest of
    # its sources) is a tool worth building once per machine.
    explicit = settings.harness_dir()
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return paths.harness_dir(Path(base))


def harness_binary() -> Path:
    """The extension harness, built with cargo on first use (about 1-3 min) and then reused."""
    from .._support.disk_memo import digest
    from .._support.locks import locked

    sources = [_HARNESS_SOURCE / "Cargo.toml", _HARNESS_SOURCE / "Cargo.lock"]
    sources += sorted((_HARNESS_SOURCE / "src").glob("*.rs"))
    key = digest([p.name.encode() + b"\0" + p.read_bytes() for p in sources])[:16]
    home = _harness_dir()
    binary = home / "bin" / f"{_HARNESS_BIN}-{key}"
    if binary.is_file():
        return binary
    with locked(home / ".lock"):
        if binary.is_file():
            return binary
        target = home / "target"
        env = dict(os.environ, CARGO_TARGET_DIR=str(target))
        for name in ("CARGO_BUILD_TARGET", "CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS"):
            env.pop(name, None)
        proc = subprocess.run(
            [
                "cargo",
                "build",
                "--locked",
                "--manifest-path",
                str(_HARNESS_SOURCE / "Cargo.toml"),
                "--color",
                "never",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"building the extension harness failed:\n{proc.stderr[-4000:]}")
        binary.parent.mkdir(parents=True, exist_ok=True)
        tmp = binary.with_name(f".{binary.name}.tmp")
        shutil.copy2(target / "debug" / _HARNESS_BIN, tmp)
        os.replace(tmp, binary)
    return binary


def extension_path(extension: lambda_.LayerVersion) -> Path:
    """The built ``extensions/<binary>`` of a RustExtension in the synthesized cloud assembly."""
    asset = extension.node.try_find_child("Code")
    binary = getattr(extension, "binary_name", None)
    stage = cdk.Stage.of(extension)
    if not isinstance(asset, s3_assets.Asset) or stage is None or not binary:
        raise ValueError(f"{extension.node.path} is not a RustExtension with a built binary")
    staged = Path(stage.asset_outdir) / asset.asset_path
    path: Path = staged / "extensions" / str(binary)
    if not path.is_file() or (staged / PLACEHOLDER).exists():
        raise FileNotFoundError(
            f"{path} is not built yet: synthesize the app first (and make sure the stack needs "
            "bundling)"
        )
    return path


class ExtensionSimulator:
    """Run a function bootstrap with external extensions next to it, as Lambda does.

    cargo-lambda's emulator (``LambdaEmulator``) registers extensions and sends them INVOKE,
    but with ``--only-lambda-apis`` never SHUTDOWN, and it delivers no Telemetry/Logs API
    data. This uses the ``lambda-simulator`` crate instead (Runtime, Extensions and Telemetry
    APIs), through a small harness built with cargo on first use. One ``run`` is one execution
    environment: INIT (extensions register and get ready, then the runtime starts), one INVOKE
    per event, SHUTDOWN (SIGTERM to the runtime, SHUTDOWN to the extensions), then every
    process is stopped. arm64 binaries run under qemu-user (``EmulationUnavailable`` without).

    The simulator's telemetry has platform records only (``platform.start``, ``report``, ...):
    it does not forward the function's own log lines as ``function`` records.
    """

    def __init__(
        self,
        *,
        function_name: str = "function",
        memory_size: int = 128,
        invocation_timeout: float = 60,
        init_timeout: float = 60,
        shutdown_timeout: float = 2,
    ) -> None:
        self.function_name = function_name
        self.memory_size = memory_size
        self.invocation_timeout = invocation_timeout
        self.init_timeout = init_timeout
        self.shutdown_timeout = shutdown_timeout

    def run(
        self,
        bootstrap: Path,
        extensions: Sequence[Path],
        events: Sequence[Any],
        *,
        architecture: Optional[str] = None,
        environment: Optional[Mapping[str, str]] = None,
    ) -> ExtensionRun:
        """Start the extensions and ``bootstrap``, send ``events``, shut down; report.

        ``architecture``: ``x86_64`` or ``arm64``, the one to run the function and the
        extensions as. Default: None, the architecture the bootstrap's ELF header names; an
        extension built for another one is then a ValueError (Lambda would fail it with an exec
        format error). ``environment`` goes to the function and the extensions (Lambda gives
        extensions the function's variables). Default: none. Raises RuntimeError with the logs
        when a phase fails.
        """
        bootstrap = Path(bootstrap).resolve()
        ext_paths = [Path(e).resolve() for e in extensions]
        arch = architecture_of(bootstrap, architecture)
        if architecture is None:
            for extension in ext_paths:
                other = binary_architecture(extension)
                if other != arch:
                    raise ValueError(
                        f"extension {extension} is built for {other} but the bootstrap "
                        f"{bootstrap} for {arch}: Lambda would fail the extension with an exec "
                        "format error; build both for one architecture"
                    )
        prefix = boot.runner_prefix(arch)  # one patch of bootstrap.runner_prefix covers both
        harness = harness_binary()
        env = {"RUST_LOG": "info", "LAMBDA_TASK_ROOT": str(bootstrap.parent)}
        env.update(environment or {})
        with tempfile.TemporaryDirectory(prefix="constructs-rust-ext-") as tmp:
            work = Path(tmp)
            scenario = {
                "function": {
                    "argv": [*prefix, str(bootstrap)],
                    "env": env,
                    "log": str(work / "function.log"),
                },
                "extensions": [
                    {"argv": [*prefix, str(p)], "env": env, "log": str(work / f"ext-{i}.log")}
                    for i, p in enumerate(ext_paths)
                ],
                "events": [_as_json(e) for e in events],
                "function_name": self.function_name,
                "memory_size": self.memory_size,
                "invocation_timeout_ms": int(self.invocation_timeout * 1000),
                "init_timeout_ms": int(self.init_timeout * 1000),
                "shutdown_timeout_ms": int(self.shutdown_timeout * 1000),
            }
            (work / "scenario.json").write_text(json.dumps(scenario))
            deadline = self.init_timeout + self.invocation_timeout * (len(events) + 1) + 30
            proc = subprocess.run(
                [str(harness), str(work / "scenario.json")],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=deadline,
            )

            def read(path: Path) -> str:
                return path.read_text(errors="replace") if path.exists() else ""

            function_logs = read(work / "function.log")
            extension_logs = {p.name: read(work / f"ext-{i}.log") for i, p in enumerate(ext_paths)}
        if proc.returncode != 0 or not proc.stdout.strip():
            raise RuntimeError(
                f"extension harness failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
            )
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        if not report["ok"]:
            logs = "\n".join(f"--- {n} ---\n{t}" for n, t in extension_logs.items())
            raise RuntimeError(
                f"{report['error']}\n--- function ---\n{function_logs}\n{logs}".rstrip()
            )

        def seconds(ms: Optional[float]) -> Optional[float]:
            return None if ms is None else ms / 1000.0

        return ExtensionRun(
            registrations=tuple(
                ExtensionRegistration(
                    name=r["name"],
                    events=tuple(r["events"]),
                    spawn_to_register_seconds=seconds(r["spawn_to_register_ms"]),
                    register_to_ready_seconds=seconds(r["register_to_ready_ms"]),
                )
                for r in report["registrations"]
            ),
            runtime_init_seconds=report["runtime_init_ms"] / 1000.0,
            invocations=tuple(
                SimulatedInvoke(
                    request_id=i["request_id"],
                    status=i["status"],
                    payload=i["response"],
                    error=i["error"],
                    duration_seconds=seconds(i["duration_ms"]),
                    extension_overhead_seconds=seconds(i["extension_overhead_ms"]),
                )
                for i in report["invocations"]
            ),
            shutdown_acknowledged=report["shutdown_acknowledged"],
            shutdown_seconds=report["shutdown_ms"] / 1000.0,
            telemetry=tuple(report["telemetry"]),
            function_logs=function_logs,
            extension_logs=extension_logs,
            function_exit_code=report["function_exit_code"],
            extension_exit_codes=tuple(report["extension_exit_codes"]),
        )

    def run_function(
        self, function: lambda_.Function, events: Sequence[Any], **kwargs: Any
    ) -> ExtensionRun:
        """Run a synthesized RustFunction with every RustExtension layer it lists."""
        from ..extension import RustExtension, layers_of

        extensions = [
            extension_path(layer)
            for layer in layers_of(function)
            if isinstance(layer, RustExtension)
        ]
        return self.run(
            bootstrap_path(function),
            extensions,
            events,
            architecture=function.architecture.name,
            **kwargs,
        )


def _as_json(event: Any) -> Any:
    if isinstance(event, bytes):
        event = event.decode()
    if isinstance(event, str):
        try:
            return json.loads(event)
        except ValueError:
            return event
    return event
