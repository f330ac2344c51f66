"""Fixtures for the local-deploy tests: the emulator driver from scripts/ and a shared moto."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import deploy_local  # noqa: E402


def require_tools(*names: str) -> None:
    for name in names:
        tool = deploy_local._bin(name)
        if not (Path(tool).exists() or shutil.which(tool)):
            pytest.skip(f"{name} is not installed (run `make setup`)")


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One moto server for a module's probes (each probe uses its own uniquely named stacks)."""
    require_tools("moto_server")
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with deploy_local.MotoServer(log_path=log) as server:
        yield server.endpoint


@pytest.fixture
def aws_session(moto_endpoint: str):  # noqa: ANN201
    import boto3

    # A session whose every client talks to the emulator, whatever the caller's environment.
    session = boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=deploy_local.REGION,
    )
    original = session.client

    def client(service: str, **kwargs):  # noqa: ANN003, ANN202
        kwargs.setdefault("endpoint_url", moto_endpoint)
        return original(service, **kwargs)

    session.client = client  # type: ignore[method-assign]
    return session
