"""The docs site builds with ``mkdocs build --strict``: a broken link, anchor, page left out of
the nav or API reference (``::: module``) fails here. The other two prove the check can fail:
the same build on a copy of the docs with a broken link and anchor, or a broken reference."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..conftest import ROOT

#: What the site is built from (mkdocs.yml names docs/ and the hook; the README and
#: CONTRIBUTING.md are pages too; the API reference reads constructs_rust/).
SOURCES = ("mkdocs.yml", "docs", "README.md", "CONTRIBUTING.md", "scripts", "constructs_rust")


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_docs_build_strict(tmp_path):
    proc = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for page in ("getting-started", "contributing", "bundling", "reference/function"):
        assert (tmp_path / "site" / page / "index.html").is_file(), page
    reference = (tmp_path / "site" / "reference" / "function" / "index.html").read_text()
    assert "RustFunction" in reference and "manifest_path" in reference


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    copy.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / name)
    return copy


def test_a_broken_link_fails_the_build(tmp_path):
    copy = _copy(tmp_path)
    with (copy / "README.md").open("a") as readme:
        readme.write("\nSee [the missing page](docs/no-such-page.md).\n")
    with (copy / "docs" / "index.md").open("a") as index:
        index.write("\nSee [a missing anchor](bundling.md#no-such-anchor).\n")
    proc = _build(copy / "mkdocs.yml", tmp_path / "site")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "no-such-page.md" in output and "#no-such-anchor" in output, output


def test_a_broken_api_reference_fails_the_build(tmp_path):
    copy = _copy(tmp_path)
    with (copy / "docs" / "reference" / "errors.md").open("a") as page:
        page.write("\n::: constructs_rust.no_such_module\n")
    proc = _build(copy / "mkdocs.yml", tmp_path / "site")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "no_such_module" in output, output
