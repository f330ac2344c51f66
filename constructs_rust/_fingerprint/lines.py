"""The STATIC input lines of the asset hash that are not trees: the fingerprint's version, the
build settings, the workspace root files and sections, cargo config, the dependency graph,
environment values and extra files; and the stand-in hash of an asset that is not bundled."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

from .._cargo import cargo_config
from .._cargo.depgraph import Graph, Lock, read_manifest
from .._cargo.metadata import Workspace
from .._cargo.targets import Target
from .._support.disk_memo import digest
from ..options import BundlingOptions
from .record import Record
from .tree import file_digest, read_digest, rel

VERSION = "constructs-rust-fingerprint-v3"


#: Files of the workspace root that count as a whole.
ROOT_FILES = ("rust-toolchain", "rust-toolchain.toml", "CargoLambda.toml")


#: Root-manifest sections that change binaries without showing in the resolved graph
#: (``[workspace.dependencies]`` acts through the graph: versions, and features per node).
ROOT_SECTIONS = (
    ("profile",),
    ("patch",),
    ("replace",),
    ("workspace", "package"),
    ("workspace", "metadata"),
    ("package", "metadata"),
)


def secret_digest(name: str, value: str) -> str:
    """How a build-environment VALUE enters the fingerprint: a digest, never the value.

    Values of ``BundlingOptions.environment`` and of host variables can be secrets (private
    registry tokens); the lines end up in the remote cache's manifest and in
    ``CONSTRUCTS_RUST_EXPLAIN`` output, so only this digest (salted with the name) appears.
    """
    return "sha256:" + digest(["constructs-rust-env-v1", name, value])[:32]


#: The built-in profiles ``cargo lambda build`` uses, with cargo's default for incremental
#: compilation in each (the value ``CARGO_INCREMENTAL`` would have to differ from).
_BUILT_IN_PROFILES = {"release": "0", "dev": "1"}


def output_changing_host_variables(options: BundlingOptions, target: Target) -> List[str]:
    """Host variables a local build inherits that change the binary: the built profile's
    ``CARGO_PROFILE_<NAME>_*`` (a custom profile's also ``RELEASE``/``DEV``, which it may
    inherit), ``CARGO_INCREMENTAL`` where it differs from the profile's default, the target's
    ``CARGO_TARGET_<TRIPLE>_*`` (linker, rustflags) and the rustflags variables cargo reads.
    Others stay out, so a CI runner's usual ``CARGO_INCREMENTAL=0`` or
    ``CARGO_PROFILE_DEV_DEBUG=0`` does not split a team's release hashes."""
    profiles = [options.profile.upper().replace("-", "_")]
    if options.profile not in _BUILT_IN_PROFILES:
        profiles += ["RELEASE", "DEV"]
    prefixes = tuple(f"CARGO_PROFILE_{p}_" for p in profiles)
    triple = target.triple.upper().replace("-", "_")
    names = [
        name
        for name in os.environ
        if name.startswith(prefixes)
        or (name.startswith(f"CARGO_TARGET_{triple}_") and not name.endswith("_RUNNER"))
        or name in ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS")
    ]
    incremental = os.environ.get("CARGO_INCREMENTAL")
    if incremental is not None and incremental != _BUILT_IN_PROFILES.get(options.profile):
        names.append("CARGO_INCREMENTAL")
    return sorted(name for name in names if name not in options.environment)


def build_settings(options: BundlingOptions, target: Target, use_docker: bool) -> List[str]:
    """Everything about HOW a binary is built, as stable strings (grouping key + fingerprint).

    Environment variable NAMES appear in clear, their VALUES only as ``secret_digest``.
    """
    hooks = options.command_hooks
    # A container gets the variables of docker_env_files too (environment wins).
    environment = options.container_environment() if use_docker else dict(options.environment)
    settings = [
        f"target={target.cargo_lambda_target}",
        f"profile={options.profile}",
        f"features={','.join(sorted(options.features))}",
        f"no_default_features={options.no_default_features}",
        f"flags={chr(31).join(options.effective_flags())}",
        "environment="
        + chr(31).join(f"{k}={secret_digest(k, v)}" for k, v in sorted(environment.items())),
        "before_build=" + chr(31).join(hooks.before_build if hooks else ()),
        "after_build=" + chr(31).join(hooks.after_build if hooks else ()),
        f"mode={'docker ' + options.docker_image if use_docker else 'local'}",
    ]
    if target.musl:  # its own line (the target line says it too); glibc hashes are unchanged
        settings.append("libc=musl")
    if options.auditable:  # its own line: the hash of a function without it is unchanged
        settings.append("auditable=cargo-auditable")
    if not use_docker:  # a local build inherits the host environment; a container does not
        settings.extend(
            f"host_env={name}={secret_digest(name, os.environ[name])}"
            for name in output_changing_host_variables(options, target)
        )
    return settings


def standin(
    *, binary_name: Optional[str], options: BundlingOptions, target: Target, kind: Sequence[str]
) -> str:
    """The hash of an asset whose stack is not bundled (``cdk ls``, ``-e OtherStack``): from
    the options only, so no cargo runs."""
    settings = build_settings(options, target, options.force_docker)
    return digest(["standin", binary_name or "", *settings, *kind])


def ca_bundle() -> Tuple[str, str]:
    """The CA bundle a FROM-scratch image carries, and the line naming it.

    certifi's (Mozilla's roots): the same bytes on every machine with the same certifi
    version, so the image's hash never depends on the host's trust store or paths. Its content
    is in the image context (CDK hashes it) and its line in the Dockerfile's label."""
    import certifi

    path = Path(certifi.where())
    text = path.read_text(encoding="utf-8")
    return text, f"certifi {certifi.__version__} sha256:{hashlib.sha256(text.encode()).hexdigest()}"


def graph_lines(graph: Graph, lock: Lock, workspace: Workspace) -> List[str]:
    """Registry and git packages with versions, checksums and features; path packages with
    the features they are compiled with (their sources count as trees)."""
    lines = []
    for n in graph.nodes:
        macro = " proc-macro" if n.proc_macro else ""
        if n.path is None:
            checksum = lock.checksums(n.name, n.version) or "-"
            lines.append(
                f"dep {n.name} {n.version} {n.source}{macro} features=[{n.features}] "
                f"checksum={checksum}"
            )
        else:
            lines.append(f"path {rel(workspace, n.path)} {n.name}{macro} features=[{n.features}]")
    return lines


def root_lines(workspace: Workspace) -> List[str]:
    manifest = read_manifest(workspace.root_manifest)
    lines: List[str] = []
    if manifest is None:
        lines.append("root Cargo.toml=unreadable")
    else:
        for section in ROOT_SECTIONS:
            value: Any = manifest
            for part in section:
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                lines.append(f"root [{'.'.join(section)}]={_json_digest(value)}")
    for name in ROOT_FILES:
        lines.append(f"root {name}={file_digest(workspace.root / name)}")
    return lines


def _json_digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def config_lines(workspace: Workspace, use_docker: bool) -> List[str]:
    """The output-changing tables of each cargo config file the build reads (a Docker build
    reads the workspace root's own only)."""
    lines = []
    for config in cargo_config.config_files(workspace.root, include_outside=not use_docker):
        for table, value in sorted(cargo_config.output_tables(config.data).items()):
            lines.append(f"config {config.label} [{table}]={_json_digest(value)}")
    return lines


def env_value(name: str, options: BundlingOptions, use_docker: bool) -> Optional[str]:
    """The value a build sees for ``name``: the bundling environment (in a container also
    its env files), else (locally) the host's; a container sees no host variable."""
    if use_docker:
        return options.container_environment().get(name)
    if name in options.environment:
        return options.environment[name]
    return os.environ.get(name)


def extra_lines(
    workspace: Workspace, record: Record, options: BundlingOptions, use_docker: bool
) -> List[str]:
    lines = [
        f"read {f}={read_digest(workspace.root / f, workspace.target_dir)}" for f in record.files
    ]
    for name in record.env:
        value = env_value(name, options, use_docker)
        lines.append(f"env {name}={'unset' if value is None else secret_digest(name, value)}")
    return lines
