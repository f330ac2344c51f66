"""Docker bundling: the docker argv composed for a real request (mounts, user, image, platform),
and a real Docker build that runs only where a Docker engine answers."""

import os
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import (
    DEFAULT_DOCKER_IMAGE,
    BundlingOptions,
    RustFunction,
    build,
    cargo,
    commands,
    toolchain,
)
from constructs_rust.build import BuildRequest
from constructs_rust.targets import Target, host_docker_platform
from constructs_rust.testing import LambdaEmulator, bootstrap_path


def _request(crate: Path, options: BundlingOptions) -> BuildRequest:
    manifest = cargo.normalize_manifest_path(str(crate))
    ws = cargo.load_workspace(manifest)
    package, binary = cargo.resolve_binary(ws, manifest, "fx_api")
    return BuildRequest(
        construct_path="S/Fn",
        workspace=ws,
        package=package,
        binary=binary,
        target=Target("arm64"),
        options=options,
        use_docker=True,
        fingerprint="f" * 64,
        asset_dir=Path("/nonexistent"),
    )


def test_docker_invocation_mounts_user_image_and_same_cargo_argv(
    copy_fixture, monkeypatch, tmp_path
):
    monkeypatch.setattr(toolchain, "docker_engine_problem", lambda: None)
    crate = copy_fixture("workspace")
    request = _request(crate, BundlingOptions(force_docker=True, environment={"FOO": "bar"}))
    out = request.workspace.target_dir / "constructs-rust" / "lambda-out" / "x"
    argv, _ = build.docker_invocation([request], out)
    assert argv[:3] == ["docker", "run", "--rm"]
    assert argv[argv.index("--platform") + 1] == host_docker_platform()  # native, no emulation
    assert argv[argv.index("--user") + 1] == f"{os.getuid()}:{os.getgid()}"
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "--mount"]
    ws = request.workspace.root
    assert (
        f"type=bind,source={ws},target=/workspace,readonly" in mounts
    )  # Cargo.lock exists: read-only
    assert f"type=bind,source={ws / 'target' / 'constructs-rust'},target=/constructs-rust" in mounts
    assert any(m.endswith("target=/cargo") and "docker-cargo" in m for m in mounts), (
        "cargo cache mounted"
    )
    env = [argv[i + 1] for i, a in enumerate(argv) if a == "--env"]
    assert "CARGO_HOME=/cargo" in env and "FOO=bar" in env
    assert "CARGO_TARGET_DIR=/constructs-rust/docker-target" in env
    image_at = argv.index(DEFAULT_DOCKER_IMAGE)
    inner = argv[image_at + 1 :]
    local = commands.cargo_lambda_build_argv(
        manifest_path="/workspace/Cargo.toml",
        target="aarch64-unknown-linux-gnu",
        profile="release",
        packages=["fx_api"],
        binaries=["fx_api"],
        lambda_dir="/constructs-rust/lambda-out/x",
    )
    assert ["cargo", *inner] == local, "Docker runs the very argv local bundling runs"


def test_docker_cache_can_be_turned_off(copy_fixture, monkeypatch):
    monkeypatch.setattr(toolchain, "docker_engine_problem", lambda: None)
    request = _request(
        copy_fixture("workspace"), BundlingOptions(force_docker=True, docker_cargo_cache=False)
    )
    argv, _ = build.docker_invocation(
        [request], request.workspace.target_dir / "constructs-rust" / "lambda-out" / "y"
    )
    assert not any(
        m.endswith("target=/cargo") for i, m in enumerate(argv) if argv[i - 1] == "--mount"
    )
    assert "CARGO_HOME=/tmp/cargo" in argv


def test_default_image_is_pinned():
    assert DEFAULT_DOCKER_IMAGE.startswith("ghcr.io/cargo-lambda/cargo-lambda:")
    tag = DEFAULT_DOCKER_IMAGE.rsplit(":", 1)[1]
    assert tag != "latest" and tag[0].isdigit()


@pytest.mark.docker
@pytest.mark.build
def test_real_docker_build_and_invoke(copy_fixture, tmp_path):
    problem = toolchain.docker_engine_problem()
    if problem:
        pytest.skip(f"needs a Docker engine: {problem}")
    crate = copy_fixture("workspace")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "S")
    fn = RustFunction(
        stack,
        "Fn",
        manifest_path=str(crate),
        binary_name="fx_api",
        architecture=lambda_.Architecture.X86_64,
        bundling=BundlingOptions(force_docker=True),
    )
    app.synth()
    path = bootstrap_path(fn)
    assert path.stat().st_uid == os.getuid(), "Docker bundling leaves no root-owned files"
    for p in (crate / "target").rglob("*"):
        assert p.stat().st_uid == os.getuid(), p
    with LambdaEmulator() as emulator:
        assert emulator.invoke(path, {"docker": True}).payload["input"] == {"docker": True}
