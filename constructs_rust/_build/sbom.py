"""The CycloneDX SBOM of one function (``BundlingOptions(auditable=True)``), from the dependency
graph its binary is built with (``_cargo/depgraph``: cargo's own resolve for the function's
target and features, normal and build dependencies), written with cyclonedx-python-lib. The
graph records packages, not the edges between them: the function depends on its manifest's
direct (normal and build) dependencies, and no other edge is claimed.

It is written beside the cloud assembly, ``<cdk.out>/sbom/<construct path>.cdx.json``, at
every synth (from the graph already in memory: no cargo), outside every asset directory, so it
is never part of an asset hash. Its content depends on the graph alone: the serial number is
derived from the function's fingerprint and no timestamp is written, so an unchanged function
keeps a byte-identical SBOM.
"""

from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path
from typing import Any, Dict, List, Mapping, Set

from .._cargo.depgraph import Node, read_manifest
from .._support import paths
from .request import BuildRequest

#: CycloneDX property names (the ``cdx:`` taxonomy has none for cargo features).
FEATURES_PROPERTY = "constructs-rust:cargo:features"
SOURCE_PROPERTY = "constructs-rust:cargo:source"


def _purl(node: Node) -> object:
    """The package URL of a registry or git package (None for a path package)."""
    from packageurl import PackageURL

    if node.path is not None:
        return None
    qualifiers: Dict[str, str] = {}
    if node.source.startswith("registry"):
        qualifiers["repository_url"] = node.source
    elif node.source != "crates.io":
        qualifiers["vcs_url"] = f"git+{node.source}"
    return PackageURL(type="cargo", name=node.name, version=node.version, qualifiers=qualifiers)


def _direct_names(manifest: Mapping[str, Any]) -> Set[str]:
    """The package names of a manifest's normal and build dependencies (renames resolved)."""
    tables = [manifest]
    tables += [t for t in (manifest.get("target") or {}).values() if isinstance(t, dict)]
    names: Set[str] = set()
    for table in tables:
        for kind in ("dependencies", "build-dependencies"):
            for key, spec in (table.get(kind) or {}).items():
                renamed = spec.get("package") if isinstance(spec, dict) else None
                names.add(str(renamed or key))
    return names


def sbom_json(request: BuildRequest) -> str:
    """The SBOM of ``request``'s binary as CycloneDX 1.6 JSON."""
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentScope, ComponentType
    from cyclonedx.output.json import JsonV1Dot6

    root_name, root_version = request.package.name, request.package.version
    root = Component(
        name=request.binary,
        version=root_version,
        type=ComponentType.APPLICATION,
        bom_ref=f"{root_name}@{root_version}#bin:{request.binary}",
        description=f"AWS Lambda {'extension' if request.extension else 'function'} "
        f"{request.construct_path} ({request.target.triple})",
    )
    components: List[Component] = []
    for node in sorted(request.graph.nodes, key=lambda n: (n.name, n.version, n.source)):
        if node.name == root_name and node.version == root_version and node.path is not None:
            continue  # the function's own package is the metadata component
        properties = [Property(name=SOURCE_PROPERTY, value=node.source)]
        if node.features:
            properties.append(Property(name=FEATURES_PROPERTY, value=node.features))
        purl = _purl(node)
        components.append(
            Component(
                name=node.name,
                version=node.version,
                type=ComponentType.LIBRARY,
                scope=ComponentScope.EXCLUDED if node.proc_macro else ComponentScope.REQUIRED,
                purl=purl,  # type: ignore[arg-type]
                bom_ref=f"{node.name}@{node.version} {node.source}",
                properties=properties,
            )
        )
    direct = _direct_names(read_manifest(request.package.manifest_path) or {})
    bom_direct = [c for c in components if c.name in direct]
    metadata = BomMetaData(component=root)
    metadata.timestamp = None  # type: ignore[assignment]
    bom = Bom(
        serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"constructs-rust:{request.fingerprint}"),
        metadata=metadata,
    )
    for component in components:
        bom.components.add(component)
    bom.register_dependency(root, bom_direct)
    with warnings.catch_warnings():  # a function without dependencies is complete as it is
        warnings.filterwarnings("ignore", message=".*Dependency Graph is incomplete")
        return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def write_sbom(request: BuildRequest, outdir: Path) -> Path:
    """Write ``request``'s SBOM under ``outdir`` (the cloud assembly) and return its path; the
    file is replaced atomically and left alone when its content is unchanged."""
    target = paths.sbom_file(outdir, request.construct_path)
    text = sbom_json(request)
    try:
        if target.read_text(encoding="utf-8") == text:
            return target
    except OSError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, target)
    return target
