"""Extension build kind and synth checks as pure functions (no CDK app, no cargo)."""

from pathlib import Path

import pytest

from constructs_rust._build import commands
from constructs_rust._build.request import BuildRequest
from constructs_rust._cargo.depgraph import Graph
from constructs_rust._cargo.metadata import parse_metadata
from constructs_rust._cargo.targets import Target
from constructs_rust._fingerprint.inputs import Inputs
from constructs_rust.errors import ConfigurationError
from constructs_rust.extension import (
    UNZIPPED_LIMIT_BYTES,
    architecture_mismatch,
    unzipped_size_warning,
)
from constructs_rust.options import BundlingOptions


def test_extension_argv_adds_extension_flag_once():
    argv = commands.cargo_lambda_build_argv(
        manifest_path="/w/Cargo.toml",
        target="aarch64-unknown-linux-gnu.2.26",
        profile="release",
        packages=["telemetry_summary"],
        binaries=["telemetry_summary"],
        lambda_dir="/out",
        extension=True,
    )
    assert argv.count("--extension") == 1
    assert argv.index("--extension") < argv.index("--lambda-dir")
    function_argv = commands.cargo_lambda_build_argv(
        manifest_path="/w/Cargo.toml",
        target="aarch64-unknown-linux-gnu",
        profile="release",
        packages=["echo"],
        binaries=["echo"],
        lambda_dir="/out",
    )
    assert "--extension" not in function_argv


def _request(binary: str, *, extension: bool, package: str = "p") -> BuildRequest:
    ws = parse_metadata(
        {
            "workspace_root": "/w",
            "target_directory": "/w/target",
            "workspace_members": ["p 0.1.0 (path+file:///w/p)"],
            "packages": [
                {
                    "name": package,
                    "id": "p 0.1.0 (path+file:///w/p)",
                    "manifest_path": "/w/p/Cargo.toml",
                    "targets": [{"kind": ["bin"], "name": binary, "src_path": "/w/p/src/main.rs"}],
                    "dependencies": [],
                }
            ],
        }
    )
    return BuildRequest(
        construct_path="S/X",
        workspace=ws,
        package=ws.packages[0],
        binary=binary,
        target=Target(lambda_arch="arm64"),
        options=BundlingOptions(),
        use_docker=False,
        inputs=Inputs(static=("f",)),
        slot="s",
        graph=Graph(nodes=()),
        asset_dir=Path("/tmp/asset"),
        extension=extension,
    )


def test_extension_output_location_and_artifact_name():
    ext = _request("summary", extension=True)
    fn = _request("summary", extension=False)
    assert ext.built_path(Path("/out")) == Path("/out/extensions/summary")
    assert ext.artifact_name == "extensions/summary"
    assert fn.built_path(Path("/out")) == Path("/out/summary/bootstrap")
    assert fn.artifact_name == "bootstrap"


def test_extension_and_function_builds_never_share_a_cargo_run():
    # Same workspace, target and options: only the kind differs (--extension is per run).
    ext = _request("summary", extension=True)
    fn = _request("echo", extension=False)
    assert ext.group_key != fn.group_key
    assert ext.group_key[:-1] == fn.group_key[:-1]
    assert _request("other", extension=True).group_key == ext.group_key


@pytest.mark.parametrize("flag", ["--extension", "--internal"])
def test_extension_flags_are_managed(flag):
    with pytest.raises(ConfigurationError, match="RustExtension|internal extensions"):
        BundlingOptions(cargo_lambda_flags=[flag]).validate()


def test_architecture_mismatch_names_both_and_the_fix():
    assert architecture_mismatch("S/Ext", "arm64", "S/Fn", "arm64") is None
    message = architecture_mismatch("S/Ext", "arm64", "T/Fn", "x86_64")
    assert "S/Ext" in message and "T/Fn" in message
    assert "arm64" in message and "x86_64" in message
    assert "exec format error" in message
    assert "architecture=lambda_.Architecture.X86_64" in message


def test_unzipped_size_warning_only_over_the_limit():
    mib = 1024 * 1024
    assert unzipped_size_warning("S/Fn", 10 * mib, [("S/Ext", 5 * mib)]) is None
    exact = UNZIPPED_LIMIT_BYTES - 5 * mib
    assert unzipped_size_warning("S/Fn", exact, [("S/Ext", 5 * mib)]) is None
    message = unzipped_size_warning("S/Fn", 200 * mib, [("S/Ext", 40 * mib), ("S/L2", 20 * mib)])
    assert message is not None
    assert "S/Fn" in message and "S/Ext 40.0 MiB" in message and "260.0 MiB" in message
    assert "250 MiB" in message
