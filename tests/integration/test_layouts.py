"""Every crate layout built for real through RustFunction and invoked through the emulator."""

import os
import subprocess

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import RustFunction
from constructs_rust.testing import EmulationUnavailable, bootstrap_path

pytestmark = [pytest.mark.build, pytest.mark.invoke]

# (fixture dir, manifest inside it, binary_name, expected layout, expected bin)
LAYOUTS = [
    ("single", "", None, "single", "fx_single"),
    ("sam_bootstrap", "Cargo.toml", None, "sam", "bootstrap"),
    ("multi_bin", "", "alpha", "multi_bin", "alpha"),
    ("multi_bin", "", "beta", "multi_bin", "beta"),
    ("src_bin", "", "second", "src_bin", "second"),
    ("workspace", "", "fx_api", "workspace", "fx_api"),  # workspace root + binary_name
    ("workspace", "members/worker", None, "workspace", "fx_worker"),  # member manifest
    ("root_package_workspace", "", "fx_root", "root_package_workspace", "fx_root"),
    ("root_package_workspace", "sub/Cargo.toml", None, "root_package_workspace", "fx_sub"),
]


def _has_symbol_table(path) -> bool:
    sections = subprocess.run(
        ["readelf", "--section-headers", "--wide", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return " .symtab " in sections


def test_every_layout_builds_and_answers(copy_fixture, tmp_path, emulator, capfd):
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "Layouts")
    functions = []
    for i, (fixture, manifest, binary, layout, bin_name) in enumerate(LAYOUTS):
        root = tmp_path / "crates" / fixture
        if not root.exists():
            copy_fixture(fixture)
        fn = RustFunction(
            stack,
            f"F{i}",
            manifest_path=str(root / manifest),
            binary_name=binary,
            architecture=lambda_.Architecture.X86_64,
        )
        functions.append((fn, layout, bin_name))
    app.synth()
    err = capfd.readouterr().err
    # Cold path: the first function of a workspace builds alone, the second builds the rest
    # the app uses, so multi_bin (alpha, beta) takes two runs and never builds a binary twice.
    runs = [
        line.split(" for ", 1)[0]
        for line in err.splitlines()
        if line.startswith("constructs_rust: building") and ("alpha" in line or "beta" in line)
    ]
    assert len(runs) == 2, runs
    assert "alpha" in runs[0] and "beta" not in runs[0], runs
    assert "beta" in runs[1] and "alpha" not in runs[1], runs
    for i, (fn, layout, bin_name) in enumerate(functions):
        assert fn.binary_name == bin_name
        path = bootstrap_path(fn)
        assert os.access(path, os.X_OK)
        # No manifest here sets `strip`: cargo-lambda's release default (strip=symbols) applies.
        assert not _has_symbol_table(path), f"{bin_name}: not stripped"
        event = {"n": i, "text": "héllo"}
        result = emulator.invoke(path, event)
        assert result.payload["layout"] == layout
        assert result.payload["bin"] == bin_name
        assert result.payload["input"] == event
        if layout == "workspace":
            assert result.payload["greeting"] == "hello from fx_shared"  # path dependency


def test_arm64_build_runs_under_qemu(copy_fixture, tmp_path, emulator):
    crate = copy_fixture("single")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "Arm")
    fn = RustFunction(stack, "Fn", manifest_path=str(crate))  # default architecture: arm64
    app.synth()
    path = bootstrap_path(fn)
    assert path.read_bytes()[18] == 0xB7, "ELF e_machine must be EM_AARCH64"
    try:
        result = emulator.invoke(path, {"arch": "arm"})  # run as arm64: read from the header
    except EmulationUnavailable as exc:
        pytest.skip(str(exc))
    assert result.payload["input"] == {"arch": "arm"}


def test_al2_binary_needs_only_glibc_2_26(copy_fixture, tmp_path):
    crate = copy_fixture("single")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "Al2")
    fn = RustFunction(
        stack,
        "Fn",
        manifest_path=str(crate),
        runtime=lambda_.Runtime.PROVIDED_AL2,
        acknowledge_deprecated_runtime=True,
        architecture=lambda_.Architecture.X86_64,
    )
    app.synth()
    symbols = subprocess.run(
        ["objdump", "-T", str(bootstrap_path(fn))], capture_output=True, text=True, check=True
    ).stdout
    versions = {
        tuple(int(x) for x in v.split("."))
        for v in __import__("re").findall(r"GLIBC_([0-9.]+)\)", symbols)
    }
    assert versions and max(versions) <= (2, 26), sorted(versions)
