"""Docker bundling on a real engine (the session's private dockerd and the local stand-in of
the pinned cargo-lambda image, tests/docker/engine.py).

The engine has no bridge network (it changes nothing on the host), so builds that download
crates use ``BundlingOptions(docker_network="host")``; the rest run on Docker's default.
"""

from __future__ import annotations

import grp
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import BundlingOptions, RustFunction
from constructs_rust.testing import EmulationUnavailable, LambdaEmulator, bootstrap_path

pytestmark = [pytest.mark.docker, pytest.mark.build]

ROOT = Path(__file__).resolve().parents[2]
NONROOT_CACHE = Path("/var/tmp/constructs-rust-tests-nonroot")


def _tree(directory: Path) -> Dict[str, str]:
    """Every file outside target/ → its sha256 (what a read-only workspace must keep)."""
    out = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if rel.parts[0] == "target" or not path.is_file():
            continue
        out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _containers_created(engine, since: float) -> int:
    proc = engine.docker(
        "events",
        "--since",
        f"{since:.3f}",
        "--until",
        f"{time.time():.3f}",
        "--filter",
        "type=container",
        "--filter",
        "event=create",
        "--format",
        "{{.ID}}",
    )
    return len(proc.stdout.split())


def _building_lines(err: str):
    return [line for line in err.splitlines() if line.startswith("constructs_rust: building")]


def _workspace_app(crate: Path, outdir: Path, **bundling) -> tuple:
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "S")
    options = BundlingOptions(force_docker=True, **bundling)
    api = RustFunction(
        stack,
        "Api",
        manifest_path=str(crate / "members" / "api"),
        architecture=lambda_.Architecture.X86_64,
        bundling=options,
    )
    worker = RustFunction(
        stack,
        "Worker",
        manifest_path=str(crate / "members" / "worker"),
        architecture=lambda_.Architecture.ARM_64,
        bundling=options,
    )
    return app, api, worker


def test_workspace_both_architectures_readonly_owned_and_warm(
    docker_engine, docker_standins, copy_fixture, tmp_path, capfd
):
    crate = copy_fixture("workspace")
    before = _tree(crate)
    t0 = time.time()
    app, api, worker = _workspace_app(crate, tmp_path / "cdk.out")
    app.synth()
    err = capfd.readouterr().err
    assert len(_building_lines(err)) == 2, err  # one cargo run per target
    assert _containers_created(docker_engine, t0) == 2

    for fn, machine, arch in ((api, 0x3E, "x86_64"), (worker, 0xB7, "arm64")):
        data = bootstrap_path(fn).read_bytes()
        assert data[:4] == b"\x7fELF" and data[18] == machine, fn.node.path
        assert str(crate).encode() not in data, "no host path in the binary"
        with LambdaEmulator() as emulator:
            try:
                result = emulator.invoke(bootstrap_path(fn), {"docker": arch}, architecture=arch)
            except EmulationUnavailable as exc:
                pytest.skip(str(exc))
        # members/api and members/worker use members/shared (a sibling path dependency)
        assert result.payload["greeting"] == "hello from fx_shared"
        assert result.payload["input"] == {"docker": arch}

    # The container ran as the invoking user: nothing root-owned (or foreign) left behind.
    for path in [crate / "target", *(crate / "target").rglob("*")]:
        assert path.stat().st_uid == os.getuid(), path
    # The workspace (it has a Cargo.lock) was mounted read-only: not one file changed or added.
    assert _tree(crate) == before

    # Warm: a new app over the same sources runs no container at all.
    t1 = time.time()
    app2, api2, worker2 = _workspace_app(crate, tmp_path / "cdk.out2")
    app2.synth()
    assert _building_lines(capfd.readouterr().err) == []
    assert _containers_created(docker_engine, t1) == 0
    assert bootstrap_path(api2).read_bytes() == bootstrap_path(api).read_bytes()


def _registry_app(crate: Path, outdir: Path, **bundling) -> RustFunction:
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "S")
    fn = RustFunction(
        stack,
        "Fn",
        manifest_path=str(crate),
        architecture=lambda_.Architecture.X86_64,
        bundling=BundlingOptions(force_docker=True, docker_network="host", **bundling),
    )
    app.synth()
    return fn


def test_cargo_cache_mount_and_registry_paths(
    docker_engine, docker_standins, copy_fixture, tmp_path, capfd
):
    # Without the cache mount the container's cargo home is a fresh /tmp/cargo: it downloads.
    scratch_crate = copy_fixture("registry_dep", "a")
    scratch = _registry_app(scratch_crate, tmp_path / "out1", docker_cargo_cache=False)
    err = capfd.readouterr().err
    assert "Downloaded arrayvec" in err, err[-3000:]
    data = bootstrap_path(scratch).read_bytes()
    assert b"/tmp/cargo" not in data
    # The dependency's panic location is recorded under /cargo, as in a local build.
    assert b"/cargo/registry/src/" in data and b"arrayvec-0.7.6" in data
    with LambdaEmulator() as emulator:
        assert emulator.invoke(bootstrap_path(scratch), {"n": "12"}).payload["digits"] == 2

    # With the cache mount (the default): same bytes (docker_cargo_cache is not in the
    # fingerprint, so it must not change the binary).
    crate = copy_fixture("registry_dep", "b")
    cached = _registry_app(crate, tmp_path / "out2")
    capfd.readouterr()
    assert bootstrap_path(cached).read_bytes() == data

    # A changed source means a new container; the crate comes from the mounted cargo cache.
    main = crate / "src" / "main.rs"
    main.write_text(main.read_text() + "\n// touched\n")
    _registry_app(crate, tmp_path / "out3")
    err = capfd.readouterr().err
    assert len(_building_lines(err)) == 1
    assert "Download" not in err and "Updating crates.io index" not in err, err[-3000:]


def test_docker_run_failure_is_not_called_a_compile_error(
    docker_engine, docker_standins, copy_fixture, tmp_path
):
    crate = copy_fixture("single")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "S")
    RustFunction(
        stack,
        "Fn",
        manifest_path=str(crate),
        architecture=lambda_.Architecture.X86_64,
        bundling=BundlingOptions(
            force_docker=True, docker_image="constructs-rust-test/no-such-image:1"
        ),
    )
    with pytest.raises(Exception) as info:
        app.synth()
    message = str(info.value)
    assert "`docker run` failed (exit 125)" in message, message
    assert "could not create or start the container" in message
    assert "docker pull constructs-rust-test/no-such-image:1" in message
    assert "fix the compile error" not in message


def test_path_dependency_outside_the_workspace_fails_before_any_container(
    docker_engine, docker_standins, tmp_path
):
    root = tmp_path / "repo"
    (root / "outside" / "src").mkdir(parents=True)
    (root / "outside" / "Cargo.toml").write_text(
        '[package]\nname = "outside"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (root / "outside" / "src" / "lib.rs").write_text("pub fn x() -> u8 { 1 }\n")
    ws = root / "ws"
    (ws / "app" / "src").mkdir(parents=True)
    (ws / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["app"]\n')
    (ws / "app" / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[dependencies]\noutside = { path = "../../outside" }\n'
    )
    (ws / "app" / "src" / "main.rs").write_text("fn main() { let _ = outside::x(); }\n")
    t0 = time.time()
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "S")
    RustFunction(
        stack, "Fn", manifest_path=str(ws / "app"), bundling=BundlingOptions(force_docker=True)
    )
    with pytest.raises(Exception) as info:
        app.synth()
    message = str(info.value)
    assert "[S/Fn]" in message and "outside the workspace root" in message, message
    assert str(root / "outside") in message and "move the dependency" in message
    assert _containers_created(docker_engine, t0) == 0


def _nonroot_python_env(home: Path, cache: Path) -> Dict[str, str]:
    site = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"))
    return {
        "HOME": str(home),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{site}",
        "DOCKER_HOST": os.environ["DOCKER_HOST"],
        "CONSTRUCTS_RUST_CACHE_DIR": str(cache),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": os.environ.get(
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", ""
        ),
    }


_NONROOT_APP = """
import sys
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs_rust import BundlingOptions, RustFunction
from constructs_rust.testing import bootstrap_path

crate, outdir = sys.argv[1], sys.argv[2]
app = cdk.App(outdir=outdir)
stack = cdk.Stack(app, "S")
fn = RustFunction(stack, "Fn", manifest_path=crate, binary_name="fx_api",
                  architecture=lambda_.Architecture.X86_64)
app.synth()
print("BOOTSTRAP=" + str(bootstrap_path(fn)))
"""


def test_fallback_without_cargo_lambda_as_a_non_root_user(docker_engine, docker_standins):
    """A user in the docker group, no cargo-lambda anywhere (Debian's python3, not the venv),
    no home of their own in the image: the automatic Docker fallback builds."""
    uid = gid = 65534  # nobody
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        pytest.skip("needs /usr/bin/python3 (a Python without cargo-lambda beside it)")
    cargo_path = shutil.which("cargo", path="/usr/local/bin:/usr/bin:/bin")
    if cargo_path is None:
        pytest.skip("no cargo a non-root user can run (apt-get install cargo-web)")
    try:
        docker_gid = grp.getgrnam("docker").gr_gid
    except KeyError:
        pytest.skip("no docker group to give the non-root user access to the engine")
    base = Path(tempfile.mkdtemp(prefix="crt-nonroot-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        crate = base / "crates" / "workspace"
        shutil.copytree(ROOT / "tests" / "fixtures" / "crates" / "workspace", crate)
        (base / "home").mkdir()
        # The non-root user's own library cache, kept across sessions like the root one (not
        # under root's home, which that user cannot enter).
        cache = NONROOT_CACHE
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(["chown", "-R", f"{uid}:{gid}", str(base), str(cache)], check=True)
        before = _tree(crate)
        proc = subprocess.run(
            [python, "-c", _NONROOT_APP, str(crate), str(base / "cdk.out")],
            env=_nonroot_python_env(base / "home", cache),
            cwd=base,
            user=uid,
            group=gid,
            extra_groups=[docker_gid],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
        assert "cargo-lambda not found; bundling Rust functions in Docker" in proc.stderr
        bootstrap = Path(proc.stdout.split("BOOTSTRAP=")[1].strip())
        for path in [crate / "target", *(crate / "target").rglob("*"), bootstrap]:
            assert path.stat().st_uid == uid, path
        assert _tree(crate) == before
        with LambdaEmulator() as emulator:
            assert emulator.invoke(bootstrap, {"user": "nobody"}).payload["input"] == {
                "user": "nobody"
            }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_docker_bundling_sees_the_inputs_local_bundling_sees(
    docker_engine, docker_standins, tmp_path, monkeypatch
):
    """Issue 19 in Docker: files outside the package (inside the mounted workspace), build-script
    inputs, symlinked sources and the workspace's config rustflags change the hash AND the
    bytes; a host variable (which a container never sees) changes neither; the same variable
    in bundling.environment changes both."""
    from tests.integration.test_never_stale import _apply, _value, make_workspace

    monkeypatch.delenv("CRT_SHELL_VAR", raising=False)
    monkeypatch.delenv("CRT_BUILD_VAR", raising=False)
    ws = make_workspace(tmp_path / "mono" / "ws")

    def synth(name: str, **environment: str):
        app = cdk.App(outdir=str(tmp_path / name))
        fn = RustFunction(
            cdk.Stack(app, "S"),
            "A",
            manifest_path=str(ws),
            binary_name="a",
            architecture=lambda_.Architecture.X86_64,
            bundling=BundlingOptions(force_docker=True, environment=environment),
        )
        app.synth()
        out = subprocess.run(
            [str(bootstrap_path(fn))], capture_output=True, text=True, check=True, env={}
        ).stdout
        return fn.node.find_child("Code").asset_hash, out

    previous, printed = synth("o0")
    assert _value(printed, "include") == "one"
    for key, new in (
        ("include", "two"),
        ("pathmod", "2"),
        ("build", "second"),
        ("linked", "20"),
        ("cfg", "true"),
    ):
        _apply(ws, key, monkeypatch)
        current, printed = synth(f"o-{key}")
        assert current != previous and _value(printed, key) == new, (key, printed)
        previous = current
    monkeypatch.setenv("CRT_SHELL_VAR", "from-host")
    same, printed = synth("o-host")
    assert same == previous and _value(printed, "shellenv") == "none", "the host's is unseen"
    inside, printed = synth("o-env", CRT_SHELL_VAR="inside")
    assert inside != previous and _value(printed, "shellenv") == "inside"
