"""RustDockerImageFunction built for real.

* PREBUILT: the bootstrap is compiled by the same queue as RustFunction, lands in the staged
  image context and answers through cargo-lambda's emulator (no Docker needed).
* On a real engine (``docker build`` + ``docker run`` of both modes): tests/docker/.
"""

import json
import os
import re
from pathlib import Path

import aws_cdk as cdk
import pytest

from constructs_rust import RustFunction
from constructs_rust._build.request import artifact_dir
from constructs_rust.container import RustDockerImageFunction, prebuilt_bootstrap_path
from constructs_rust.testing import EmulationUnavailable, LambdaEmulator, bootstrap_path


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
    from constructs_rust._cargo import metadata as cargo

    return artifact_dir(cargo.load_workspace(crate / "Cargo.toml"), fingerprint)
