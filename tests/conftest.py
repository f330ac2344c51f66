"""Shared test fixtures: paths, CDK app factories, and THE one place volatile template values
are normalised for snapshots."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "crates"
LAMBDAS = ROOT / "lambdas"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Library caches (metadata, tool versions) go to a per-session temp dir."""
    os.environ["CONSTRUCTS_RUST_CACHE_DIR"] = str(tmp_path_factory.mktemp("constructs-rust-cache"))


@pytest.fixture
def copy_fixture(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a fixture crate (and the shared mini runtime) to a temp dir; return the copy."""

    def _copy(name: str, dest_name: str = "") -> Path:
        base = tmp_path / (dest_name or "crates")
        base.mkdir(parents=True, exist_ok=True)
        shutil.copy2(FIXTURES / "mini_runtime.rs", base / "mini_runtime.rs")
        target = base / name
        shutil.copytree(FIXTURES / name, target, ignore=shutil.ignore_patterns("target"))
        return target

    return _copy


def skip_bundling_app(**context: Any):
    """A CDK app whose stacks need no bundling: no cargo, no Docker (construct tests)."""
    import aws_cdk as cdk

    return cdk.App(context={"aws:cdk:bundling-stacks": [], **context})


_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def normalize_template(template: Any) -> Any:
    """Replace asset hashes (and S3 keys built from them) by stable placeholders.

    The ONE place volatile values are normalised; snapshots change only when the template
    really changes. Each distinct hash gets a numbered placeholder in order of appearance, so
    a snapshot still shows which resources share an asset.
    """
    text = json.dumps(template, indent=1, sort_keys=True)
    seen: dict = {}

    def repl(match: re.Match) -> str:
        return seen.setdefault(match.group(0), f"<asset-hash-{len(seen) + 1}>")

    return json.loads(_HASH.sub(repl, text))
