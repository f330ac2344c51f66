"""Construct tests that compile nothing: an app under which no stack is bundled.

CDK's own convention: the ``aws:cdk:bundling-stacks`` context lists the stacks to bundle; an
empty list bundles none. Under it a RustFunction / RustDockerImageFunction runs no cargo (not
even ``cargo metadata``) and no Docker, and its template is complete except for the code's real
content (the asset is a placeholder). Checks that need the binary or the crate's dependency
graph (binary names from ``cargo metadata``, the built ELF's architecture, Managed Instances'
binary checks) do not run then.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BUNDLING_STACKS_CONTEXT", "no_bundling_app"]

#: The CDK context key that selects which stacks are bundled (``[]``: none).
BUNDLING_STACKS_CONTEXT = "aws:cdk:bundling-stacks"


def no_bundling_app(**context: Any) -> Any:
    """A ``cdk.App`` (with ``context`` added) whose stacks are not bundled: for construct tests
    with ``Template.from_stack`` that must run no cargo and no Docker."""
    import aws_cdk as cdk

    return cdk.App(context={**context, BUNDLING_STACKS_CONTEXT: []})
