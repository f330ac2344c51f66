"""RustExtension built for real (arm64 through the example app, x86_64 in its own app) and run
next to a function bootstrap against lambda-simulator (``constructs_rust.testing``):
registration, INVOKE, telemetry, SHUTDOWN (arm64 under qemu-user on x86_64 hosts); and the
extension's own Rust unit tests."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from constructs_rust.testing import (
    EmulationUnavailable,
    ExtensionSimulator,
    bootstrap_path,
    extension_path,
)

pytestmark = [pytest.mark.build, pytest.mark.invoke]

_ELF_MACHINE = {"arm64": 0xB7, "x86_64": 0x3E}


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    return int.from_bytes(header[18:20], "little")


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
    # platform.report records came through the Telemetry API (the simulator's last batch may
    # still be in flight at SHUTDOWN, so at least the first one).
    assert 1 <= summary["reports"] <= n_events
    print(
        f"register→ready {reg.register_to_ready_seconds * 1000:.1f} ms, "
        f"spawn→register {reg.spawn_to_register_seconds * 1000:.1f} ms, "
        f"runtime init {run.runtime_init_seconds * 1000:.1f} ms, "
        f"shutdown {run.shutdown_seconds * 1000:.1f} ms, summary {summary}"
    )
    return summary


def test_layer_holds_the_extensions_binary_for_its_architecture(stack_of):
    ext = stack_of("ExtensionStack").extension
    path = extension_path(ext)
    staged = path.parent.parent
    files = sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file())
    assert files == ["extensions/telemetry_summary"]
    assert path.stat().st_mode & 0o111
    assert _elf_machine(path) == _ELF_MACHINE["arm64"]
    print(f"telemetry_summary arm64: {path.stat().st_size} bytes")


def test_arm64_extension_next_to_echo(stack_of):
    stack = stack_of("ExtensionStack")
    run = _run(stack.function, [{"message": "one"}, {"message": "two"}])
    assert [i.payload for i in run.invocations] == [
        {"echo": "one one one"},
        {"echo": "two two two"},
    ]
    _check_run(run, 2)


def test_no_extension_means_no_registration(stack_of):
    fn = stack_of("EchoStack").function
    try:
        run = ExtensionSimulator().run(
            bootstrap_path(fn), [], [{"message": "x"}], architecture="arm64"
        )
    except EmulationUnavailable as exc:
        pytest.skip(str(exc))
    assert run.registrations == ()
    assert run.invocations[0].payload == {"echo": "x x x"}


def test_x86_64_extension_next_to_pi_digits(stack_of, tmp_path):
    """The same extension built for x86_64 (its own app, the example workspace) runs natively
    next to the example's x86_64 pi_digits."""
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from constructs_rust import RustExtension
    from stacks.paths import crate

    pi = stack_of("PiStack").functions["x86_64"]
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    ext = RustExtension(
        cdk.Stack(app, "X86Ext"),
        "TelemetrySummary",
        manifest_path=crate(),
        binary_name="telemetry_summary",
        architecture=lambda_.Architecture.X86_64,
    )
    app.synth()
    path = extension_path(ext)
    assert _elf_machine(path) == _ELF_MACHINE["x86_64"]
    print(f"telemetry_summary x86_64: {path.stat().st_size} bytes")
    try:
        run = ExtensionSimulator(function_name="pi").run(
            bootstrap_path(pi), [path], [{"digits": 50}, {"digits": 10}], architecture="x86_64"
        )
    except EmulationUnavailable as exc:
        pytest.skip(str(exc))
    assert [i.payload["pi"] for i in run.invocations] == [
        "31415926535897932384626433832795028841971693993751",
        "3141592653",
    ]
    _check_run(run, 2)


def test_the_extensions_rust_unit_tests_pass():
    """`cargo test -p telemetry_summary`: the summary arithmetic, outside any simulator."""
    from stacks.paths import crate

    proc = subprocess.run(
        ["cargo", "test", "--locked", "-p", "telemetry_summary", "--color", "never"],
        cwd=crate(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"test result: ok\. [1-9]\d* passed", proc.stdout), proc.stdout
