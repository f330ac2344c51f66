"""RustExtension built for real (arm64 through the example app, x86_64 in a small app) and run
next to a function bootstrap against lambda-simulator: registration, INVOKE, telemetry,
SHUTDOWN, on both architectures (arm64 under qemu-user)."""

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import RustExtension, RustFunction
from constructs_rust.testing import (
    EmulationUnavailable,
    ExtensionSimulator,
    bootstrap_path,
    extension_path,
)

from ..conftest import LAMBDAS

pytestmark = [pytest.mark.build, pytest.mark.invoke]

_ELF_MACHINE = {"arm64": 0xB7, "x86_64": 0x3E}


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    return int.from_bytes(header[18:20], "little")


@pytest.fixture(scope="module")
def x86_app(tmp_path_factory):
    """telemetry_summary for x86_64 next to pi_digits x86_64 (the same build as PiStack's)."""
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("ext-x86") / "cdk.out"))
    stack = cdk.Stack(app, "ExtX86")
    ext = RustExtension(
        stack,
        "Summary",
        manifest_path=str(LAMBDAS),
        binary_name="telemetry_summary",
        architecture=lambda_.Architecture.X86_64,
    )
    fn = RustFunction(
        stack,
        "Pi",
        manifest_path=str(LAMBDAS / "pi_digits"),
        architecture=lambda_.Architecture.X86_64,
        layers=[ext],
    )
    app.synth()
    return ext, fn


def _summary(logs: str) -> dict:
    lines = [line for line in logs.splitlines() if '"extension":"telemetry_summary"' in line]
    assert len(lines) == 1, logs
    return json.loads(lines[0])


def _run(function, events):
    try:
        return ExtensionSimulator(function_name="fn").run_function(function, events)
    except EmulationUnavailable as exc:
        pytest.skip(str(exc))


def _check_run(run, n_events):
    (reg,) = run.registrations
    assert reg.name == "telemetry_summary"
    assert set(reg.events) == {"INVOKE", "SHUTDOWN"}
    assert 0 <= reg.register_to_ready_seconds < 30
    assert [i.status for i in run.invocations] == ["success"] * n_events
    assert run.shutdown_acknowledged, run.extension_logs
    summary = _summary(run.extension_logs["telemetry_summary"])
    assert summary["invokes"] == n_events
    assert summary["shutdown_reason"] == "spindown"
    # platform.report records came through the Telemetry API, one per invocation.
    assert summary["reports"] == n_events
    print(
        f"register→ready {reg.register_to_ready_seconds * 1000:.1f} ms, "
        f"spawn→register {reg.spawn_to_register_seconds * 1000:.1f} ms, "
        f"runtime init {run.runtime_init_seconds * 1000:.1f} ms, "
        f"shutdown {run.shutdown_seconds * 1000:.1f} ms, summary {summary}"
    )
    return summary


def test_layer_holds_extensions_binary_for_its_architecture(stack_of, x86_app):
    arm = stack_of("ExtensionStack").extension
    x86, _ = x86_app
    for ext, arch in ((arm, "arm64"), (x86, "x86_64")):
        path = extension_path(ext)
        staged = path.parent.parent
        files = sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file())
        assert files == ["extensions/telemetry_summary"]
        assert path.stat().st_mode & 0o111
        assert _elf_machine(path) == _ELF_MACHINE[arch]
        print(f"telemetry_summary {arch}: {path.stat().st_size} bytes")


def test_arm64_extension_next_to_echo(stack_of):
    stack = stack_of("ExtensionStack")
    run = _run(stack.function, [{"message": "one"}, {"message": "two"}])
    assert [i.payload for i in run.invocations] == [
        {"echo": "one one one"},
        {"echo": "two two two"},
    ]
    _check_run(run, 2)


def test_x86_64_extension_next_to_pi_digits(x86_app):
    ext, fn = x86_app
    run = _run(fn, [{"digits": 10}, {"digits": 20}, {"digits": 5}])
    assert [i.payload["pi"] for i in run.invocations] == [
        "3141592653",
        "31415926535897932384",
        "31415",
    ]
    _check_run(run, 3)


def test_no_extension_means_no_registration(x86_app):
    _, fn = x86_app
    run = ExtensionSimulator().run(bootstrap_path(fn), [], [{"digits": 3}], architecture="x86_64")
    assert run.registrations == ()
    assert run.invocations[0].payload == {"digits": 3, "pi": "314"}
