"""BundlingOptions(libc=Libc.MUSL) built for real: static executables for both architectures
(no interpreter, no shared library: checked by our ELF reader and by readelf), invoked through
the runtime API emulator (arm64 under qemu-user, which needs no arm64 libc for them)."""

import subprocess

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import BundlingOptions, Libc, RustFunction
from constructs_rust._cargo.targets import Target
from constructs_rust._cargo.toolchain import rust_std_installed
from constructs_rust.testing import EmulationUnavailable, LambdaEmulator, bootstrap_path
from tests.elf import linkage

pytestmark = [pytest.mark.build, pytest.mark.invoke]

ARCHES = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}


def _readelf(flag: str, path) -> str:
    return subprocess.run(
        ["readelf", flag, "--wide", str(path)], capture_output=True, text=True, check=True
    ).stdout


def test_musl_builds_static_executables_that_answer(copy_fixture, tmp_path):
    for arch in ARCHES:
        if not rust_std_installed(Target(lambda_arch=arch, musl=True), tmp_path):
            pytest.skip(f"no musl std for {arch}: rustup target add (scripts/setup-system.sh)")
    crate = copy_fixture("single")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "Musl")
    musl = BundlingOptions(libc=Libc.MUSL)
    functions = {
        arch: RustFunction(
            stack, f"Musl{arch}", manifest_path=str(crate), architecture=a, bundling=musl
        )
        for arch, a in ARCHES.items()
    }
    # The same crate against glibc: the checks below must tell the two apart.
    glibc = RustFunction(
        stack, "Glibc", manifest_path=str(crate), architecture=lambda_.Architecture.X86_64
    )
    app.synth()

    dynamic = bootstrap_path(glibc)
    assert not linkage(dynamic).static
    assert "Requesting program interpreter" in _readelf("--program-headers", dynamic)
    with LambdaEmulator() as emulator:
        for arch, fn in functions.items():
            path = bootstrap_path(fn)
            assert linkage(path).static, (arch, linkage(path))
            assert "INTERP" not in _readelf("--program-headers", path)
            assert "(NEEDED)" not in _readelf("--dynamic", path)
            assert path.read_bytes() != dynamic.read_bytes()
            try:
                result = emulator.invoke(path, {"arch": arch})
            except EmulationUnavailable as exc:
                pytest.skip(f"{arch} built static but not run: {exc}")
            assert result.payload == {
                "layout": "single",
                "bin": "fx_single",
                "input": {"arch": arch},
            }, result
