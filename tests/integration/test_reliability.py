"""Issue #7: every bad input → one clear error; reproducible, concurrent, interruptible builds."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import BundlingOptions, RustFunction, UrlOptions
from constructs_rust._build.request import PLACEHOLDER
from constructs_rust._cargo import toolchain
from constructs_rust.testing import LambdaEmulator, bootstrap_path

from .. import procs
from ..conftest import FIXTURES, ROOT

pytestmark = [pytest.mark.build]
ONE_FUNCTION_APP = ROOT / "tests" / "fixtures" / "apps" / "one_function.py"


def _assert_no_half_written_assets(outdir: Path) -> None:
    for asset in outdir.glob("asset.*"):
        assert not (asset / PLACEHOLDER).exists(), f"half-written {asset.name} left behind"


def _synth_error(tmp_path: Path, make) -> str:
    """Create the function(s) with ``make(stack)`` and synthesize; return the error text."""
    outdir = tmp_path / "cdk.out"
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "S")
    with pytest.raises(Exception) as err:
        make(stack)
        app.synth()
    _assert_no_half_written_assets(outdir)
    return str(err.value)


def _docker_engine_answers() -> bool:
    return toolchain.docker_engine_problem() is None


# (case id, crate fixture or None, kwargs, expected fragments in order-insensitive list)
CASES = [
    (
        "manifest-missing",
        None,
        {"manifest_path": "/nowhere/Cargo.toml"},
        ["[S/Fn]", "manifest_path='/nowhere/Cargo.toml'", "does not exist", "Fix:"],
    ),
    (
        "not-a-manifest",
        None,
        {"manifest_path": str(FIXTURES / "mini_runtime.rs")},
        ["[S/Fn]", "manifest_path=", "is not a Cargo.toml", "Fix:"],
    ),
    (
        "malformed-manifest",
        "malformed",
        {},
        ["[S/Fn]", "cargo metadata failed", "unclosed table", "Fix:"],
    ),
    (
        "unknown-binary",
        "workspace",
        {"binary_name": "nope"},
        ["[S/Fn]", "binary_name='nope'", "fx_api, fx_worker", "Fix:"],
    ),
    ("several-binaries", "multi_bin", {}, ["[S/Fn]", "several binaries", "alpha, beta", "Fix:"]),
    ("library-only", "lib_only", {}, ["[S/Fn]", "library-only", "Fix:"]),
    (
        "non-provided-runtime",
        "single",
        {"runtime": lambda_.Runtime.NODEJS_20_X},
        ["[S/Fn]", "runtime='nodejs20.x'", "PROVIDED_AL2023", "Fix:"],
    ),
    (
        "flag-newline",
        "single",
        {"bundling": BundlingOptions(cargo_lambda_flags=["--locked\n--offline"])},
        ["[S/Fn]", "bundling.cargo_lambda_flags", "metacharacter", "Fix:"],
    ),
    (
        "flag-semicolon",
        "single",
        {"bundling": BundlingOptions(cargo_lambda_flags=["--locked;id"])},
        ["[S/Fn]", "metacharacter ';'"],
    ),
    (
        "flag-and",
        "single",
        {"bundling": BundlingOptions(cargo_lambda_flags=["a&&b"])},
        ["[S/Fn]", "metacharacter '&'"],
    ),
    (
        "flag-subshell",
        "single",
        {"bundling": BundlingOptions(cargo_lambda_flags=["$(id)"])},
        ["[S/Fn]", "metacharacter '$'"],
    ),
    (
        "flag-backtick",
        "single",
        {"bundling": BundlingOptions(cargo_lambda_flags=["`id`"])},
        ["[S/Fn]", "metacharacter '`'"],
    ),
    (
        "flag-target",
        "single",
        {"bundling": BundlingOptions(cargo_lambda_flags=["--target", "x"])},
        ["[S/Fn]", "'--target'", "managed by the construct", "architecture"],
    ),
    (
        "flag-arm64",
        "single",
        {"bundling": BundlingOptions(cargo_lambda_flags=["--arm64"])},
        ["'--arm64'", "managed"],
    ),
    (
        "flag-x86-64",
        "single",
        {"bundling": BundlingOptions(cargo_lambda_flags=["--x86-64"])},
        ["'--x86-64'", "managed"],
    ),
    (
        "flag-release-custom-profile",
        "single",
        {"bundling": BundlingOptions(profile="dev", cargo_lambda_flags=["--release"])},
        ["'--release'", "fights profile='dev'"],
    ),
    (
        "flag-lambda-dir",
        "single",
        {"bundling": BundlingOptions(cargo_lambda_flags=["--lambda-dir=/tmp"])},
        ["'--lambda-dir=/tmp'", "managed"],
    ),
    (
        "binary-path-separator",
        "single",
        {"binary_name": "../fx_single"},
        ["[S/Fn]", "binary_name='../fx_single'", "Fix:"],
    ),
    ("binary-shell", "single", {"binary_name": "x;rm"}, ["binary_name='x;rm'"]),
    (
        "reserved-env",
        "single",
        {"environment": {"AWS_LAMBDA_RUNTIME_API": "x"}},
        ["[S/Fn]", "environment='AWS_LAMBDA_RUNTIME_API'", "reserved by AWS Lambda", "Fix:"],
    ),
    (
        "reserved-env-handler",
        "single",
        {"environment": {"_HANDLER": "x"}},
        ["environment='_HANDLER'", "reserved"],
    ),
    (
        "does-not-compile",
        "does_not_compile",
        {},
        ["S/Fn", "cargo lambda build failed", "cargo's error is printed above", "Fix:"],
    ),
]


@pytest.mark.parametrize("case, fixture, kwargs, fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_input_table(case, fixture, kwargs, fragments, copy_fixture, tmp_path):
    if fixture:
        kwargs = {"manifest_path": str(copy_fixture(fixture)), **kwargs}
    kwargs.setdefault("architecture", lambda_.Architecture.X86_64)
    message = _synth_error(tmp_path, lambda stack: RustFunction(stack, "Fn", **kwargs))
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from:\n{message}"
    assert "Traceback" not in message


def test_cargo_lambda_missing_and_no_docker(copy_fixture, tmp_path, monkeypatch):
    # No engine, whatever runs on this machine: the client talks to a socket nobody serves.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert not _docker_engine_answers()
    monkeypatch.setattr(toolchain, "find_cargo_lambda", lambda: None)
    crate = copy_fixture("single")
    message = _synth_error(tmp_path, lambda s: RustFunction(s, "Fn", manifest_path=str(crate)))
    assert "cargo-lambda is not installed and no Docker engine answers" in message
    assert "pip install cargo-lambda" in message and "start a Docker engine" in message


def test_zig_missing(copy_fixture, tmp_path, monkeypatch):
    monkeypatch.setattr(toolchain, "find_zig", lambda: None)
    crate = copy_fixture("single")
    message = _synth_error(
        tmp_path,
        lambda s: RustFunction(
            s, "Fn", manifest_path=str(crate), architecture=lambda_.Architecture.X86_64
        ),
    )
    assert "zig is not installed" in message and "pip install ziglang" in message
    assert "force_docker=True" in message


def test_rust_std_missing_names_rustup_and_docker(copy_fixture, tmp_path, monkeypatch):
    """A rustc whose sysroot has only the host std (a rustup toolchain without
    `rustup target add aarch64-unknown-linux-gnu`), faked so the case is reproducible anywhere."""
    sysroot = tmp_path / "sysroot"
    (sysroot / "lib" / "rustlib" / "x86_64-unknown-linux-gnu" / "lib").mkdir(parents=True)
    fake = tmp_path / "rustc-without-aarch64"
    fake.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--print" ] && [ "$2" = "sysroot" ]; then echo "{sysroot}"; exit 0; fi\n'
        f'exec {shutil.which("rustc")} "$@"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("RUSTC", str(fake))
    crate = copy_fixture("single")
    message = _synth_error(
        tmp_path, lambda s: RustFunction(s, "Fn", manifest_path=str(crate))
    )  # arm64
    assert "Rust standard library for aarch64-unknown-linux-gnu is not installed" in message
    assert (
        "rustup target add aarch64-unknown-linux-gnu" in message and "force_docker=True" in message
    )


def test_public_url_is_a_warning_not_an_error(copy_fixture, tmp_path):
    crate = copy_fixture("single")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "S")
    RustFunction(
        stack,
        "Fn",
        manifest_path=str(crate),
        architecture=lambda_.Architecture.X86_64,
        url=UrlOptions(auth_type=lambda_.FunctionUrlAuthType.NONE),
    )
    assembly = app.synth()
    messages = [
        m.entry.data
        for m in assembly.get_stack_by_name("S").messages
        if m.entry.type == "aws:cdk:warning"
    ]
    assert any("auth type NONE" in str(m) for m in messages)


def test_paths_with_spaces_and_non_ascii_work(tmp_path):
    base = tmp_path / "dir with spaces" / "ünïcødé crates"
    base.mkdir(parents=True)
    shutil.copy2(FIXTURES / "mini_runtime.rs", base / "mini_runtime.rs")
    shutil.copytree(
        FIXTURES / "workspace", base / "workspace", ignore=shutil.ignore_patterns("target")
    )
    app = cdk.App(outdir=str(tmp_path / "out dir é" / "cdk.out"))
    stack = cdk.Stack(app, "S")
    fn = RustFunction(
        stack,
        "Fn",
        manifest_path=str(base / "workspace" / "members" / "api"),
        architecture=lambda_.Architecture.X86_64,
    )
    app.synth()
    with LambdaEmulator() as emulator:
        result = emulator.invoke(bootstrap_path(fn), {"path": "ok"})
    assert result.payload["bin"] == "fx_api" and result.payload["input"] == {"path": "ok"}


def _default_signals() -> None:
    """In the child: SIGINT/SIGTERM at their defaults. A test run started in the background by
    a non-interactive shell (a CI job) inherits SIGINT ignored, and Python then installs no
    KeyboardInterrupt handler; a synth run from a terminal has the defaults."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_app(crate: Path, outdir: Path, **env) -> subprocess.Popen:
    full_env = dict(os.environ, CRATE=str(crate), CDK_OUTDIR=str(outdir), **env)
    return subprocess.Popen(
        [sys.executable, str(ONE_FUNCTION_APP)],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_default_signals,
    )


def test_synth_process_exits_non_zero_on_bad_input(copy_fixture, tmp_path):
    broken = copy_fixture("does_not_compile")
    proc = _run_app(broken, tmp_path / "cdk.out")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode != 0
    assert "cargo lambda build failed" in err
    # cargo's diagnostic once (as cargo printed it); the errors that follow hold a summary.
    assert err.count("error[E0308]") == 1, err
    _assert_no_half_written_assets(tmp_path / "cdk.out")
    proc = _run_app(tmp_path / "missing", tmp_path / "cdk.out2")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode != 0 and "[One/Fn] manifest_path=" in err and "does not exist" in err


def _templates_and_assets(outdir: Path):
    templates = {p.name: p.read_bytes() for p in outdir.glob("*.template.json")}
    assets = {
        p.name: (p / "bootstrap").read_bytes()
        for p in outdir.glob("asset.*")
        if (p / "bootstrap").exists()
    }
    return templates, assets


def test_two_checkout_paths_synthesize_identical_templates_and_binaries(tmp_path):
    """Same sources at two absolute paths: byte-identical templates, asset hashes AND bootstraps
    (--remap-path-prefix keeps the checkout path and the cargo home out of the binary)."""
    results = []
    for where in ("first checkout", "second/checkout"):
        base = tmp_path / where
        base.mkdir(parents=True)
        shutil.copy2(FIXTURES / "mini_runtime.rs", base / "mini_runtime.rs")
        shutil.copytree(
            FIXTURES / "workspace", base / "workspace", ignore=shutil.ignore_patterns("target")
        )
        out = tmp_path / f"out-{len(results)}"
        proc = _run_app(base / "workspace", out, BINARY="fx_api")
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-2000:]
        assert "building fx_api" in err, "each checkout really builds (its own target dir)"
        results.append(_templates_and_assets(out))
    (t1, a1), (t2, a2) = results
    assert t1 == t2, "templates differ between checkout paths"
    assert a1.keys() == a2.keys() and len(a1) == 1, "asset hashes differ between checkout paths"
    assert list(a1.values()) == list(a2.values()), "bootstrap bytes differ between checkout paths"
    assert str(tmp_path).encode() not in next(iter(a1.values()))


def test_two_synths_at_once_share_one_build(copy_fixture, tmp_path):
    crate = copy_fixture("single")
    procs = [_run_app(crate, tmp_path / f"out{i}") for i in range(2)]
    outputs = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-2000:]
    builds = sum(err.count("constructs_rust: building") for _, err in outputs)
    assert builds == 1, "the second synth waits for the lock and reuses the first one's build"
    assert _templates_and_assets(tmp_path / "out0") == _templates_and_assets(tmp_path / "out1")


def test_interrupted_build_recovers_without_cleanup(copy_fixture, tmp_path):
    crate = copy_fixture("workspace")
    out = tmp_path / "cdk.out"
    proc = _run_app(crate, out, BINARY="fx_api")
    # Wait until cargo is compiling, then Ctrl-C the whole process group.
    deadline = time.monotonic() + 300
    seen = ""
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen += line
        if "Compiling" in line or not line:
            break
    assert "Compiling" in seen, seen
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    again = _run_app(crate, out, BINARY="fx_api")
    _, err = again.communicate(timeout=900)
    assert again.returncode == 0, err[-2000:]
    _assert_no_half_written_assets(out)
    (bootstrap,) = [p / "bootstrap" for p in out.glob("asset.*") if (p / "bootstrap").exists()]
    with LambdaEmulator() as emulator:
        assert emulator.invoke(bootstrap, {"after": "interrupt"}).payload["input"] == {
            "after": "interrupt"
        }


SLOW_BUILD = """\
fn main() {
    println!("cargo:rerun-if-changed=sleep.txt");
    println!("cargo:rerun-if-env-changed=CRT_MARKER");
    let seconds: u64 = std::fs::read_to_string("sleep.txt").unwrap().trim().parse().unwrap();
    if let Ok(marker) = std::env::var("CRT_MARKER") {
        std::fs::write(marker, std::process::id().to_string()).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_secs(seconds));
    println!("cargo:rustc-env=SLEPT={}", seconds);
}
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_synth_alone_stops_the_build_and_the_next_synth_is_correct(tmp_path, sig):
    """SIGTERM/SIGINT to the Python process only (not its group), mid-build: cargo, rustc and
    the build script stop with it, no artifact is left half-written, and the next synth builds
    and stages the right binary."""
    crate = tmp_path / "slow"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "slow"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n'
        "[profile.release]\nlto = false\ncodegen-units = 16\n"
    )
    (crate / "build.rs").write_text(SLOW_BUILD)
    (crate / "sleep.txt").write_text("120\n")
    (crate / "src" / "main.rs").write_text('fn main() { println!("slept {}", env!("SLEPT")); }\n')
    marker = tmp_path / "build-script.pid"
    proc = _run_app(crate, tmp_path / "o1", CRT_MARKER=str(marker))
    deadline = time.monotonic() + 300
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists(), proc.communicate()[1][-3000:]
    time.sleep(0.5)
    os.kill(proc.pid, sig)  # the synth alone, not its process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0, err[-2000:]
    script_pid = int(marker.read_text())
    deadline = time.monotonic() + 15
    while procs.alive(script_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not procs.alive(script_pid), "the build script outlived the synth"
    leftovers = subprocess.run(["pgrep", "-f", str(crate)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", f"processes left: {leftovers.stdout}"
    artifacts = crate / "target" / "constructs-rust" / "artifacts"
    assert not artifacts.exists() or not any(artifacts.iterdir()), "no artifact was stored"
    _assert_no_half_written_assets(tmp_path / "o1")

    (crate / "sleep.txt").write_text("0\n")
    proc = _run_app(crate, tmp_path / "o2", CRT_MARKER=str(marker))
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    (bootstrap,) = (tmp_path / "o2").glob("asset.*/bootstrap")
    out = subprocess.run([str(bootstrap)], capture_output=True, text=True, check=True, env={})
    assert out.stdout == "slept 0\n"


def test_a_shared_build_failure_is_reported_once_naming_its_binaries(copy_fixture, tmp_path, capfd):
    """Two functions of one workspace whose shared crate does not compile: one cargo run, one
    diagnostic, one validation error naming both binaries (not one per function)."""
    ws = copy_fixture("workspace")
    lib = ws / "members" / "shared" / "src" / "lib.rs"
    lib.write_text(lib.read_text() + '\npub fn broken() -> u32 { "not a number" }\n')

    def make(stack):  # noqa: ANN001, ANN202
        for name in ("fx_api", "fx_worker"):
            RustFunction(
                stack,
                name,
                manifest_path=str(ws),
                binary_name=name,
                architecture=lambda_.Architecture.X86_64,
            )

    message = _synth_error(tmp_path, make)
    err = capfd.readouterr().err
    assert err.count("error[E0308]") == 1, err
    assert message.count("cargo lambda build failed") == 1, message
    assert "fx_api, fx_worker" in message and "cargo's error is printed above" in message
    assert "error[E0308]" not in message
