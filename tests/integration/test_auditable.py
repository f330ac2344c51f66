"""BundlingOptions(auditable=True) on a real build: cargo-auditable composed with cargo-lambda's
zig build embeds the crates of Cargo.lock the binary links (read back by rust-audit-info, the
reader `cargo audit bin`, Trivy, Grype and Syft share the format with), and the function's
CycloneDX SBOM beside the cloud assembly validates against the CycloneDX 1.6 schema and lists
what `cargo tree` lists for its target. The switch changes only its own function's hash."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import BundlingOptions, ConfigurationError, RustFunction
from constructs_rust.testing import bootstrap_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytestmark = pytest.mark.build

TRIPLE = "x86_64-unknown-linux-gnu"


def _tools() -> None:
    for tool in ("cargo-auditable", "rust-audit-info"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (make setup installs it, pinned)")


def _synth(crate: Path, outdir: Path):
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "S")
    x86 = lambda_.Architecture.X86_64
    audited = RustFunction(
        stack,
        "Fn",
        manifest_path=str(crate),
        architecture=x86,
        bundling=BundlingOptions(auditable=True),
    )
    plain = RustFunction(stack, "Plain", manifest_path=str(crate), architecture=x86)
    assembly = app.synth()
    template = assembly.get_stack_artifact("S").template
    keys = {
        name: props["Properties"]["Code"]["S3Key"]
        for name, props in template["Resources"].items()
        if props["Type"] == "AWS::Lambda::Function"
    }
    return audited, plain, keys


def _cargo_tree(crate: Path) -> set:
    out = subprocess.run(
        ["cargo", "tree", "--manifest-path", str(crate / "Cargo.toml"), "--target", TRIPLE]
        + ["--edges", "normal,build", "--prefix", "none", "--format", "{p}", "--offline"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {tuple(line.split()[:2]) for line in out.splitlines() if line.strip()}


def test_an_auditable_bootstrap_and_its_sbom(copy_fixture, tmp_path, caplog):
    _tools()
    crate = copy_fixture("registry_dep")
    audited, plain, keys = _synth(crate, tmp_path / "cdk.out")

    # What a scanner reads from the bootstrap: the crates of Cargo.lock it links.
    read = subprocess.run(
        ["rust-audit-info", str(bootstrap_path(audited))],
        capture_output=True,
        text=True,
        check=True,
    )
    embedded = {(p["name"], p["version"]) for p in json.loads(read.stdout)["packages"]}
    lock = tomllib.loads((crate / "Cargo.lock").read_text())
    assert embedded == {(p["name"], p["version"]) for p in lock["package"]}
    assert embedded == {("fx_registry", "0.1.0"), ("arrayvec", "0.7.6")}
    # The same crate without the switch: nothing for a scanner to read, another hash.
    bare = subprocess.run(
        ["rust-audit-info", str(bootstrap_path(plain))], capture_output=True, text=True
    )
    assert bare.returncode != 0
    assert len(set(keys.values())) == 2

    # The SBOM: beside the assembly, named after the construct path, never in an asset.
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    sbom_path = tmp_path / "cdk.out" / "sbom" / "S" / "Fn.cdx.json"
    text = sbom_path.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    sbom = json.loads(text)
    assert sbom["metadata"]["component"]["name"] == "fx_registry"
    listed = {(c["name"], "v" + c["version"]) for c in sbom["components"]}
    assert listed | {("fx_registry", "v0.1.0")} == _cargo_tree(crate)
    (arrayvec,) = sbom["components"]
    assert arrayvec["purl"] == "pkg:cargo/arrayvec@0.7.6"
    assert not (tmp_path / "cdk.out" / "sbom" / "S" / "Plain.cdx.json").exists()
    assert not list((tmp_path / "cdk.out").glob("asset.*/**/*.cdx.json"))

    # Warm: nothing built, the same hashes and the same SBOM bytes.
    caplog.clear()
    _, _, warm_keys = _synth(crate, tmp_path / "warm.out")
    assert warm_keys == keys
    assert (tmp_path / "warm.out" / "sbom" / "S" / "Fn.cdx.json").read_text() == text
    assert not [r for r in caplog.records if "building" in r.getMessage()]


def test_auditable_is_refused_with_docker_bundling(copy_fixture, tmp_path):
    crate = copy_fixture("single")
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path / "cdk.out")), "S")
    with pytest.raises(ConfigurationError) as err:
        RustFunction(
            stack,
            "Fn",
            manifest_path=str(crate),
            bundling=BundlingOptions(auditable=True, force_docker=True),
        )
    text = str(err.value)
    assert text.startswith("[S/Fn] bundling.auditable=True: is not available with Docker")
    assert "Fix: bundle locally" in text
