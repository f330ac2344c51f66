"""The shared build cache against a real S3 API (moto's server), with real builds.

Clone A (read-write) builds the small multi_bin crate once per module and uploads; every other
synth is a fresh clone at another absolute path with an empty local cache (a fresh CI runner).
cargo and cargo-lambda are counted by PATH shims (bench/run.py's), writes by moto's request log.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from ..conftest import FIXTURES, ROOT

sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))

import deploy_local  # noqa: E402

pytestmark = pytest.mark.build

APP = ROOT / "tests" / "fixtures" / "apps" / "remote_cache_app.py"
BUCKET = "team-rust-cache"
GOOD = "good"
STACK = "Cached"
_WRITES = re.compile(r'"(?:\x1b\[[0-9;]*m)?(PUT|POST|DELETE) /' + BUCKET + r"[/ ?]")


def _bench():
    import run as bench_run  # bench/run.py: the PATH shims that count cargo and cargo-lambda

    return bench_run


class Synth:
    def __init__(self, proc: subprocess.CompletedProcess, outdir: Path, calls: List[str]):
        self.proc, self.outdir, self.calls = proc, outdir, calls
        self.stderr = proc.stderr

    @property
    def builds(self) -> List[str]:
        return [c for c in self.calls if c.startswith(("cargo lambda build", "cargo build"))]

    def template(self) -> dict:
        return json.loads((self.outdir / f"{STACK}.template.json").read_text())

    def asset(self, construct_id: str) -> Path:
        for logical, res in self.template()["Resources"].items():
            if res["Type"] == "AWS::Lambda::Function" and logical.startswith(construct_id):
                key = res["Properties"]["Code"]["S3Key"]  # "<asset hash>.zip"
                return self.outdir / f"asset.{key.split('.')[0]}"
        raise AssertionError(f"no function {construct_id}")


class World:
    """One moto server, the shims, and a way to synthesize fresh clones against it."""

    def __init__(self, base: Path, server: deploy_local.MotoServer, shims: Path):
        self.base, self.server, self.shims = base, server, shims
        self.s3 = _client(server.endpoint)
        self.s3.create_bucket(Bucket=BUCKET)

    def clone(self, name: str) -> Path:
        """The crate at a new absolute path (nothing built there yet)."""
        root = self.base / name / "checkout with space"
        root.mkdir(parents=True)
        shutil.copy2(FIXTURES / "mini_runtime.rs", root / "mini_runtime.rs")
        shutil.copytree(
            FIXTURES / "multi_bin", root / "multi_bin", ignore=shutil.ignore_patterns("target")
        )
        return root / "multi_bin"

    def writes(self) -> int:
        text = Path(self.server.log_path).read_text(errors="replace")
        return len(_WRITES.findall(text))

    def synth(
        self,
        crate: Path,
        *,
        prefix: str,
        mode: str,
        endpoint: Optional[str] = None,
        **extra: str,
    ) -> Synth:
        env = deploy_local.local_aws_env(self.server.endpoint)
        env.pop("AWS_ENDPOINT_URL", None)
        env["AWS_ENDPOINT_URL_S3"] = endpoint or self.server.endpoint
        env["PATH"] = os.pathsep.join([str(self.shims), env["PATH"]])
        shim_log = crate.parent / "shim.log"
        shim_log.unlink(missing_ok=True)
        outdir = crate.parent / "cdk.out"
        env.update(
            CRATE=str(crate),
            CDK_OUTDIR=str(outdir),
            BENCH_SHIM_LOG=str(shim_log),
            # a fresh machine: no metadata/tool-version cache either
            CONSTRUCTS_RUST_CACHE_DIR=str(crate.parent / "cr-cache"),
            CONSTRUCTS_RUST_REMOTE_CACHE=f"s3://{BUCKET}/{prefix}",
            CONSTRUCTS_RUST_REMOTE_CACHE_MODE=mode,
            **extra,
        )
        env.pop("BENCH_SHIM_DEPTH", None)
        proc = subprocess.run(
            [sys.executable, str(APP)],
            cwd=crate.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        calls = _bench().count_invocations(shim_log)["calls"]
        return Synth(proc, outdir, [c.strip() for c in calls if not c.startswith(" ")])

    def copy_prefix(self, prefix: str, skip=lambda key: False) -> None:
        """A test's own copy of the good prefix (so tests can damage it independently)."""
        for obj in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{GOOD}/").get("Contents", []):
            if skip(obj["Key"]):
                continue
            self.s3.copy_object(
                Bucket=BUCKET,
                Key=prefix + obj["Key"][len(GOOD) :],
                CopySource={"Bucket": BUCKET, "Key": obj["Key"]},
            )

    def manifest(self, prefix: str, fingerprint: str) -> dict:
        body = self.s3.get_object(Bucket=BUCKET, Key=f"{prefix}/v1/{fingerprint}/manifest.json")
        return json.loads(body["Body"].read())


def _client(endpoint: str):  # noqa: ANN202
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=deploy_local.REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


_fp_memo: Dict[str, str] = {}


def _fingerprint(world: World, synth: Synth, construct_id: str) -> str:
    """The fingerprint (CDK's asset hash is a hash OF it) whose manifest in the good prefix
    lists exactly this asset's files and bytes."""
    asset = synth.asset(construct_id)
    local = {p.name: _sha256(p) for p in asset.iterdir()}
    if asset.name in _fp_memo:
        return _fp_memo[asset.name]
    listing = world.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{GOOD}/v1/")["Contents"]
    for key in [o["Key"] for o in listing if o["Key"].endswith("/manifest.json")]:
        fp = key.split("/")[2]
        manifest = world.manifest(GOOD, fp)
        if {f["path"]: f["sha256"] for f in manifest["files"]} == local:
            _fp_memo[asset.name] = fp
            return fp
    raise AssertionError(f"no manifest matches {construct_id}'s asset")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not Path(deploy_local._bin("moto_server")).exists() and not shutil.which("moto_server"):
        pytest.skip("moto_server is not installed (run `make setup`)")
    base = tmp_path_factory.mktemp("remote-cache")
    shims = base / "shims"
    _bench().make_shims(shims)
    with deploy_local.MotoServer(log_path=base / "moto.log") as server:
        yield World(base, server, shims)


@pytest.fixture(scope="module")
def clone_a(world: World) -> Dict:
    """Clone A: read-write, empty remote → builds both functions (the one build) and uploads."""
    crate = world.clone("a")
    before = world.writes()
    started = time.monotonic()
    synth = world.synth(crate, prefix=GOOD, mode="read-write")
    return {
        "crate": crate,
        "synth": synth,
        "seconds": time.monotonic() - started,
        "writes": world.writes() - before,
    }


def test_clone_a_builds_and_uploads_every_file_with_a_manifest_written_last(world, clone_a):
    synth: Synth = clone_a["synth"]
    assert len(synth.builds) == 2, synth.calls  # two build groups (the hook is a setting)
    assert "uploaded 1 artifacts" in synth.stderr or "uploaded 2 artifacts" in synth.stderr
    for construct_id, files in (("Alpha", ["bootstrap"]), ("Beta", ["beta.conf", "bootstrap"])):
        fp = _fingerprint(world, synth, construct_id)
        manifest = world.manifest(GOOD, fp)
        assert [f["path"] for f in manifest["files"]] == files
        assert manifest["fingerprint"] == fp and manifest["toolchain"].startswith("rustc ")
        assert manifest["inputs"][0].startswith("constructs-rust-fingerprint")
        for entry in manifest["files"]:
            local = synth.asset(construct_id) / entry["path"]
            assert entry["size"] == local.stat().st_size
        keys = [
            o["Key"]
            for o in world.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{GOOD}/v1/{fp}/")["Contents"]
        ]
        assert sorted(keys) == sorted(
            [f"{GOOD}/v1/{fp}/manifest.json"] + [f"{GOOD}/v1/{fp}/files/{f}" for f in files]
        )
    # files before the manifest, per artifact (moto's request log is in order)
    log = Path(world.server.log_path).read_text(errors="replace")
    puts = [m.group(0) for m in re.finditer(r"PUT /" + BUCKET + r"/good/v1/\w+/\S+", log)]
    for fp in {_fingerprint(world, synth, "Alpha"), _fingerprint(world, synth, "Beta")}:
        mine = [p for p in puts if f"/{fp}/" in p]
        assert mine[-1].endswith("/manifest.json") and len(mine) >= 2
    print(f"clone A (cold, read-write): {clone_a['seconds']:.1f} s, {clone_a['writes']} writes")


def test_fresh_clone_in_read_mode_runs_no_build_and_writes_nothing(world, clone_a):
    a: Synth = clone_a["synth"]
    crate = world.clone("b")
    before = world.writes()
    started = time.monotonic()
    b = world.synth(crate, prefix=GOOD, mode="read")
    seconds = time.monotonic() - started
    assert b.builds == [], b.calls
    assert not any("build" in c for c in b.calls), b.calls
    assert world.writes() == before, "read mode must never write"
    assert "2/2 hits" in b.stderr, b.stderr[-2000:]
    assert "WARNING" not in b.stderr
    for construct_id in ("Alpha", "Beta"):
        for path in sorted(a.asset(construct_id).iterdir()):
            assert (b.asset(construct_id) / path.name).read_bytes() == path.read_bytes(), path.name
        assert os.access(b.asset(construct_id) / "bootstrap", os.X_OK)
    assert b.template() == a.template(), "identical templates (asset hashes included)"
    print(
        f"clone B (remote hit): {seconds:.1f} s vs clone A cold {clone_a['seconds']:.1f} s; "
        f"commands: {b.calls}"
    )


def test_extension_artifacts_hit_the_remote_cache_too(world):
    """A RustExtension's artifact holds extensions/<name>, not bootstrap: a fresh clone takes it
    from the cache (no tampering warning, no build, nothing uploaded again)."""
    first = world.synth(world.clone("ext-a"), prefix="ext", mode="read-write", FUNCTIONS="ext")
    assert len(first.builds) == 1, first.calls
    before = world.writes()
    second = world.synth(world.clone("ext-b"), prefix="ext", mode="read-write", FUNCTIONS="ext")
    assert second.builds == [], second.calls
    assert "1/1 hits" in second.stderr and "WARNING" not in second.stderr, second.stderr[-2000:]
    assert world.writes() == before, "a hit is not uploaded again"


def test_extra_files_join_a_remote_hit_and_an_edit_restages_without_cargo(world, clone_a):
    """Extra files are not part of the artifact: a fresh clone's function with extra files gets
    its binary from the cache (the binary's fingerprint is alpha's) and its extra files from its
    own checkout; editing one changes the asset hash, says why, and runs no cargo."""
    a: Synth = clone_a["synth"]
    crate = world.clone("x")
    (crate.parent / "conf").mkdir()
    (crate.parent / "conf" / "app.toml").write_text("level = 'info'\n")
    (crate.parent / "static" / "img").mkdir(parents=True)
    (crate.parent / "static" / "img" / "logo.svg").write_text("<svg/>\n")
    before = world.writes()
    x = world.synth(crate, prefix=GOOD, mode="read", FUNCTIONS="alphax")
    assert x.builds == [] and "1/1 hits" in x.stderr, (x.calls, x.stderr[-2000:])
    asset = x.asset("AlphaX")
    assert sorted(p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file()) == [
        "bootstrap",
        "config.toml",
        "static/img/logo.svg",
    ]
    assert (asset / "bootstrap").read_bytes() == (a.asset("Alpha") / "bootstrap").read_bytes()
    assert (asset / "config.toml").read_text() == "level = 'info'\n"
    assert asset.name != a.asset("Alpha").name, "the extra files are part of the asset hash"
    assert world.writes() == before
    (crate.parent / "conf" / "app.toml").write_text("level = 'debug'\n")
    y = world.synth(crate, prefix=GOOD, mode="read", FUNCTIONS="alphax")
    assert y.calls == [] or not any("build" in c for c in y.calls), y.calls
    assert y.asset("AlphaX").name != asset.name
    assert (y.asset("AlphaX") / "config.toml").read_text() == "level = 'debug'\n"
    assert "AlphaX: asset hash changed since the last synth" in y.stderr, y.stderr[-2000:]
    assert "- include config.toml=" in y.stderr and "+ include config.toml=" in y.stderr
    assert str(crate.parent) not in y.stderr.split("asset hash changed")[1].split("\n\n")[0]


def test_tampered_object_is_ignored_with_a_warning_and_built_locally(world, clone_a):
    a: Synth = clone_a["synth"]
    alpha = _fingerprint(world, a, "Alpha")
    world.copy_prefix("tampered")
    world.s3.put_object(
        Bucket=BUCKET, Key=f"tampered/v1/{alpha}/files/bootstrap", Body=b"#!/bin/sh\necho pwned\n"
    )
    crate = world.clone("c")
    before = world.writes()
    c = world.synth(crate, prefix="tampered", mode="read")
    assert world.writes() == before
    warnings = [line for line in c.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and alpha[:12] in warnings[0], warnings
    assert "does not match its sha256/size" in warnings[0]
    assert len(c.builds) == 1, c.calls  # alpha only; beta came from the remote
    assert (c.asset("Alpha") / "bootstrap").read_bytes() == (
        a.asset("Alpha") / "bootstrap"
    ).read_bytes()
    assert c.asset("Alpha").name == a.asset("Alpha").name, "the remote never changes a hash"


def test_missing_manifest_is_a_plain_miss(world, clone_a):
    a: Synth = clone_a["synth"]
    beta = _fingerprint(world, a, "Beta")
    world.copy_prefix("partial", skip=lambda key: key.endswith(f"{beta}/manifest.json"))
    crate = world.clone("d")
    d = world.synth(crate, prefix="partial", mode="read")
    assert "WARNING" not in d.stderr, d.stderr[-2000:]
    assert "1/2 hits" in d.stderr
    assert len(d.builds) == 1, d.calls  # beta, whose upload "never finished"
    assert (d.asset("Beta") / "beta.conf").read_text() == "beta config\n"
    assert d.template() == a.template()


@pytest.mark.parametrize("failure", ["refused", "silent"])
def test_unreachable_endpoint_warns_once_within_bounded_time_and_builds(world, clone_a, failure):
    from constructs_rust._store import remote as remote_cache

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        if failure == "silent":
            sock.listen(16)  # accepts connections (backlog) but never answers
        port = sock.getsockname()[1]
        if failure == "refused":
            sock.close()
        crate = world.clone(f"e-{failure}")
        e = world.synth(
            crate,
            prefix=GOOD,
            mode="read-write",
            endpoint=f"http://127.0.0.1:{port}",
            FUNCTIONS="alpha",
        )
    warnings = [line for line in e.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, warnings  # no second warning for the upload
    assert "remote build cache not used" in warnings[0] and "Fix:" in warnings[0]
    waited = float(re.search(r"after ([0-9.]+) s", warnings[0]).group(1))
    bound = remote_cache.MAX_ATTEMPTS * max(remote_cache.CONNECT_TIMEOUT, remote_cache.READ_TIMEOUT)
    # (the clock starts once the client exists; + thread scheduling on a loaded machine)
    assert waited <= bound + 1.5, warnings[0]
    assert len(e.builds) == 1
    assert (e.asset("Alpha") / "bootstrap").read_bytes() == (
        clone_a["synth"].asset("Alpha") / "bootstrap"
    ).read_bytes()
    print(f"endpoint {failure}: warned after {waited} s (bound {bound} s)")
