"""What a CDK user's own tests get from constructs_rust.testing: snapshots that do not churn on
a Rust edit, and construct tests that run no cargo and no Docker."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from constructs_rust import RustFunction
from constructs_rust.testing import no_bundling_app, normalize_template, snapshot_template

from ..conftest import CDK_JSON_CONTEXT


def _template(crate: Path, *, bundle: bool = False, **props) -> dict:
    app = cdk.App(context=CDK_JSON_CONTEXT) if bundle else no_bundling_app(**CDK_JSON_CONTEXT)
    stack = cdk.Stack(app, "UserStack")
    fn = RustFunction(stack, "Api", manifest_path=str(crate), **props)
    fn.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
    RustFunction(stack, "Twin", manifest_path=str(crate), **props)
    return Template.from_stack(stack).to_json()


@pytest.mark.build
def test_a_rust_edit_changes_the_raw_template_but_not_the_normalised_one(copy_fixture):
    # Real bundling: the asset hash is the built bootstrap's, so it moves with the source.
    crate = copy_fixture("single")
    before = _template(crate, bundle=True)
    main = crate / "src" / "main.rs"
    main.write_text(main.read_text().replace('"layout":"single"', '"layout":"edited"'))
    after = _template(crate, bundle=True)
    assert json.dumps(before) != json.dumps(after)  # the asset hash moved
    assert normalize_template(before) == normalize_template(after)
    text = json.dumps(normalize_template(after))
    # Both functions share one asset, so one placeholder; no raw hash is left.
    assert "<asset-hash-1>" in text and "<asset-hash-2>" not in text


def test_memory_size_and_architecture_do_change_the_normalised_template(copy_fixture):
    crate = copy_fixture("single")
    base = normalize_template(_template(crate))
    assert normalize_template(_template(crate, memory_size=1024)) != base
    assert normalize_template(_template(crate, architecture=lambda_.Architecture.X86_64)) != base


def test_values_that_are_not_asset_hashes_are_left_alone(copy_fixture):
    user_value = "ab" * 32  # 64 hex digits of the user's own, not an asset hash
    crate = copy_fixture("single")
    stack = cdk.Stack(no_bundling_app(), "UserStack")
    RustFunction(stack, "Api", manifest_path=str(crate), environment={"TOKEN_ID": user_value})
    text = json.dumps(snapshot_template(stack))
    assert user_value in text and "<asset-hash-1>" in text


def _recording_fakes(bin_dir: Path, log: Path) -> None:
    bin_dir.mkdir()
    for tool in ("cargo", "docker", "cargo-lambda", "rustc"):
        fake = bin_dir / tool
        fake.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\nexit 1\n')
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)


def test_construct_tests_run_no_cargo_and_no_docker_on_a_fresh_machine(
    copy_fixture, tmp_path, monkeypatch
):
    # A machine that never built the app: a fresh copy of a crate (no target/, no Cargo.lock
    # use), an empty library cache, and recording fakes first on PATH.
    crate = copy_fixture("single")
    (crate / "Cargo.lock").unlink()
    log = tmp_path / "calls.log"
    _recording_fakes(tmp_path / "bin", log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CONSTRUCTS_RUST_CACHE_DIR", str(tmp_path / "fresh-cache"))
    monkeypatch.setenv("CARGO_HOME", str(tmp_path / "fresh-cargo-home"))

    template = _template(crate)

    assert not log.exists(), log.read_text()
    functions = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    assert len(functions) == 2
    for props in functions:
        assert props["Handler"] == "bootstrap"
        assert props["Runtime"] == "provided.al2023"
        assert props["Architectures"] == ["arm64"]
        assert "LoggingConfig" in props
    types = {r["Type"] for r in template["Resources"].values()}
    assert {"AWS::Logs::LogGroup", "AWS::Lambda::Url"} <= types


def test_each_app_in_one_process_plans_in_its_own_session(copy_fixture, monkeypatch):
    """A user's pytest run builds many apps in one process: a construct plans (loads the
    workspace, hashes trees) inside its own app's session, so nothing one app memoized is seen
    by the next; outside the constructor the default session is current again."""
    from constructs_rust._cargo import metadata
    from constructs_rust._support import session

    seen = []
    real = metadata.normalize_manifest_path
    monkeypatch.setattr(
        metadata,
        "normalize_manifest_path",
        lambda *a, **k: seen.append(session.current()) or real(*a, **k),
    )
    crate = copy_fixture("single")
    first, second = no_bundling_app(), no_bundling_app()
    RustFunction(cdk.Stack(first, "S"), "Fn", manifest_path=str(crate))
    RustFunction(cdk.Stack(second, "S"), "Fn", manifest_path=str(crate))
    assert seen == [session.session_for(first), session.session_for(second)]
    assert seen[0] is not seen[1] and session.default() not in seen
    assert session.current() is session.default()


def test_a_construct_accepts_scope_and_id_by_name(copy_fixture):
    crate = copy_fixture("single")
    stack = cdk.Stack(no_bundling_app(), "S")
    fn = RustFunction(scope=stack, id="Fn", manifest_path=str(crate))
    assert fn.node.path == "S/Fn"
