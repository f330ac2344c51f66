"""RustFunction: a lambda_.Function whose code is a Rust binary built with cargo-lambda."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct
from typing_extensions import Unpack

from ._cargo.targets import DEPRECATED_RUNTIME_WARNING, function_runtime
from ._construct.bundling import register_build
from ._construct.managed_instances import check_capacity_provider
from ._construct.rust_code import construct_path, in_app_session, plan_rust_code, warn_hooks
from ._construct.wiring import RustFunctionWiring, finish_function, prepare_function_props
from .options import BundlingOptions, ExtraFile, FunctionOptions, GitSource, UrlOptions

__all__ = ["RustFunction"]


class RustFunction(RustFunctionWiring, lambda_.Function):
    """A Lambda function running a Rust binary as ``bootstrap`` on an OS-only runtime.

    ``cdk synth`` builds the binary with ``cargo lambda build`` (zig cross-compiles; Docker
    only when cargo-lambda is missing) and deploys it as a zip on ``provided.al2023``.

    Args:
        scope: The parent construct (a ``Stack`` or another construct).
        id: The construct's id, unique within ``scope``.
        manifest_path: A ``Cargo.toml`` or a directory holding one (crate or workspace root);
            relative paths are resolved against the current working directory, or with ``git``
            against the repository's root.
        binary_name: The binary target to deploy. Default: the crate's only binary (an error
            lists them when there are several).
        runtime: The OS-only runtime. Default: ``PROVIDED_AL2023``. ``PROVIDED_AL2`` (built
            against glibc 2.26) is deprecated since 2026-07-31 and Lambda blocks creating
            functions on it from 2027-02-01 and updating them from 2027-03-03: a synth error
            unless acknowledged.
        acknowledge_deprecated_runtime: Synthesize a deprecated ``runtime``
            (``PROVIDED_AL2``) anyway, with a ``constructs_rust:deprecated-runtime`` warning.
            Default: False.
        architecture: ``ARM_64`` (default: Graviton is cheaper per GB-second) or ``X86_64``.
            The one knob: it sets the function's architecture, the build target and Docker
            platform.
        bundling: How the binary is built. Default: ``BundlingOptions()``.
        url: Add a function URL. Default: none.
        extra_files: Files or directories added to the zip next to ``bootstrap``: paths
            (relative to the working directory; each lands under its own name at the zip root)
            or ``ExtraFile(source=..., name=...)`` to rename. Their content and names join the
            asset hash; no rebuild when only they change. Default: none.
        git: Build from a git repository at a branch, tag or commit
            (``GitSource(remote=..., reference=...)``). Default: none (a local crate).
        **function_options: Every other ``aws_lambda.Function`` option, unchanged
            ([`FunctionOptions`][constructs_rust.options.FunctionOptions] lists them). Defaults
            that differ from CDK's: ``memory_size`` 256 (on a capacity provider the smallest
            size Lambda Managed Instances run, 2048 at 2 GiB per vCPU; see
            [Managed Instances](../managed-instances.md)), ``timeout`` 10 s, a log group with
            one month retention and RETAIN removal (``log_retention``/``log_removal_policy``
            configure it), and a role that may only write to that log group.
    """

    @in_app_session
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        manifest_path: str,
        binary_name: Optional[str] = None,
        runtime: Optional[lambda_.Runtime] = None,
        acknowledge_deprecated_runtime: bool = False,
        architecture: Optional[lambda_.Architecture] = None,
        bundling: Optional[BundlingOptions] = None,
        url: Optional[UrlOptions] = None,
        extra_files: Optional[Sequence[Union[str, ExtraFile]]] = None,
        git: Optional[GitSource] = None,
        **function_options: Unpack[FunctionOptions],
    ) -> None:
        runtime, runtime_warning = function_runtime(
            construct_path(scope, id),
            runtime,
            acknowledge_deprecated_runtime=acknowledge_deprecated_runtime,
        )
        architecture = architecture or lambda_.Architecture.ARM_64
        bundling = bundling or BundlingOptions()
        plan = plan_rust_code(
            scope,
            id,
            manifest_path=manifest_path,
            binary_name=binary_name,
            architecture=architecture,
            runtime=runtime,
            bundling=bundling,
            extra=extra_files or (),
            git=git,
        )
        props, wiring = prepare_function_props(construct_path(scope, id), dict(function_options))
        super().__init__(
            scope,
            id,
            code=plan.code,
            handler="bootstrap",
            runtime=runtime,
            architecture=architecture,
            **props,
        )
        self.binary_name: Optional[str] = plan.binary
        """The binary deployed (None when bundling was skipped and no name was given)."""
        self._rust_log_group, function_url = finish_function(self, wiring, url)
        self.url: Optional[lambda_.FunctionUrl] = function_url
        """The function URL, when ``url`` was given."""
        warn_hooks(self, bundling)
        if runtime_warning is not None:
            cdk.Annotations.of(self).add_warning_v2(DEPRECATED_RUNTIME_WARNING, runtime_warning)
        check_capacity_provider(
            self,
            memory_given="memory_size" in function_options,
            graph=plan.request.graph if plan.request is not None else None,
        )
        asset = self.node.try_find_child("Code")
        stage = cdk.Stage.of(self)
        if plan.request is not None and isinstance(asset, s3_assets.Asset) and stage is not None:
            register_build(self, plan, Path(stage.asset_outdir) / asset.asset_path)
