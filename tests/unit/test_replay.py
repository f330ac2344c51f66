"""``local serve``'s reload without a synth, without building: what a function's replay keeps
(never a bundling environment value), what it covers, and which edits may skip the synth."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from constructs_rust._build import pipeline, replay
from constructs_rust._build.request import BuildRequest
from constructs_rust._cargo.targets import Target
from constructs_rust.local.model import LocalFunction
from constructs_rust.local.rebuild import app_file, plan_reload
from constructs_rust.options import BundlingOptions

from ..conftest import FIXTURES

SECRET = "s3cret-value-never-on-disk"


@pytest.fixture
def crate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONSTRUCTS_RUST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    app = tmp_path / "app"
    shutil.copytree(FIXTURES / "single", app / "lambdas" / "single")
    (app / "lambdas" / "single2").mkdir()  # a sibling whose name starts the same
    return app / "lambdas" / "single"


def _request(crate: Path) -> BuildRequest:
    target = Target(lambda_arch="x86_64")
    options = BundlingOptions(environment={"TOKEN": SECRET})
    manifest = crate / "Cargo.toml"
    resolved = pipeline.resolve(
        manifest, None, target=target, options=options, construct_path="Stack/Fn"
    )
    return pipeline.request_for(
        resolved, target=target, options=options, construct_path="Stack/Fn", extension=False
    )


def _replay(crate: Path) -> replay.Replay:
    return replay.replay_of(_request(crate), manifest=crate / "Cargo.toml", binary_name=None)


def test_a_replay_keeps_digests_of_environment_values_never_the_values(crate, monkeypatch):
    found = _replay(crate)
    assert found.options.environment == {}
    assert [name for name, _ in found.env_digests] == ["TOKEN"]
    asset = crate.parents[1] / "cdk.out" / "asset.abc"
    replay.write(found, asset)
    files = list((crate.parents[2] / "cache").rglob("*.pickle"))
    assert len(files) == 1 and SECRET.encode() not in files[0].read_bytes()

    monkeypatch.delenv("TOKEN", raising=False)
    assert replay.read(asset) is None  # the value is unknown here: synthesize
    monkeypatch.setenv("TOKEN", "another value")
    assert replay.read(asset) is None  # not the value the asset was built with
    monkeypatch.setenv("TOKEN", SECRET)
    again = replay.read(asset)
    assert again is not None and again.options.environment == {"TOKEN": SECRET}
    assert again.asset_hash == found.asset_hash and again.manifest == crate / "Cargo.toml"
    assert replay.read(asset.with_name("asset.other")) is None


def test_a_replay_knows_whether_cdk_names_the_asset_as_cdk_key_does(crate):
    found = _replay(crate)
    assert not found.cdk_named  # staged nowhere
    options = BundlingOptions(environment={"TOKEN": SECRET})
    name = replay.cdk_key(found.asset_hash, options)
    assert name.startswith("asset.") and len(name) == len("asset.") + 64
    assert name != replay.cdk_key(found.asset_hash, BundlingOptions(docker_image="other:1"))
    request, manifest = _request(crate), crate / "Cargo.toml"
    assembly = crate.parents[1] / "cdk.out"
    named = replay.replay_of(request, manifest=manifest, binary_name=None, staged=assembly / name)
    assert named.cdk_named
    other = replay.replay_of(
        request, manifest=manifest, binary_name=None, staged=assembly / "asset.0123"
    )
    assert not other.cdk_named


def test_a_replay_covers_the_crate_and_the_workspace_files_only(crate):
    found = _replay(crate)
    assert found.covers(crate / "src" / "main.rs")
    assert found.covers(crate / "src" / "new_module.rs")  # added files too: the tree is hashed
    assert found.covers(crate / "Cargo.toml")
    assert found.covers(crate / "Cargo.lock")
    assert not found.covers(crate.parent / "single2" / "src" / "main.rs")
    assert not found.covers(crate.parents[1] / "app.py")


def test_app_files_always_synthesize():
    assert app_file("app.py") and app_file("stacks/api.py") and app_file("cdk.json")
    assert app_file("cdk.context.json")
    assert not app_file("lambdas/hello/src/main.rs") and not app_file("lambdas/Cargo.toml")


def _function(path: str, asset_dir: Path) -> LocalFunction:
    return LocalFunction(
        path=path,
        logical_id=path.replace("/", ""),
        stack="Stack",
        asset_dir=asset_dir,
        architecture="x86_64",
        memory_size=128,
        timeout=3,
        runtime="provided.al2023",
        environment={},
        unresolved={},
    )


def test_only_edits_of_served_functions_inputs_skip_the_synth(crate, monkeypatch):
    monkeypatch.setenv("TOKEN", SECRET)
    app = crate.parents[1]
    asset = app / "cdk.out" / "asset.abc"
    replay.write(_replay(crate), asset)
    functions = [_function("Stack/Fn", asset), _function("Stack/Other", app / "cdk.out" / "x")]

    plan = plan_reload(app, functions, ["lambdas/single/src/main.rs"])
    assert plan.synth_because is None and list(plan.replays) == [asset]

    plan = plan_reload(app, functions, ["lambdas/single/src/main.rs", "app.py"])
    assert plan.synth_because == "app.py is a file of the app"

    plan = plan_reload(app, functions, ["lambdas/single2/src/main.rs"])
    assert plan.synth_because is not None and "lambdas/single2/src/main.rs" in plan.synth_because

    monkeypatch.setenv("TOKEN", "changed")  # the replay is not usable: synthesize
    assert plan_reload(app, functions, ["lambdas/single/src/main.rs"]).synth_because
