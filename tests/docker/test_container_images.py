"""RustDockerImageFunction on a real engine: ``docker build`` of the synthesized asset exactly
as the asset manifest records it (as cdk-assets runs it), then ``docker run`` of the image with
cargo-lambda's runtime API emulator as ``AWS_LAMBDA_RUNTIME_API``.

The pinned Lambda base image is digest-pinned (a local stand-in cannot match the digest), so
these tests pass the stand-in through ``base_image``; ``test_pinned_defaults_unchanged`` keeps
the real pins honest.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Dict

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import BundlingOptions
from constructs_rust.container import (
    DEFAULT_BASE_IMAGE,
    DEFAULT_BUILD_IMAGE,
    ContainerBuild,
    RustDockerImageFunction,
    prebuilt_bootstrap_path,
)
from constructs_rust.testing import LambdaEmulator
from tests.docker.engine import CARGO_LAMBDA_TAG, docker_cli

ARCHES = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}


def test_pinned_defaults_unchanged():
    """The tests build with stand-ins; the constructs keep pinning the real images."""
    assert DEFAULT_BASE_IMAGE.startswith("public.ecr.aws/lambda/provided:al2023.")
    assert "@sha256:" in DEFAULT_BASE_IMAGE
    assert DEFAULT_BUILD_IMAGE == CARGO_LAMBDA_TAG == "ghcr.io/cargo-lambda/cargo-lambda:1.9.2"


def _docker_build(engine, assembly: Path, source: dict, tag: str) -> None:
    """``docker build`` as cdk-assets runs it for an asset manifest entry (BuildKit)."""
    argv = ["build", "--tag", tag, "--platform", source["platform"]]
    if source.get("networkMode"):
        argv += ["--network", source["networkMode"]]
    for key, value in sorted(source.get("dockerBuildArgs", {}).items()):
        argv += ["--build-arg", f"{key}={value}"]
    if "dockerFile" in source:
        argv += ["--file", source["dockerFile"]]
    argv.append(".")
    engine.docker(*argv, cwd=assembly / source["directory"], env=engine.env(DOCKER_BUILDKIT="1"))


def _extract_bootstrap(engine, tag: str, dest: Path) -> bytes:
    container = engine.docker("create", tag).stdout.strip()
    try:
        engine.docker("cp", f"{container}:/var/runtime/bootstrap", str(dest))
    finally:
        engine.docker("rm", "--force", container, check=False)
    return dest.read_bytes()


def _run_image(engine, tag: str, platform: str, event: dict) -> dict:
    """The image's entrypoint hands over to bootstrap because AWS_LAMBDA_RUNTIME_API is set."""
    name = f"constructs-rust-test-{uuid.uuid4().hex[:12]}"
    with LambdaEmulator() as emulator, tempfile.TemporaryFile() as log:
        # cargo-lambda's emulator serves the runtime API under /.rt (host network: the
        # container reaches the host's 127.0.0.1).
        api = f"127.0.0.1:{emulator.port}/.rt"
        proc = subprocess.Popen(
            [
                docker_cli(),
                "run",
                "--rm",
                "--name",
                name,
                "--network",
                "host",
                "--platform",
                platform,
                "--env",
                f"AWS_LAMBDA_RUNTIME_API={api}",
                "--env",
                "AWS_LAMBDA_FUNCTION_NAME=_",
                tag,
            ],
            env=engine.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            raw = emulator._post(json.dumps(event).encode(), timeout=120)
        except Exception as exc:
            log.seek(0)
            raise AssertionError(f"the image did not answer ({exc}):\n{log.read()!r}") from None
        finally:
            # bootstrap is the container's PID 1 and ignores SIGTERM: remove the container.
            engine.docker("rm", "--force", name, check=False)
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return json.loads(raw)


@pytest.mark.docker
@pytest.mark.build
@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_prebuilt_and_in_docker_images_build_run_and_match(
    docker_engine, docker_standins, arm64_binfmt, copy_fixture, tmp_path, arch
):
    crate = copy_fixture("registry_dep")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "S")
    base = docker_standins.provided["arm64" if arch == "arm64" else "amd64"]
    # PREBUILT through Docker bundling: the same cargo-lambda image as IN_DOCKER's build stage.
    bundling = BundlingOptions(force_docker=True, docker_network="host")
    fns: Dict[ContainerBuild, RustDockerImageFunction] = {
        ContainerBuild.PREBUILT: RustDockerImageFunction(
            stack,
            "Prebuilt",
            manifest_path=str(crate),
            architecture=ARCHES[arch],
            base_image=base,
            bundling=bundling,
        ),
        ContainerBuild.IN_DOCKER: RustDockerImageFunction(
            stack,
            "InDocker",
            manifest_path=str(crate),
            architecture=ARCHES[arch],
            build=ContainerBuild.IN_DOCKER,
            base_image=base,
            bundling=BundlingOptions(docker_network="host"),
        ),
    }
    assembly = Path(app.synth().directory)
    entries = json.loads((assembly / "S.assets.json").read_text())["dockerImages"]
    by_dir = {entry["source"]["directory"]: entry["source"] for entry in entries.values()}
    prebuilt_context = fns[ContainerBuild.PREBUILT].staged_context
    for name in ("Dockerfile", ".dockerignore"):  # readable like any file the user writes
        mode = stat.S_IMODE((prebuilt_context / name).stat().st_mode)
        assert mode & 0o044 == 0o044, (name, oct(mode))

    problem = arm64_binfmt.problem if arch == "arm64" else ""
    bootstraps = {}
    sizes = {}
    for mode, fn in fns.items():
        source = by_dir[fn.staged_context.name]
        assert source["networkMode"] == "host"
        tag = f"constructs-rust-test/{mode.value}-{arch}:{uuid.uuid4().hex[:8]}"
        _docker_build(docker_engine, assembly, source, tag)
        try:
            inspect = json.loads(docker_engine.docker("image", "inspect", tag).stdout)[0]
            assert inspect["Architecture"] == ("arm64" if arch == "arm64" else "amd64")
            assert inspect["Config"]["Entrypoint"] == ["/lambda-entrypoint.sh"]
            assert inspect["Config"]["Cmd"] == ["bootstrap"]
            sizes[mode.value] = inspect["Size"]
            bootstraps[mode] = _extract_bootstrap(docker_engine, tag, tmp_path / f"{mode.value}")
            if not problem:
                payload = _run_image(docker_engine, tag, source["platform"], {"n": "123"})
                assert payload["layout"] == "registry" and payload["digits"] == 3, payload
        finally:
            docker_engine.docker("rmi", "--force", tag, check=False)
    print(f"\n[docker] {arch} image sizes: {sizes}")

    prebuilt = prebuilt_bootstrap_path(fns[ContainerBuild.PREBUILT]).read_bytes()
    assert bootstraps[ContainerBuild.PREBUILT] == prebuilt
    # Same image, argv, flags and remaps: IN_DOCKER and PREBUILT ship identical bytes.
    assert b"/usr/local/cargo" not in bootstraps[ContainerBuild.IN_DOCKER]
    assert bootstraps[ContainerBuild.IN_DOCKER] == prebuilt
    assert os.access(tmp_path / "prebuilt", os.X_OK)
    if problem:
        pytest.skip(f"{arch} images built and compared, but not run: {problem}")


@pytest.mark.docker
def test_in_docker_build_rejects_unsupported_platform(
    docker_engine, docker_standins, copy_fixture, tmp_path
):
    crate = copy_fixture("registry_dep")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "S")
    RustDockerImageFunction(
        stack,
        "Fn",
        manifest_path=str(crate),
        build=ContainerBuild.IN_DOCKER,
        base_image=docker_standins.provided["amd64"],
    )
    assembly = Path(app.synth().directory)
    (entry,) = json.loads((assembly / "S.assets.json").read_text())["dockerImages"].values()
    source = dict(entry["source"], platform="linux/s390x")
    # Only the build stage (it runs on the build platform), so the runtime base image's
    # platforms cannot fail the build first.
    # --network host: the test engine has no bridge, and the RUN step must really run.
    argv = ["build", "--network", "host", "--platform", "linux/s390x", "--target", "build"]
    argv += ["--file"]
    argv += [source["dockerFile"], "--tag", f"constructs-rust-test/s390x:{uuid.uuid4().hex[:8]}"]
    for key, value in sorted(source["dockerBuildArgs"].items()):
        argv += ["--build-arg", f"{key}={value}"]
    proc = docker_engine.docker(
        *argv,
        ".",
        check=False,
        cwd=assembly / source["directory"],
        env=docker_engine.env(DOCKER_BUILDKIT="1"),
    )
    assert proc.returncode != 0
    assert "unsupported TARGETPLATFORM 'linux/s390x'" in proc.stdout + proc.stderr
