"""cdk.json carries exactly the feature flags `cdk init` writes for the pinned aws-cdk-lib."""

import importlib.util
import json
import tarfile
from importlib.metadata import version
from pathlib import Path

from ..conftest import CDK_JSON_CONTEXT, ROOT


def _recommended_flags() -> dict:
    """aws-cdk-lib's recommended-feature-flags.json (what `cdk init` copies into cdk.json),
    read from the JS package the installed Python aws-cdk-lib wraps."""
    spec = importlib.util.find_spec("aws_cdk")  # located, not imported (no jsii kernel start)
    assert spec is not None and spec.origin is not None
    jsii_dir = Path(spec.origin).parent / "_jsii"
    (tarball,) = jsii_dir.glob("aws-cdk-lib@*.jsii.tgz")
    assert f"aws-cdk-lib@{version('aws-cdk-lib')}.jsii.tgz" == tarball.name
    with tarfile.open(tarball, "r|gz") as tar:  # streamed: stops at the file, no full index
        for member in tar:
            if member.name == "package/recommended-feature-flags.json":
                data = tar.extractfile(member)
                assert data is not None
                return json.load(data)
    raise AssertionError(f"no recommended-feature-flags.json in {tarball}")


def test_cdk_json_has_the_recommended_flags_of_the_pinned_aws_cdk_lib() -> None:
    flags = {k: v for k, v in CDK_JSON_CONTEXT.items() if k.startswith("@aws-cdk")}
    recommended = _recommended_flags()
    missing = sorted(set(recommended) - set(flags))
    extra = sorted(set(flags) - set(recommended))
    changed = sorted(k for k in set(flags) & set(recommended) if flags[k] != recommended[k])
    assert (missing, extra, changed) == ([], [], []), (
        "after bumping aws-cdk-lib, copy the context of a fresh `cdk init app --language python` "
        "into cdk.json, regenerate the snapshots and review the template changes"
    )


def test_cdk_json_has_only_flags_as_context() -> None:
    # Anything else in the context would reach every synth of the example app unnoticed.
    app_config = json.loads((ROOT / "cdk.json").read_text())
    assert set(app_config) == {"app", "watch", "context"}
    assert all(k.startswith("@aws-cdk") for k in app_config["context"])
