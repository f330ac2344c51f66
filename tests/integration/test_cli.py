"""The example app through the pinned CDK CLI (node_modules/.bin/cdk), as a user runs it."""

import json
import os
import subprocess

import pytest

from ..conftest import ROOT

pytestmark = [pytest.mark.cli, pytest.mark.build]

CDK = ROOT / "node_modules" / ".bin" / "cdk"


def _cdk(*args, timeout=1500):
    if not CDK.exists():
        pytest.fail("the pinned CDK CLI is missing: run `make setup` (npm ci)")
    env = dict(os.environ, CDK_DISABLE_VERSION_CHECK="1")
    return subprocess.run(
        [str(CDK), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_cdk_synth_whole_app(tmp_path):
    out = tmp_path / "cdk.out"
    proc = _cdk("synth", "--quiet", "-o", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    templates = sorted(p.name for p in out.glob("*.template.json"))
    assert templates == [
        "BuildCacheStack.template.json",
        "ContainerStack.template.json",
        "EchoStack.template.json",
        "ExtensionStack.template.json",
        "HelloHttpStack.template.json",
        "ManagedInstancesStack.template.json",
        "MultiFunctionStack.template.json",
        "PiStack.template.json",
        "StaticPiStack.template.json",
        "StreamingStack.template.json",
    ]
    for asset in out.glob("asset.*"):
        if asset.is_dir():
            assert not (asset / ".constructs-rust-pending").exists()
            built = [asset / "bootstrap", asset / "extensions" / "telemetry_summary"]
            assert any(p.is_file() for p in built), asset


def test_cdk_synth_one_stack_bundles_only_its_functions(tmp_path):
    out = tmp_path / "cdk.out"
    proc = _cdk("synth", "--quiet", "-e", "EchoStack", "-o", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    # cdk.json has every recommended flag of the pinned aws-cdk-lib (tests/unit/test_cdk_json.py)
    assert "feature flags are not configured" not in proc.stdout + proc.stderr
    assets = json.loads((out / "EchoStack.assets.json").read_text())["files"]
    # Docker image assets of other stacks are still copied by CDK (it has no "bundling
    # required" notion for them), but only EchoStack's function got a bootstrap.
    bundled = sorted(p.name for p in out.glob("asset.*") if (p / "bootstrap").exists())
    function_assets = sorted(
        a["source"]["path"] for a in assets.values() if a["source"]["path"].startswith("asset.")
    )
    assert len(function_assets) == 1
    assert bundled == function_assets, "only EchoStack's function is bundled"
    for line in proc.stderr.splitlines():
        if line.startswith("constructs_rust: building"):
            assert "building echo for" in line, line  # nothing of the other stacks
