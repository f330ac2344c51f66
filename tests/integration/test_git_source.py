"""A function built for real from a git source (a local bare repository holding the `single`
fixture crate, file:// only): the commit is in the hash, the same commit clones and builds
nothing again, a moved branch rebuilds, a tag or commit id naming the same commit shares the
asset, and no URL or cache path reaches the cloud assembly."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import GitSource, RustFunction
from constructs_rust._cargo import git_source
from constructs_rust._support import processes as runner
from constructs_rust.testing import bootstrap_path

from ..conftest import FIXTURES
from ..unit.test_git_source import Repo

pytestmark = [pytest.mark.build]


def _synth(outdir: Path, source: GitSource) -> Tuple[str, Path]:
    app = cdk.App(outdir=str(outdir))
    fn = RustFunction(
        cdk.Stack(app, "S"),
        "Fn",
        manifest_path="single",
        git=source,
        architecture=lambda_.Architecture.X86_64,
    )
    app.synth()
    return fn.node.find_child("Code").asset_hash, bootstrap_path(fn)


def test_git_source_builds_once_per_commit(tmp_path, monkeypatch, capfd):
    cache = tmp_path / "cache"
    monkeypatch.setenv("CONSTRUCTS_RUST_CACHE_DIR", str(cache))
    monkeypatch.setenv("CONSTRUCTS_RUST_EXPLAIN", "1")
    repo = Repo(tmp_path)
    files = {"mini_runtime.rs": (FIXTURES / "mini_runtime.rs").read_text()}
    for path in (FIXTURES / "single").rglob("*"):
        if path.is_file() and "target" not in path.parts:
            files[f"single/{path.relative_to(FIXTURES / 'single').as_posix()}"] = path.read_text()
    first = repo.commit(files)
    repo.tag("v1")

    builds: List[Sequence[str]] = []
    real_stream = runner.stream

    def counting(argv: Sequence[str], **kw: Dict):
        builds.append(list(argv))
        return real_stream(argv, **kw)

    monkeypatch.setattr(runner, "stream", counting)
    fetches: List[List[str]] = []
    real_git = git_source._git

    def recording(args, **kw):
        fetches.append(list(args))
        return real_git(args, **kw)

    monkeypatch.setattr(git_source, "_git", recording)

    hash_a, boot_a = _synth(tmp_path / "out-a", GitSource(remote=repo.url, reference="main"))
    err = capfd.readouterr().err
    assert f"fingerprint input: source git commit={first}" in err
    assert len(builds) == 1 and any(c[0] == "fetch" for c in fetches)
    assert os.access(boot_a, os.X_OK) and b'"layout":"single"' in boot_a.read_bytes()
    for path in (tmp_path / "out-a").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".out"):
            text = path.read_text()
            assert str(cache) not in text and str(repo.bare) not in text, path

    # The same commit by tag: same asset, no clone, no build.
    builds.clear()
    fetches.clear()
    hash_b, _ = _synth(tmp_path / "out-b", GitSource(remote=repo.url, reference="v1"))
    assert hash_b == hash_a
    assert builds == [] and [c[0] for c in fetches] == ["ls-remote"], fetches

    # The branch moves: a new commit, a new hash, one build, and the history says why.
    src = (repo.work / "single" / "src" / "main.rs").read_text()
    second = repo.commit(
        {"single/src/main.rs": src.replace('"layout":"single"', '"layout":"moved"')}
    )
    builds.clear()
    hash_c, boot_c = _synth(tmp_path / "out-c", GitSource(remote=repo.url, reference="main"))
    err = capfd.readouterr().err
    assert hash_c != hash_a and len(builds) == 1
    assert b'"layout":"moved"' in boot_c.read_bytes()
    assert f"+ source git commit={second}" in err and f"- source git commit={first}" in err

    # The first commit by id: its checkout and artifact are cached.
    builds.clear()
    fetches.clear()
    hash_d, boot_d = _synth(tmp_path / "out-d", GitSource(remote=repo.url, reference=first))
    assert hash_d == hash_a and builds == [] and fetches == []
    assert boot_d.read_bytes() == boot_a.read_bytes()
    shutil.rmtree(tmp_path / "out-a")
