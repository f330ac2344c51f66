"""The example app, synthesized once per test session with real builds (both architectures)."""

import aws_cdk as cdk
import pytest

from constructs_rust.testing import LambdaEmulator


@pytest.fixture(scope="session")
def example_app(tmp_path_factory):
    from app import build_app

    app = build_app(cdk.App(outdir=str(tmp_path_factory.mktemp("examples") / "cdk.out")))
    assembly = app.synth()
    return app, assembly


@pytest.fixture(scope="session")
def stack_of(example_app):
    app, _ = example_app
    return lambda name: app.node.find_child(name)


@pytest.fixture(scope="module")
def emulator():
    with LambdaEmulator() as em:
        yield em
