"""The binary check on real builds: a bootstrap the runtime could not start is refused at synth,
before it is staged, with the construct path, the binary, what was found, what the runtime has
and the fix; again when it comes from the local store (a warm synth builds nothing)."""

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import (
    SCRATCH,
    BundlingOptions,
    CommandHooks,
    Libc,
    RustDockerImageFunction,
    RustFunction,
)
from constructs_rust._build.request import PLACEHOLDER
from constructs_rust._cargo.targets import Target
from constructs_rust._cargo.toolchain import rust_std_installed
from tests.elf import linkage

pytestmark = pytest.mark.build

#: A dynamic x86_64 executable of this (glibc) machine, put where the bootstrap was.
HOST_BINARY = "/bin/true"


def _synth_error(outdir: Path, make) -> str:
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "S")
    with pytest.raises(Exception) as err:
        make(stack)
        app.synth()
    for asset in outdir.glob("asset.*"):  # nothing staged: no bootstrap, no half-written dir
        assert not (asset / "bootstrap").exists(), asset
        assert not (asset / PLACEHOLDER).exists(), asset
    return str(err.value)


def test_a_binary_needing_a_newer_glibc_is_refused(copy_fixture, tmp_path, caplog):
    """The fixture calls arc4random (glibc 2.36) and links with the host's gcc
    (.cargo/config.toml), as cargo-lambda #654 users did: it needs GLIBC_2.36, provided.al2023
    has 2.34."""
    crate = copy_fixture("new_glibc")

    def make(stack):
        RustFunction(
            stack, "Fn", manifest_path=str(crate), architecture=lambda_.Architecture.X86_64
        )

    message = _synth_error(tmp_path / "cold", make)
    assert "[S/Fn] bootstrap (binary fx_new_glibc): needs GLIBC_2.36 (e.g. `arc4random`)" in (
        message
    )
    assert "but provided.al2023 has glibc 2.34" in message
    assert "`version GLIBC_2.36 not found`" in message
    assert "Fix: link against glibc 2.34" in message and "-C linker=" in message

    # The artifact is in the local store now: the warm synth builds nothing, and refuses it.
    caplog.clear()
    assert message == _synth_error(tmp_path / "warm", make)
    assert not [r for r in caplog.records if "building" in r.getMessage()]


def test_a_binary_for_another_architecture_is_refused(copy_fixture, tmp_path):
    """An arm64 function whose after-build hook put an x86_64 executable in its place."""
    crate = copy_fixture("single")
    hooks = CommandHooks(after_build=[f'cp {HOST_BINARY} "$OUTPUT_DIR/bootstrap"'])
    message = _synth_error(
        tmp_path / "cdk.out",
        lambda stack: RustFunction(
            stack,
            "Fn",
            manifest_path=str(crate),
            architecture=lambda_.Architecture.ARM_64,
            bundling=BundlingOptions(command_hooks=hooks),
        ),
    )
    assert (
        "[S/Fn] bootstrap (binary fx_single): is built for x86_64 (EM_X86_64), but the "
        "function runs on arm64 (EM_AARCH64)"
    ) in message
    assert "Fix: set architecture= to match the binary" in message
    assert "aarch64-unknown-linux-gnu" in message


def test_a_dynamic_binary_in_a_scratch_image_is_refused(copy_fixture, tmp_path):
    """A FROM-scratch image has no loader: the musl build's bootstrap, replaced by a dynamic
    glibc executable, would not start."""
    if not rust_std_installed(Target(lambda_arch="x86_64", musl=True), tmp_path):
        pytest.skip("no musl std for x86_64: rustup target add (scripts/setup-system.sh)")
    assert not linkage(Path(HOST_BINARY)).static
    crate = copy_fixture("single")
    hooks = CommandHooks(after_build=[f'cp {HOST_BINARY} "$OUTPUT_DIR/bootstrap"'])
    message = _synth_error(
        tmp_path / "cdk.out",
        lambda stack: RustDockerImageFunction(
            stack,
            "Img",
            manifest_path=str(crate),
            base_image=SCRATCH,
            architecture=lambda_.Architecture.X86_64,
            bundling=BundlingOptions(libc=Libc.MUSL, command_hooks=hooks),
        ),
    )
    interpreter = linkage(Path(HOST_BINARY)).interpreter
    assert (
        f"[S/Img] bootstrap (binary fx_single): is dynamically linked (loader {interpreter}; "
        "needs libc.so.6"
    ) in message
    assert "but a FROM-scratch image (no C library, no loader) has no loader" in message
    assert "Fix: build a static binary" in message
