"""Docker bundling: the docker argv composed for a real request (mounts, user, image, platform),
and a real Docker build that runs only where a Docker engine answers."""

import os
from dataclasses import replace
from pathlib import Path

import aws_cdk as cdk
import pytest

from constructs_rust import DEFAULT_DOCKER_IMAGE, BundlingOptions
from constructs_rust._build import commands, failure, invoke
from constructs_rust._build.request import BuildRequest
from constructs_rust._cargo import metadata as cargo
from constructs_rust._cargo import toolchain
from constructs_rust._cargo.depgraph import Graph
from constructs_rust._cargo.targets import Target, host_docker_platform
from constructs_rust._fingerprint.inputs import Inputs
from constructs_rust.errors import ConfigurationError


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
        inputs=Inputs(static=("f",)),
        slot="s",
        graph=Graph(nodes=()),
        asset_dir=Path("/nonexistent"),
    )


def test_docker_invocation_mounts_user_image_and_same_cargo_argv(
    copy_fixture, monkeypatch, tmp_path
):
    monkeypatch.setattr(toolchain, "docker_engine_problem", lambda: None)
    crate = copy_fixture("workspace")
    request = _request(crate, BundlingOptions(force_docker=True, environment={"FOO": "bar"}))
    out = request.workspace.target_dir / "constructs-rust" / "lambda-out" / "x"
    argv, env = invoke.docker_invocation([request], out)
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
    # Variables go by name; the docker CLI takes their values from its environment (issue 20).
    names = [argv[i + 1] for i, a in enumerate(argv) if a == "--env"]
    assert {"CARGO_HOME", "FOO", "CARGO_TARGET_DIR"} <= set(names)
    assert env["CARGO_HOME"] == "/cargo" and env["FOO"] == "bar"
    assert env["CARGO_TARGET_DIR"] == "/constructs-rust/docker-target"
    image_at = argv.index(DEFAULT_DOCKER_IMAGE)
    inner = argv[image_at + 1 :]
    local = commands.cargo_lambda_build_argv(
        manifest_path="/workspace/Cargo.toml",
        target="aarch64-unknown-linux-gnu",
        profile="release",
        packages=["fx_api"],
        binaries=["fx_api"],
        lambda_dir="/constructs-rust/lambda-out/x",
        workspace=True,
    )
    assert ["cargo", *inner] == local, "Docker runs the very argv local bundling runs"
    assert "--workspace" in local and "--package" not in local, "features unified as at the root"


def test_docker_cache_can_be_turned_off(copy_fixture, monkeypatch):
    monkeypatch.setattr(toolchain, "docker_engine_problem", lambda: None)
    request = _request(
        copy_fixture("workspace"), BundlingOptions(force_docker=True, docker_cargo_cache=False)
    )
    argv, env = invoke.docker_invocation(
        [request], request.workspace.target_dir / "constructs-rust" / "lambda-out" / "y"
    )
    assert not any(
        m.endswith("target=/cargo") for i, m in enumerate(argv) if argv[i - 1] == "--mount"
    )
    assert env["CARGO_HOME"] == "/tmp/cargo" and "CARGO_HOME" in argv
    # the scratch cargo home is recorded as /cargo, as with the cache mounted
    assert "--remap-path-prefix=/tmp/cargo=/cargo" in env["CARGO_ENCODED_RUSTFLAGS"].split("\x1f")
    assert env["ZIG_GLOBAL_CACHE_DIR"].startswith("/constructs-rust/")


def test_docker_network_is_passed_and_groups_apart(copy_fixture, monkeypatch):
    monkeypatch.setattr(toolchain, "docker_engine_problem", lambda: None)
    crate = copy_fixture("workspace")
    host = _request(crate, BundlingOptions(force_docker=True, docker_network="host"))
    default = _request(crate, BundlingOptions(force_docker=True))
    argv, _ = invoke.docker_invocation([host], crate / "target" / "constructs-rust" / "x")
    assert argv[argv.index("--network") + 1] == "host"
    argv, _ = invoke.docker_invocation([default], crate / "target" / "constructs-rust" / "x")
    assert "--network" not in argv
    assert host.group_key != default.group_key and host.fingerprint == default.fingerprint
    with pytest.raises(ConfigurationError, match="bundling.docker_network"):
        BundlingOptions(docker_network="host; rm -rf /").validate()


def _outside_workspace(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "outside" / "src").mkdir(parents=True)
    (root / "outside" / "Cargo.toml").write_text(
        '[package]\nname = "outside"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (root / "outside" / "src" / "lib.rs").write_text("")
    ws = root / "ws"
    (ws / "app" / "src").mkdir(parents=True)
    (ws / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["app"]\n')
    (ws / "app" / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[dependencies]\noutside = { path = "../../outside" }\n'
    )
    (ws / "app" / "src" / "main.rs").write_text("fn main() {}\n")
    return ws


def test_path_dependency_outside_workspace_is_detected_before_docker(tmp_path, monkeypatch):
    monkeypatch.setattr(
        toolchain, "docker_engine_problem", lambda: pytest.fail("checked before the engine")
    )
    ws = _outside_workspace(tmp_path)
    workspace = cargo.load_workspace(ws / "app" / "Cargo.toml")
    assert workspace.outside_roots() == [tmp_path / "repo" / "outside"]
    package, binary = cargo.resolve_binary(workspace, ws / "app" / "Cargo.toml", None)
    request = BuildRequest(
        construct_path="S/Fn",
        workspace=workspace,
        package=package,
        binary=binary,
        target=Target("x86_64"),
        options=BundlingOptions(force_docker=True),
        use_docker=True,
        inputs=Inputs(static=("f",)),
        slot="s",
        graph=Graph(nodes=()),
        asset_dir=Path("/nonexistent"),
    )
    with pytest.raises(ConfigurationError) as info:
        invoke.docker_invocation([request], workspace.target_dir / "constructs-rust" / "x")
    message = str(info.value)
    assert message.startswith("[S/Fn] manifest_path=")
    assert "outside the workspace root" in message and str(tmp_path / "repo" / "outside") in message


def test_in_docker_rejects_path_dependency_outside_context_at_construct_time(tmp_path):
    from constructs_rust.container import ContainerBuild, RustDockerImageFunction

    ws = _outside_workspace(tmp_path)
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(ConfigurationError, match=r"\[S/Img\].*outside the workspace root"):
        RustDockerImageFunction(
            stack, "Img", manifest_path=str(ws / "app"), build=ContainerBuild.IN_DOCKER
        )


def test_default_image_is_pinned():
    assert DEFAULT_DOCKER_IMAGE.startswith("ghcr.io/cargo-lambda/cargo-lambda:")
    tag = DEFAULT_DOCKER_IMAGE.rsplit(":", 1)[1]
    assert tag != "latest" and tag[0].isdigit()


def test_failure_messages_tell_docker_apart_and_hint_at_files_outside_the_mount(copy_fixture):
    """What a real engine printed (an image that cannot be pulled; the old workspace fixture's
    #[path] reaching outside the workspace root) → messages that say so."""
    request = _request(copy_fixture("workspace"), BundlingOptions(force_docker=True))
    pulled = failure.build_failure(
        [request], 125, ["docker: Error response from daemon: pull access denied\n"]
    )
    assert "`docker run` failed (exit 125)" in str(pulled) and "cargo printed" not in str(pulled)
    outside = failure.build_failure(
        [request],
        101,
        [
            "error: couldn't read `/workspace/members/shared/src/../../../../mini_runtime.rs`: "
            "No such file or directory (os error 2)\n"
        ],
    )
    assert "fix the error cargo printed above" in str(outside)
    assert "#[path], include!() or include_str!() reaching outside it" in str(outside)
    local = failure.build_failure([replace(request, use_docker=False)], 125, ["error[E0425]\n"])
    assert "cargo lambda build failed (exit 125)" in str(local)


def test_musl_in_the_build_image_lets_cargo_lambda_add_the_std(copy_fixture, monkeypatch):
    """The pinned image carries only the -gnu std: for musl, cargo-lambda's own target check
    (``rustup target add`` in the container) runs; for glibc it stays skipped."""
    from constructs_rust import Libc

    monkeypatch.setattr(toolchain, "docker_engine_problem", lambda: None)
    crate = copy_fixture("workspace")
    request = replace(
        _request(crate, BundlingOptions(force_docker=True, libc=Libc.MUSL)),
        target=Target("arm64", musl=True),
    )
    argv, _ = invoke.docker_invocation([request], crate / "target" / "constructs-rust" / "m")
    assert argv[argv.index("--target") + 1] == "aarch64-unknown-linux-musl"
    assert "--skip-target-check" not in argv
    glibc = _request(crate, BundlingOptions(force_docker=True))
    argv, _ = invoke.docker_invocation([glibc], crate / "target" / "constructs-rust" / "m")
    assert "--skip-target-check" in argv
