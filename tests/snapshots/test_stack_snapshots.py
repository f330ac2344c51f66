"""One readable JSON snapshot per example stack (bundling skipped; hashes normalised in
tests/conftest.py). Regenerate with `pytest --snapshot-update` after a deliberate change."""

import pytest
from aws_cdk.assertions import Template
from syrupy.extensions.json import JSONSnapshotExtension

from stacks import (
    BuildCacheStack,
    EchoStack,
    ExtensionStack,
    HelloHttpStack,
    ManagedInstancesStack,
    MultiFunctionStack,
    PiStack,
    StaticPiStack,
    StreamingStack,
)

from ..conftest import normalize_template, skip_bundling_app


@pytest.mark.parametrize(
    "stack_class",
    [
        HelloHttpStack,
        EchoStack,
        PiStack,
        MultiFunctionStack,
        BuildCacheStack,
        ExtensionStack,
        StreamingStack,
        ManagedInstancesStack,
        StaticPiStack,
    ],
    ids=lambda c: c.__name__,
)
def test_example_stack_snapshot(stack_class, snapshot):
    stack = stack_class(skip_bundling_app(), stack_class.__name__)
    template = normalize_template(Template.from_stack(stack).to_json())
    assert template == snapshot.use_extension(JSONSnapshotExtension)
