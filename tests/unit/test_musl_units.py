"""The libc choice: target triples, hash lines, preflight, the argv in and out of Docker."""

import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import BundlingOptions, ConfigurationError, Libc
from constructs_rust._build import commands
from constructs_rust._cargo import toolchain
from constructs_rust._cargo.targets import Target, resolve_target, target_for_platform
from constructs_rust._fingerprint.lines import build_settings, standin
from constructs_rust.errors import ToolchainError


def test_musl_targets_for_both_architectures_and_any_runtime():
    musl = BundlingOptions(libc=Libc.MUSL)
    assert musl.musl and not BundlingOptions().musl
    arm = resolve_target(lambda_.Architecture.ARM_64, lambda_.Runtime.PROVIDED_AL2023, musl=True)
    assert arm.triple == arm.cargo_lambda_target == "aarch64-unknown-linux-musl"
    # provided.al2's glibc pin means nothing to a static binary
    x86 = resolve_target(lambda_.Architecture.X86_64, lambda_.Runtime.PROVIDED_AL2, musl=True)
    assert x86.cargo_lambda_target == "x86_64-unknown-linux-musl" and x86.glibc is None
    assert x86.docker_platform == "linux/amd64" and x86.target_cpu == "haswell"
    assert target_for_platform("linux/arm64", musl=True).triple == "aarch64-unknown-linux-musl"
    assert Target("x86_64").triple == "x86_64-unknown-linux-gnu"


def test_libc_is_its_own_hash_line_and_glibc_lines_are_unchanged():
    glibc = build_settings(BundlingOptions(), Target("arm64"), use_docker=False)
    musl = build_settings(
        BundlingOptions(libc=Libc.MUSL), Target("arm64", musl=True), use_docker=False
    )
    assert "libc=musl" in musl and "target=aarch64-unknown-linux-musl" in musl
    assert not any(s.startswith("libc=") for s in glibc), "upgrading redeploys no glibc function"
    assert set(musl) - set(glibc) == {"libc=musl", "target=aarch64-unknown-linux-musl"}
    a = standin(binary_name="b", options=BundlingOptions(), target=Target("arm64"), kind=[])
    b = standin(
        binary_name="b",
        options=BundlingOptions(libc=Libc.MUSL),
        target=Target("arm64", musl=True),
        kind=[],
    )
    assert a != b


def test_libc_must_be_a_libc():
    with pytest.raises(ConfigurationError, match="bundling.libc"):
        BundlingOptions(libc="musl").validate()  # type: ignore[arg-type]


def test_missing_musl_std_is_a_preflight_error_naming_the_command(monkeypatch, tmp_path):
    monkeypatch.setattr(toolchain, "rust_std_installed", lambda target, cwd: False)
    monkeypatch.setattr(toolchain, "find_cargo_lambda", lambda: "/x/cargo-lambda")
    monkeypatch.setattr(toolchain, "find_zig", lambda: toolchain.Zig(version="z"))
    with pytest.raises(ToolchainError) as info:
        toolchain.preflight_local(Target("x86_64", musl=True), tmp_path)
    assert "rustup target add x86_64-unknown-linux-musl" in str(info.value)


def test_target_check_is_skipped_unless_asked():
    def argv(**kw):
        return commands.cargo_lambda_build_argv(
            manifest_path="Cargo.toml",
            target="x86_64-unknown-linux-musl",
            profile="release",
            packages=["p"],
            binaries=["b"],
            lambda_dir="out",
            **kw,
        )

    assert "--skip-target-check" in argv()
    assert "--skip-target-check" not in argv(skip_target_check=False)
    assert argv()[argv().index("--target") + 1] == "x86_64-unknown-linux-musl"
