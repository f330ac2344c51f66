"""Shared test fixtures: paths, CDK app factories, and THE one place volatile template values
are normalised for snapshots."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from deploy_local import node_major  # noqa: E402

# jsii's end-of-life banner is silenced by NAMING the Node major ("1" silences nothing).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", node_major())
FIXTURES = ROOT / "tests" / "fixtures" / "crates"
LAMBDAS = ROOT / "lambdas"


#: Test scopes that take longest (worker time measured with ``--durations``, warm and right after
#: a fresh clone's ``make synth``), most expensive first. xdist hands scopes out in this order
#: and the cheap ones fill in behind them; its own order (most tests first) left one-test modules
#: like the wheel or deploy test for the end, on one worker while the other idled.
HEAVIEST_FIRST = (
    "tests/integration/test_readme_own_app.py",  # a new app: cdk init, pip, cold build, moto
    "tests/integration/test_extension.py",  # cold after `make synth`: x86_64 build, cargo test
    "tests/docker",
    "tests/integration/test_reliability.py",
    "tests/integration/test_remote_cache.py",
    "tests/deploy/test_deploy_local.py",
    "tests/integration/test_layouts.py",
    "tests/deploy/test_deploy_extension.py",
    "tests/integration/test_wheel.py",
    "tests/integration/test_hash_precision.py",
    "tests/integration/test_cli.py",
)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """How pytest-xdist splits the suite (`make test` runs ``-n auto``): by test module, so a
    module's fixtures (built crates, moto servers) are set up once, and all of ``tests/docker``
    as ONE unit on one worker, which runs the session's private engine (one data root, one
    kernel binfmt registration for the session); ``HEAVIEST_FIRST`` scopes first. (``--dist
    loadgroup`` would do the grouping with marks, but xdist 3.8 cannot re-key pytest 9's node
    ids, so its groups are ignored.)"""
    from collections import OrderedDict

    from xdist.scheduler import LoadScopeScheduling

    def rank(scope: str) -> int:
        return HEAVIEST_FIRST.index(scope) if scope in HEAVIEST_FIRST else len(HEAVIEST_FIRST)

    class ModuleScheduling(LoadScopeScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith("tests/docker/"):
                return "tests/docker"
            return nodeid.split("::", 1)[0]

        def _assign_work_unit(self, node: Any) -> None:
            if not self.ordered:  # once, before the first unit goes out (sorted() is stable)
                self.workqueue = OrderedDict(
                    sorted(self.workqueue.items(), key=lambda u: rank(u[0]))
                )
                self.ordered = True
            super()._assign_work_unit(node)

    return ModuleScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Library caches (metadata, tool versions) go to a per-session temp dir."""
    os.environ["CONSTRUCTS_RUST_CACHE_DIR"] = str(tmp_path_factory.mktemp("constructs-rust-cache"))


@pytest.fixture(autouse=True)
def _fresh_default_session() -> None:
    """Every test starts with an empty default session (the state of calls made outside any
    app); each CDK app a test builds has its own session anyway."""
    from constructs_rust._support import session

    session.default().reset()


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


#: The app's context from cdk.json (the feature flags `cdk synth` applies), so construct tests
#: and snapshots see the templates the CLI synthesizes.
CDK_JSON_CONTEXT: dict = json.loads((ROOT / "cdk.json").read_text())["context"]


def skip_bundling_app(**context: Any):
    """A CDK app whose stacks need no bundling: no cargo, no Docker (construct tests), with
    cdk.json's feature flags."""
    import aws_cdk as cdk

    return cdk.App(context={**CDK_JSON_CONTEXT, "aws:cdk:bundling-stacks": [], **context})


#: THE one place volatile template values are normalised: the public normaliser users get.
from constructs_rust.testing import normalize_template  # noqa: E402,F401


@pytest.fixture(scope="session")
def docker_engine():
    """A private Docker engine for the session (tests/docker/engine.py), stopped by its PID at
    the end, also on failure. Skips, with the reason, where dockerd cannot run."""
    from tests.docker.engine import EngineUnavailable, start_engine

    try:
        engine = start_engine()
    except EngineUnavailable as exc:
        pytest.skip(f"needs a Docker engine: {exc}")
    previous = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = engine.host
    try:
        yield engine
    finally:
        if previous is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = previous
        engine.stop()


@pytest.fixture(scope="session")
def docker_standins(docker_engine):
    """The local stand-ins of the pinned images, loaded from (or built into) the image cache."""
    from tests.docker.engine import EngineUnavailable, ensure_standins

    try:
        standins = ensure_standins(docker_engine)
    except EngineUnavailable as exc:
        pytest.skip(f"cannot build the Docker stand-in images: {exc}")
    print(
        f"\n[docker] engine up in {docker_engine.started_seconds:.1f} s; stand-ins "
        + ", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in standins.sizes.items())
        + "; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in standins.seconds.items())
    )
    return standins


@pytest.fixture(scope="session")
def arm64_binfmt(docker_engine):
    """qemu-aarch64 registered in the kernel for the session (undone at the end), so arm64
    images run; ``.problem`` says why not when that is impossible."""
    from tests.docker.engine import ensure_arm64_binfmt

    binfmt = ensure_arm64_binfmt()
    try:
        yield binfmt
    finally:
        binfmt.undo()
