"""Extra files in the zip (``RustFunction(extra_files=...)``): validation, hash lines, staging,
and the construct-level errors (bundling skipped: no cargo)."""

from __future__ import annotations

import os
from pathlib import Path

import aws_cdk as cdk
import pytest

from constructs_rust import ConfigurationError, ExtraFile, RustFunction
from constructs_rust._fingerprint import extra_files
from constructs_rust._fingerprint.inputs import Inputs
from constructs_rust.errors import ConstructsRustError

from ..conftest import FIXTURES, skip_bundling_app


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "prod.toml").write_text("level = 'info'\n")
    (tmp_path / "certs" / "sub").mkdir(parents=True)
    (tmp_path / "certs" / "ca.pem").write_text("CA\n")
    (tmp_path / "certs" / "sub" / "leaf.pem").write_text("LEAF\n")
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(tmp_path / "run.sh", 0o755)
    return tmp_path


def test_names_default_to_the_file_name_and_rename_with_extrafile(files):
    resolved = extra_files.resolve(
        ["run.sh", ExtraFile(source="conf/prod.toml", name="config.toml"), "certs"]
    )
    assert [(r.name, r.source) for r in resolved] == [
        ("certs", files / "certs"),
        ("config.toml", files / "conf" / "prod.toml"),
        ("run.sh", files / "run.sh"),
    ]
    lines = extra_files.lines(resolved)
    assert lines[0] == "include certs/"
    assert "include certs/sub/" in lines
    assert any(line.startswith("include certs/sub/leaf.pem=") for line in lines)
    assert any(line.startswith("include config.toml=") for line in lines)
    assert [line for line in lines if line.startswith("include run.sh=")][0].endswith(":x")
    assert not any(str(files) in line for line in lines), "no host path in a hash line"


@pytest.mark.parametrize(
    "name, problem",
    [
        ("bootstrap", "would overwrite 'bootstrap'"),
        ("bootstrap/x", "would overwrite 'bootstrap'"),
        ("../x", "not a plain relative path"),
        ("a/../../x", "not a plain relative path"),
        ("./x", "not a plain relative path"),
        ("a//b", "not a plain relative path"),
        ("/etc/passwd", "is absolute"),
        ("C:x", "is absolute"),
        ("", "is empty"),
        ("a\\b", "backslash"),
    ],
)
def test_bad_names_are_errors_naming_the_name(files, name, problem):
    with pytest.raises(ConfigurationError) as err:
        extra_files.resolve([ExtraFile(source="run.sh", name=name)])
    assert problem in str(err.value) and "Fix:" in str(err.value)
    assert "extra_files name" in str(err.value)


def test_missing_source_and_overlaps_are_errors(files):
    with pytest.raises(ConfigurationError, match=r"extra_files source='nope.txt': does not exist"):
        extra_files.resolve(["nope.txt"])
    with pytest.raises(ConfigurationError, match="overlaps 'certs'"):
        extra_files.resolve(["certs", ExtraFile(source="run.sh", name="certs/run.sh")])
    with pytest.raises(ConfigurationError, match="overlaps 'run.sh'"):
        extra_files.resolve(["run.sh", ExtraFile(source="conf/prod.toml", name="run.sh")])


def test_lines_follow_content_name_and_mode_only(files):
    def lines():
        return extra_files.lines(extra_files.resolve([ExtraFile(source="conf", name="c")]))

    first = lines()
    assert lines() == first
    (files / "conf" / "prod.toml").write_text("level = 'debug'\n")
    second = lines()
    assert second != first
    os.chmod(files / "conf" / "prod.toml", 0o755)
    assert lines() != second
    renamed = extra_files.lines(extra_files.resolve([ExtraFile(source="conf", name="d")]))
    assert [line.partition("=")[2] for line in renamed] == [
        line.partition("=")[2] for line in lines()
    ]
    assert renamed != lines()
    (files / "conf" / "new.txt").write_text("")
    assert len(lines()) == len(second) + 1, "a new (even empty) file changes the lines"


def test_asset_hash_is_the_fingerprint_without_extra_files_and_differs_with_them():
    plain = Inputs(static=("a", "b"))
    assert plain.asset_hash == plain.fingerprint and plain.asset_lines == plain.lines
    with_zip = Inputs(static=("a", "b"), zip=("include x=1",))
    assert with_zip.fingerprint == plain.fingerprint, "the binary's key does not change"
    assert with_zip.asset_hash != plain.asset_hash
    assert with_zip.asset_lines == ("a", "b", "include x=1")


def test_stage_copies_keeps_mode_and_refuses_to_replace_artifact_files(files, tmp_path):
    asset = tmp_path / "asset"
    asset.mkdir()
    resolved = extra_files.resolve(
        ["run.sh", "certs", ExtraFile(source="conf/prod.toml", name="etc/app.toml")]
    )
    extra_files.stage(resolved, asset, {"bootstrap"})
    extra_files.stage(resolved, asset, {"bootstrap"})  # a second staging (shared asset dir)
    assert (asset / "etc" / "app.toml").read_text() == "level = 'info'\n"
    assert (asset / "certs" / "sub" / "leaf.pem").read_text() == "LEAF\n"
    assert os.access(asset / "run.sh", os.X_OK)
    with pytest.raises(ConstructsRustError, match="would overwrite beta.conf"):
        extra_files.stage(
            extra_files.resolve([ExtraFile(source="run.sh", name="beta.conf")]),
            asset,
            {"bootstrap", "beta.conf"},
        )


def test_construct_errors_name_the_construct_even_with_bundling_skipped(files):
    stack = cdk.Stack(skip_bundling_app(), "S")
    crate = str(FIXTURES / "single")
    with pytest.raises(ConfigurationError) as err:
        RustFunction(stack, "Fn", manifest_path=crate, extra_files=["missing.toml"])
    assert str(err.value).startswith("[S/Fn] extra_files source='missing.toml'")
    with pytest.raises(ConfigurationError, match=r"\[S/Fn2\] .*would overwrite 'bootstrap'"):
        RustFunction(
            stack,
            "Fn2",
            manifest_path=crate,
            extra_files=[ExtraFile(source="run.sh", name="bootstrap")],
        )


def test_standin_hash_follows_extra_files_with_bundling_skipped(files):
    def asset_hash(**kw) -> str:
        stack = cdk.Stack(skip_bundling_app(), "S")
        fn = RustFunction(stack, "Fn", manifest_path=str(FIXTURES / "single"), **kw)
        return fn.node.find_child("Code").asset_hash

    none = asset_hash()
    one = asset_hash(extra_files=["run.sh"])
    assert none != one
    Path("run.sh").write_text("#!/bin/sh\necho changed\n")
    assert asset_hash(extra_files=["run.sh"]) != one
