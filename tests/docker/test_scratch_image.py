"""The REAL FROM-scratch image (no stand-in: ``scratch`` needs no registry): a musl bootstrap
built locally, ``docker build`` of the asset as cdk-assets runs it, the image's files listed
from ``docker save``, then ``docker run`` against cargo-lambda's runtime API emulator and
invoked, x86_64 and (where binfmt has qemu-aarch64) arm64."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path

import aws_cdk as cdk
import certifi
import pytest

from constructs_rust import SCRATCH, BundlingOptions, Libc
from constructs_rust._cargo.targets import Target
from constructs_rust._cargo.toolchain import rust_std_installed
from constructs_rust.container import RustDockerImageFunction, prebuilt_bootstrap_path
from tests.docker.test_container_images import ARCHES, _docker_build, _run_image
from tests.elf import linkage


def _image_files(engine, tag: str, tmp_path: Path) -> dict:
    """Every file of the image's layers (path → bytes), from ``docker save``."""
    saved = tmp_path / f"{uuid.uuid4().hex}.tar"
    engine.docker("save", "--output", str(saved), tag)
    files = {}
    with tarfile.open(saved) as image:
        manifest = json.load(image.extractfile("manifest.json"))
        for layer_name in manifest[0]["Layers"]:
            with tarfile.open(fileobj=io.BytesIO(image.extractfile(layer_name).read())) as layer:
                for member in layer.getmembers():
                    if member.isfile():
                        files["/" + member.name.lstrip("./")] = layer.extractfile(member).read()
    return files


@pytest.mark.docker
@pytest.mark.build
@pytest.mark.invoke
@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_scratch_image_builds_runs_and_holds_only_bootstrap_and_certs(
    docker_engine, arm64_binfmt, copy_fixture, tmp_path, arch
):
    if not rust_std_installed(Target(arch, musl=True), tmp_path):
        pytest.skip(f"no musl std for {arch}: rustup target add (scripts/setup-system.sh)")
    crate = copy_fixture("registry_dep")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "S")
    fn = RustDockerImageFunction(
        stack,
        "Scratch",
        manifest_path=str(crate),
        architecture=ARCHES[arch],
        base_image=SCRATCH,
        bundling=BundlingOptions(libc=Libc.MUSL, docker_network="host"),
    )
    assembly = Path(app.synth().directory)
    (entry,) = json.loads((assembly / "S.assets.json").read_text())["dockerImages"].values()
    source = entry["source"]
    tag = f"constructs-rust-test/scratch-{arch}:{uuid.uuid4().hex[:8]}"
    _docker_build(docker_engine, assembly, source, tag)
    try:
        inspect = json.loads(docker_engine.docker("image", "inspect", tag).stdout)[0]
        assert inspect["Architecture"] == ("arm64" if arch == "arm64" else "amd64")
        assert inspect["Config"]["Entrypoint"] == ["/bootstrap"]
        files = _image_files(docker_engine, tag, tmp_path)
        assert sorted(files) == ["/bootstrap", "/etc/ssl/certs/ca-certificates.crt"], sorted(files)
        bootstrap = prebuilt_bootstrap_path(fn)
        assert files["/bootstrap"] == bootstrap.read_bytes()
        assert linkage(bootstrap).static
        assert files["/etc/ssl/certs/ca-certificates.crt"] == Path(certifi.where()).read_bytes()
        print(f"\n[docker] scratch image {arch}: {inspect['Size']} bytes")
        problem = arm64_binfmt.problem if arch == "arm64" else ""
        if problem:
            pytest.skip(f"{arch} scratch image built and checked, but not run: {problem}")
        payload = _run_image(docker_engine, tag, source["platform"], {"n": "123"})
        assert payload["layout"] == "registry" and payload["digits"] == 3, payload
    finally:
        docker_engine.docker("rmi", "--force", tag, check=False)
