"""CDK glue: the asset of a Rust function and its deferred build.

``plan_bundle`` resolves the crate and binary (through cargo metadata), fingerprints the
inputs and returns a ``lambda_.Code`` whose asset hash IS that fingerprint (AssetHashType
CUSTOM). CDK therefore skips staging when ``cdk.out/asset.<fingerprint>`` already exists, and
the build itself happens later (see _build/queue.py). When the stack does not need bundling
(``cdk ls``, ``cdk synth -e OtherStack``, the ``aws:cdk:bundling-stacks`` context set to
``[]``), nothing runs: no cargo, no Docker, and the asset hash is a stand-in derived from the
options only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, List, Optional, Sequence

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct, IValidation

from .._build import pipeline, replay
from .._build.queue import queue_for
from .._build.request import PLACEHOLDER, BuildRequest
from .._build.run import verifying
from .._build.sbom import write_sbom
from .._build.stage import install_if_cached
from .._cargo import git_source, metadata
from .._cargo.targets import Target
from .._fingerprint import extra_files
from .._fingerprint import lines as fingerprint_lines
from .._support import reporting, session, timing
from .._support.disk_memo import cache_root
from ..errors import ConfigurationError, redact
from ..options import BundlingOptions, GitSource


@jsii.implements(cdk.ILocalBundling)
class _DeferredBundling:
    """CDK's local bundler for Rust assets: leaves a placeholder; the build comes later."""

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        Path(output_dir, PLACEHOLDER).write_text(
            "constructs_rust replaces this file with the bootstrap binary when the app is "
            "synthesized\n"
        )
        return True


@jsii.implements(IValidation)
class _BuildOnSynth:
    def __init__(self, request: BuildRequest, root: IConstruct) -> None:
        self._request = request
        self._root = root

    def validate(self) -> List[str]:
        with session.session_for(self._root).active():
            error = pipeline.ensure(queue_for(self._root), self._request)
        return [reporting.note_validation_error(error)] if error else []


@dataclass(frozen=True)
class BundlePlan:
    code: lambda_.Code
    request: Optional[BuildRequest]
    """None when the stack does not need bundling."""
    binary: Optional[str]
    package_directory: Path
    manifest: Optional[Path] = None
    """The crate's or workspace's manifest, when ``local serve`` may rebuild the asset without
    the app (``_build/replay.py``): not for a git source or an extension."""
    binary_name: Optional[str] = None
    """The binary as the construct was given it."""


def _standin_dir() -> Path:
    """An empty directory standing in for a git source's crate when bundling is skipped (CDK
    needs an existing asset path; nothing is cloned for ``cdk ls``)."""
    path = cache_root() / "git" / "standin"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _bundling(options: BundlingOptions) -> cdk.BundlingOptions:
    # The image is never run by CDK (the local bundler always succeeds); from_registry costs
    # nothing until used. Docker builds are run by _build/invoke.py with the same argv as local
    # ones.
    return cdk.BundlingOptions(
        image=cdk.DockerImage.from_registry(options.docker_image),
        local=_DeferredBundling(),
    )


@timing.per_function
def plan_bundle(
    scope: Construct,
    *,
    manifest_path: str,
    binary_name: Optional[str],
    target: Target,
    options: BundlingOptions,
    construct_path: str,
    extension: bool = False,
    extra: Sequence[extra_files.Resolved] = (),
    git: Optional[GitSource] = None,
) -> BundlePlan:
    """Resolve the binary, fingerprint its inputs and return the asset code (no build yet).
    ``extra``: files added to the zip next to the binary (their lines join the asset hash).
    ``git``: the workspace is a checkout of this repository; ``manifest_path`` is inside it."""
    zip_lines = tuple(extra_files.lines(extra))
    # An extension is staged elsewhere in the asset (extensions/<binary>): its own identity.
    kind = ["kind=extension"] if extension else []
    source: List[str] = []
    if git is not None:
        inside = git_source.check_path(manifest_path)
        if not cdk.Stack.of(scope).bundling_required:  # no network, no clone
            kind.append(f"git reference={git.reference or 'HEAD'} path={inside}")
            manifest = _standin_dir() / "Cargo.toml"
        else:
            commit = git_source.resolve(git)
            root = git_source.checkout(git, commit, construct_path=construct_path)
            try:
                manifest = metadata.normalize_manifest_path(str(root / inside))
            except ConfigurationError:
                raise ConfigurationError(
                    f"there is no Cargo.toml at this path of {redact(git.remote)} at "
                    f"commit {commit[:12]} ({git.reference or 'HEAD'})",
                    prop="manifest_path",
                    value=manifest_path,
                    fix="give the crate's or workspace's path relative to the repository root",
                ) from None
            source.append(git_source.source_line(commit))
    else:
        manifest = metadata.normalize_manifest_path(manifest_path)
    if not cdk.Stack.of(scope).bundling_required:
        code = lambda_.Code.from_asset(
            str(manifest.parent),
            asset_hash=fingerprint_lines.standin(
                binary_name=binary_name, options=options, target=target, kind=[*kind, *zip_lines]
            ),
            asset_hash_type=cdk.AssetHashType.CUSTOM,
            bundling=_bundling(options),
        )
        return BundlePlan(
            code=code, request=None, binary=binary_name, package_directory=manifest.parent
        )

    request = pipeline.plan(
        scope.node.root,
        manifest,
        binary_name,
        target=target,
        options=options,
        construct_path=construct_path,
        extension=extension,
        source=source,
        extra=extra,
    )
    package, binary, fp = request.package, request.binary, request.inputs.asset_hash
    if git is None:
        pipeline.describe(request, request.workspace.target_dir, construct_path)
    else:  # one checkout per commit: the history of the app's construct lives in the cache
        pipeline.describe(request, git_source.history_dir(), f"{os.getcwd()}\0{construct_path}")
    code = lambda_.Code.from_asset(
        str(package.directory),
        asset_hash=fp,
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=_bundling(options),
    )
    return BundlePlan(
        code=code,
        request=request,
        binary=binary,
        package_directory=package.directory,
        manifest=manifest if git is None and not extension else None,
        binary_name=binary_name,
    )


@jsii.implements(cdk.IAspect)
class _BuildBeforeSynth:
    """Runs the pending builds when the app is synthesized even if validation is skipped
    (``app.synth(skip_validation=True)``): no asset is ever written without its binary. Errors
    are reported by the validation (when it runs); a failed build leaves no asset directory."""

    def __init__(self, request: BuildRequest, root: IConstruct) -> None:
        self._request = request
        self._root = root

    def visit(self, node: IConstruct) -> None:
        if not self._request.done:
            with session.session_for(self._root).active():
                pipeline.ensure(queue_for(self._root), self._request)


def register_build(owner: Construct, plan: BundlePlan, staged_dir: Path) -> None:
    """After CDK staged the asset: install the cached binary now, or queue the build (run by an
    aspect and a validation, whichever comes first) unless the staged dir already has it."""
    if plan.request is None:
        return
    if plan.request.options.auditable:  # beside the assembly, never inside the asset
        write_sbom(plan.request, staged_dir.parent)
    if plan.manifest is not None and plan.request.image is None:
        found = replay.replay_of(
            plan.request, manifest=plan.manifest, binary_name=plan.binary_name, staged=staged_dir
        )
        replay.write(found, staged_dir)
    staged = staged_dir / plan.request.artifact_name
    if staged.is_file() and not (staged_dir / PLACEHOLDER).exists():
        return
    request = replace(plan.request, asset_dir=staged_dir)
    if request.error is None and not verifying() and install_if_cached(request):
        return
    root = owner.node.root
    queue_for(root).add(request)
    owner.node.add_validation(_BuildOnSynth(request, root))
    cdk.Aspects.of(owner).add(_BuildBeforeSynth(request, root))
