"""``bundling_file_access=VOLUME_COPY`` on the real test engine (the session's private dockerd
and the local stand-in of the pinned cargo-lambda image): the build sees the workspace and an
env file's variable although no host path is mounted, what it read comes back (the env line
joins the inputs), the per-run volumes and helper container are removed, a warm synth runs no
container, and a bind-mount build of the same inputs gives the same bytes."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import BundlingOptions, RustFunction
from constructs_rust._support import processes as runner
from constructs_rust.testing import bootstrap_path

from .test_docker_bundling import _containers_created
from .test_docker_env_and_mounts import _crate

pytestmark = [pytest.mark.docker, pytest.mark.build]


def _synth(crate: Path, outdir: Path, **bundling) -> Tuple[str, Path]:
    app = cdk.App(outdir=str(outdir))
    fn = RustFunction(
        cdk.Stack(app, "S"),
        "Fn",
        manifest_path=str(crate),
        architecture=lambda_.Architecture.X86_64,
        bundling=BundlingOptions(force_docker=True, **bundling),
    )
    app.synth()
    return fn.node.find_child("Code").asset_hash, bootstrap_path(fn)


def _volumes(engine) -> List[str]:
    return engine.docker("volume", "ls", "--format", "{{.Name}}").stdout.split()


def test_volume_copy_builds_without_bind_mounts_and_matches_a_bind_mount_build(
    docker_engine, docker_standins, tmp_path, monkeypatch, capfd
):
    monkeypatch.delenv("CRT_SECRET", raising=False)
    monkeypatch.setenv("CONSTRUCTS_RUST_EXPLAIN", "1")
    crate = _crate(tmp_path / "crate")
    env_file = tmp_path / "build.env"
    env_file.write_text("CRT_SECRET=from-the-env-file\n")
    runs: List[List[str]] = []
    real = runner.stream

    def recording(argv: Sequence[str], *, env: Dict[str, str], **kwargs):
        runs.append(list(argv))
        return real(argv, env=env, **kwargs)

    monkeypatch.setattr(runner, "stream", recording)
    volumes_before = set(_volumes(docker_engine))
    copy = dict(
        bundling_file_access=cdk.BundlingFileAccess.VOLUME_COPY, docker_env_files=[str(env_file)]
    )
    t0 = time.time()
    hash_copy, boot = _synth(crate, tmp_path / "out-copy", **copy)
    seconds = time.time() - t0
    err = capfd.readouterr().err
    printed = subprocess.run([str(boot)], capture_output=True, text=True, env={}).stdout.strip()
    assert printed == "from-the-env-file", "the container saw the env file's variable"
    copied_bytes = boot.read_bytes()
    [argv] = [r for r in runs if r[:2] == ["docker", "run"]]
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "--mount"]
    assert mounts and all(m.startswith("type=volume,") for m in mounts), mounts
    assert not any(str(tmp_path) in a for a in argv), "no host path given to the engine"
    assert "from-the-env-file" not in " ".join(argv)
    # cargo's dep-info came back: the option_env! variable is an input (as a digest)
    assert "fingerprint input: env CRT_SECRET=sha256:" in err, err[-3000:]
    left = set(_volumes(docker_engine)) - volumes_before
    assert all(v.startswith(("constructs-rust-build-", "constructs-rust-cargo-home")) for v in left)
    helpers = docker_engine.docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert not any(h.startswith("constructs-rust-") for h in helpers), helpers

    # Warm, even after rm -rf cdk.out: no container at all.
    shutil.rmtree(tmp_path / "out-copy")
    t1 = time.time()
    assert _synth(crate, tmp_path / "out-copy2", **copy)[0] == hash_copy
    assert _containers_created(docker_engine, t1) == 0

    # The same inputs bind-mounted: the same hash, and (built again) the same bytes.
    shutil.rmtree(crate / "target" / "constructs-rust" / "artifacts")
    hash_bind, boot_bind = _synth(crate, tmp_path / "out-bind", docker_env_files=[str(env_file)])
    assert hash_bind == hash_copy
    assert boot_bind.read_bytes() == copied_bytes
    print(f"VOLUME_COPY cold build of a one-file crate: {seconds:.1f} s (shared machine)")
