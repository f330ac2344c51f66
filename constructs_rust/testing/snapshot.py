"""Stable snapshots of synthesized templates: asset hashes replaced by placeholders.

A template holding a Rust function changes on every edit of its source, because the asset
hash (the S3 key of the zip, the tag of the image, the ``aws:asset:*`` metadata) is in it.
:func:`normalize_template` replaces exactly those values by numbered placeholders, in order of
appearance, so two resources sharing an asset still share a placeholder; every other value of
the template (memory size, architecture, handler, environment, a 64-hex string of the user's
own) is left as it is. Pure: no CDK import, no side effects.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterator, Set

__all__ = ["normalize_template", "snapshot_template"]

_HASH = re.compile(r"\b[0-9a-f]{64}\b")
#: Properties of a resource that name its asset (Lambda Code, layer Content, image repository
#: and digest fields); anything of a hash shape beneath them is an asset hash.
_ASSET_PROPERTIES = ("Code", "Content", "ImageUri", "SourceObjectKeys")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _asset_hashes(template: Dict[str, Any]) -> Set[str]:
    """The hashes that identify an asset: in a resource's asset properties or in its
    ``aws:asset:*`` metadata."""
    found: Set[str] = set()
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        return found
    for resource in resources.values():
        if not isinstance(resource, dict):
            continue
        properties = resource.get("Properties")
        if isinstance(properties, dict):
            for name in _ASSET_PROPERTIES:
                for text in _strings(properties.get(name)):
                    found.update(_HASH.findall(text))
        metadata = resource.get("Metadata")
        if isinstance(metadata, dict):
            for key, value in metadata.items():
                if key.startswith("aws:asset:"):
                    for text in _strings(value):
                        found.update(_HASH.findall(text))
    return found


def normalize_template(template: Any) -> Any:
    """``template`` (a ``Template.to_json()`` dict) with each asset hash replaced by
    ``<asset-hash-N>``: N counts distinct hashes in order of appearance (keys sorted), so the
    same asset gets the same placeholder wherever it appears (S3 key, image tag, metadata,
    outputs). Other values are untouched."""
    hashes = _asset_hashes(template) if isinstance(template, dict) else set()
    text = json.dumps(template, indent=1, sort_keys=True)
    seen: Dict[str, str] = {}

    def repl(match: "re.Match[str]") -> str:
        value = match.group(0)
        if value not in hashes:
            return value
        return seen.setdefault(value, f"<asset-hash-{len(seen) + 1}>")

    return json.loads(_HASH.sub(repl, text))


def snapshot_template(stack: Any) -> Any:
    """The normalised template of ``stack`` (a ``cdk.Stack``), ready to compare with a syrupy
    snapshot::

        assert snapshot_template(stack) == snapshot(extension_class=JSONSnapshotExtension)
    """
    from aws_cdk.assertions import Template

    return normalize_template(Template.from_stack(stack).to_json())
