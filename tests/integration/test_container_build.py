"""RustDockerImageFunction built for real.

* PREBUILT: the bootstrap is compiled by the same queue as RustFunction, lands in the staged
  image context and answers through cargo-lambda's emulator (no Docker needed).
* ``@pytest.mark.docker``: ``docker build`` of both modes exactly as the CDK CLI would (from the
  asset manifest entry) and ``docker run`` of the image answering an invoke through the Lambda
  RIE in the provided base image. Skipped, with the reason, when no Docker engine answers.
"""

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import RustFunction
from constructs_rust.build import artifact_dir
from constructs_rust.container import (
    ContainerBuild,
    RustDockerImageFunction,
    prebuilt_bootstrap_path,
)
from constructs_rust.testing import (
    EmulationUnavailable,
    LambdaEmulator,
    bootstrap_path,
    free_port,
    host_arch,
)
from constructs_rust.toolchain import docker_engine_problem


def _assets(assembly_dir: Path, stack: str) -> dict:
    return json.loads((assembly_dir / f"{stack}.assets.json").read_text())["dockerImages"]


@pytest.mark.build
@pytest.mark.invoke
def test_prebuilt_bootstrap_is_rust_functions_and_answers(copy_fixture, tmp_path, capfd):
    crate = copy_fixture("single")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "S")
    zip_fn = RustFunction(stack, "Zip", manifest_path=str(crate))  # arm64 default, like the image
    image_fn = RustDockerImageFunction(stack, "Image", manifest_path=str(crate))
    assembly = app.synth()
    building = [
        line
        for line in capfd.readouterr().err.splitlines()
        if line.startswith("constructs_rust: building")
    ]
    assert len(building) == 1, building  # one cargo run serves both functions

    bootstrap = prebuilt_bootstrap_path(image_fn)
    assert bootstrap.read_bytes() == bootstrap_path(zip_fn).read_bytes()
    assert bootstrap.read_bytes()[18] == 0xB7, "ELF e_machine must be EM_AARCH64"
    assert os.access(bootstrap, os.X_OK)
    assert sorted(os.listdir(image_fn.staged_context)) == [
        ".dockerignore",
        "Dockerfile",
        "bootstrap",
    ]

    # The label's fingerprint is the artifact the bootstrap came from.
    label = re.search(
        r'fingerprint="([0-9a-f]{64})"', (image_fn.staged_context / "Dockerfile").read_text()
    )
    assert (
        label
        and (artifact_dir_of(crate, label.group(1)) / "bootstrap").read_bytes()
        == bootstrap.read_bytes()
    )

    (entry,) = _assets(Path(assembly.directory), "S").values()
    assert entry["source"] == {"directory": image_fn.staged_context.name, "platform": "linux/arm64"}

    with LambdaEmulator() as emulator:
        try:
            result = emulator.invoke(bootstrap, {"from": "image"}, architecture="arm64")
        except EmulationUnavailable as exc:
            pytest.skip(str(exc))
    assert result.payload == {"layout": "single", "bin": "fx_single", "input": {"from": "image"}}


def artifact_dir_of(crate: Path, fingerprint: str) -> Path:
    from constructs_rust import cargo

    return artifact_dir(cargo.load_workspace(crate / "Cargo.toml"), fingerprint)


# ----------------------------------------------------------------------------- Docker engine

_ENGINE_PROBLEM = docker_engine_problem()
docker_only = pytest.mark.skipif(
    _ENGINE_PROBLEM is not None, reason=f"needs a Docker engine: {_ENGINE_PROBLEM}"
)


def _self_contained(crate: Path) -> Path:
    """Fixture crates include ../../mini_runtime.rs; an IN_DOCKER context is the crate itself."""
    shutil_copy = (crate.parent / "mini_runtime.rs").read_text()
    (crate / "src" / "mini_runtime.rs").write_text(shutil_copy)
    main = crate / "src" / "main.rs"
    main.write_text(
        main.read_text().replace('#[path = "../../mini_runtime.rs"]', '#[path = "mini_runtime.rs"]')
    )
    return crate


def _docker_build(
    assembly_dir: Path, source: dict, tag: str, *extra: str
) -> subprocess.CompletedProcess:
    """``docker build`` as cdk-assets runs it for an asset manifest entry."""
    argv = ["docker", "build", "--tag", tag, "--platform", source["platform"]]
    for key, value in sorted(source.get("dockerBuildArgs", {}).items()):
        argv += ["--build-arg", f"{key}={value}"]
    if "dockerFile" in source:
        argv += ["--file", source["dockerFile"]]
    argv += [*extra, "."]
    return subprocess.run(
        argv,
        cwd=assembly_dir / source["directory"],
        capture_output=True,
        text=True,
        timeout=1800,
        env=dict(os.environ, DOCKER_BUILDKIT="1"),
    )


def _invoke_image(tag: str, platform: str, event: dict) -> dict:
    """Run the image (its RIE answers on 8080) and send one invoke; always removes the container."""
    port = free_port()
    container = subprocess.run(
        [
            "docker",
            "run",
            "--detach",
            "--platform",
            platform,
            "--publish",
            f"127.0.0.1:{port}:8080",
            tag,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
        deadline = time.monotonic() + 60
        while True:
            request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.loads(response.read())
            except (urllib.error.URLError, ConnectionError) as exc:
                if time.monotonic() > deadline:
                    logs = subprocess.run(
                        ["docker", "logs", container], capture_output=True, text=True
                    )
                    raise AssertionError(
                        f"the image never answered:\n{logs.stdout}{logs.stderr}"
                    ) from exc
                time.sleep(0.5)
    finally:
        subprocess.run(["docker", "rm", "--force", container], capture_output=True)


def _host_architecture() -> lambda_.Architecture:
    return lambda_.Architecture.ARM_64 if host_arch() == "arm64" else lambda_.Architecture.X86_64


@pytest.mark.docker
@pytest.mark.build
@docker_only
@pytest.mark.parametrize("mode", [ContainerBuild.PREBUILT, ContainerBuild.IN_DOCKER])
def test_docker_build_and_run_answers(copy_fixture, tmp_path, mode):
    crate = _self_contained(copy_fixture("single"))
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "S")
    architecture = _host_architecture()  # run natively: no binfmt emulation needed in the engine
    fn = RustDockerImageFunction(
        stack, "Fn", manifest_path=str(crate), architecture=architecture, build=mode
    )
    assembly = app.synth()
    (entry,) = _assets(Path(assembly.directory), "S").values()
    tag = f"constructs-rust-test:{uuid.uuid4().hex[:12]}"
    proc = _docker_build(Path(assembly.directory), entry["source"], tag)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        payload = _invoke_image(tag, entry["source"]["platform"], {"mode": mode.value})
        assert payload == {"layout": "single", "bin": "fx_single", "input": {"mode": mode.value}}
        if mode is ContainerBuild.PREBUILT:
            assert fn.binary_name == "fx_single"
    finally:
        subprocess.run(["docker", "rmi", "--force", tag], capture_output=True)


@pytest.mark.docker
@docker_only
def test_docker_in_docker_build_rejects_unsupported_platform(copy_fixture, tmp_path):
    crate = _self_contained(copy_fixture("single"))
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "S")
    RustDockerImageFunction(stack, "Fn", manifest_path=str(crate), build=ContainerBuild.IN_DOCKER)
    assembly = app.synth()
    (entry,) = _assets(Path(assembly.directory), "S").values()
    source = dict(entry["source"], platform="linux/s390x")
    # Only the build stage (it runs on the build platform), so the runtime base image's
    # platforms cannot fail the build first.
    proc = _docker_build(
        Path(assembly.directory),
        source,
        f"constructs-rust-test:{uuid.uuid4().hex[:12]}",
        "--target",
        "build",
    )
    assert proc.returncode != 0
    assert "unsupported TARGETPLATFORM 'linux/s390x'" in proc.stdout + proc.stderr
