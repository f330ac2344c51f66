"""RustExtension: a Lambda layer holding an external extension written in Rust.

The binary is built exactly like a RustFunction's (same binary resolution, preflight, Docker
fallback, fingerprint, artifact cache and deferred one-run-per-group build) with
``cargo lambda build --extension``, and staged as ``extensions/<binary>`` in the layer, where
Lambda starts it (``/opt/extensions/<binary>``) next to the function's runtime.

Two checks run at synth (they need every construct, so they are construct validations):

- the extension's architecture must be the function's: Lambda accepts the mismatch and the
  extension then dies at cold start with an exec format error;
- function code + layers must stay under Lambda's unzipped size limit; over it, a warning.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, TypedDict

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct, IValidation
from typing_extensions import Unpack

from ._build import pipeline
from ._build.queue import queue_for
from ._construct.bundling import register_build
from ._construct.rust_code import construct_path, in_app_session, plan_rust_code, warn_hooks
from ._support import session
from ._support.reporting import note_validation_error
from .errors import ConfigurationError
from .options import BundlingOptions

UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
"""Lambda's limit on a function's unzipped code plus all its layers (bytes; "250 MB")."""

DEFAULT_COMPATIBLE_RUNTIMES = (lambda_.Runtime.PROVIDED_AL2023, lambda_.Runtime.PROVIDED_AL2)
"""The runtimes an extension layer declares by default. An external extension is a process of
its own and works next to any runtime; widen ``compatible_runtimes`` to attach it to, say,
a Python function of the same architecture."""

#: Extensions are linked against Amazon Linux 2's glibc so that one layer runs on both AL2 and
#: AL2023 execution environments (the runtime decides which one the extension lands in).
_EXTENSION_BUILD_RUNTIME = lambda_.Runtime.PROVIDED_AL2

__all__ = ["RustExtension", "LayerOptions", "DEFAULT_COMPATIBLE_RUNTIMES", "UNZIPPED_LIMIT_BYTES"]


class LayerOptions(TypedDict, total=False):
    """The ``aws_lambda.LayerVersion`` options RustExtension passes through unchanged."""

    compatible_runtimes: Sequence[lambda_.Runtime]
    description: str
    layer_version_name: str
    license: str
    removal_policy: cdk.RemovalPolicy


_MANAGED_LAYER_OPTIONS = {
    "code": "the layer's content is the built extension (extensions/<binary>)",
    "compatible_architectures": "the `architecture` prop sets it (and the build target)",
}


def _check_layer_options(options: Dict[str, Any], construct_path: str) -> None:
    for key in options:
        if key in _MANAGED_LAYER_OPTIONS:
            raise ConfigurationError(
                f"is managed by RustExtension: {_MANAGED_LAYER_OPTIONS[key]}",
                prop=key,
                fix=f"remove {key}",
                construct_path=construct_path,
            )
        if key not in LayerOptions.__annotations__:
            raise ConfigurationError(
                "is not an aws_lambda.LayerVersion option",
                prop=key,
                fix="use one of " + ", ".join(sorted(LayerOptions.__annotations__)),
                construct_path=construct_path,
            )


def architecture_mismatch(
    extension_path: str, extension_arch: str, function_path: str, function_arch: str
) -> Optional[str]:
    """The synth error for an extension attached to a function of another architecture."""
    if extension_arch == function_arch:
        return None
    other = "ARM_64" if function_arch == "arm64" else "X86_64"
    return (
        f"RustExtension {extension_path} is built for {extension_arch} but is attached to "
        f"function {function_path}, which runs on {function_arch}: Lambda would accept it and "
        "the extension would fail at cold start with an exec format error.\n"
        f"  Fix: attach a RustExtension built with architecture=lambda_.Architecture.{other} "
        "to that function, or give the function the extension's architecture"
    )


def unzipped_size_warning(
    function_path: str, code_bytes: int, layers: Sequence[Tuple[str, int]]
) -> Optional[str]:
    """The synth warning when code + layers exceed Lambda's unzipped limit, else None."""
    total = code_bytes + sum(size for _, size in layers)
    if total <= UNZIPPED_LIMIT_BYTES:
        return None
    mib = 1024 * 1024
    parts = ", ".join(f"{path} {size / mib:.1f} MiB" for path, size in layers)
    return (
        f"function {function_path}: code {code_bytes / mib:.1f} MiB + layers ({parts}) = "
        f"{total / mib:.1f} MiB unzipped, over Lambda's {UNZIPPED_LIMIT_BYTES // mib} MiB limit "
        "for function code plus all layers; the deployment will be rejected. Shrink the "
        "binaries (release profile, fewer dependencies) or move code into a container image "
        "(RustDockerImageFunction)"
    )


def _tree_size(directory: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total


def _staged_dir(construct: IConstruct) -> Optional[Path]:
    """The staged asset directory of a Function's or LayerVersion's code (None: no asset)."""
    asset_path = getattr(construct.node.try_find_child("Code"), "asset_path", None)
    stage = cdk.Stage.of(construct)
    if not asset_path or stage is None:
        return None
    return Path(stage.asset_outdir) / str(asset_path)


def _staged_size(construct: IConstruct) -> Optional[int]:
    """Size of a Function's or LayerVersion's staged asset directory (None: not an asset, or
    its stack's bundling is skipped, as in ``cdk synth -e OtherStack`` or ``cdk bootstrap``:
    the asset path is then the SOURCE directory, e.g. a workspace root with its target/ dir,
    whose size means nothing and which cargo may be writing at that moment)."""
    if not cdk.Stack.of(construct).bundling_required:
        return None
    directory = _staged_dir(construct)
    return _tree_size(directory) if directory is not None and directory.is_dir() else None


def _functions_using(layer: lambda_.LayerVersion) -> Iterator[lambda_.Function]:
    """Every Function of the app that lists ``layer`` (compared as resolved references)."""
    for construct in layer.node.root.node.find_all():
        if not isinstance(construct, lambda_.Function):
            continue
        cfn = construct.node.default_child
        layers = getattr(cfn, "layers", None)
        if not layers:
            continue
        stack = cdk.Stack.of(construct)
        if stack.resolve(layer.layer_version_arn) in (stack.resolve(layers) or []):
            yield construct


def layers_of(function: lambda_.Function) -> List[lambda_.LayerVersion]:
    """The LayerVersions of this app that ``function`` lists (imported layers are not known)."""
    cfn = function.node.default_child
    stack = cdk.Stack.of(function)
    arns = stack.resolve(getattr(cfn, "layers", None) or []) or []
    return [
        c
        for c in function.node.root.node.find_all()
        if isinstance(c, lambda_.LayerVersion) and stack.resolve(c.layer_version_arn) in arns
    ]


@jsii.implements(IValidation)
class _AttachmentChecks:
    def __init__(self, extension: "RustExtension") -> None:
        self._extension = extension

    def validate(self) -> List[str]:
        ext = self._extension
        errors: List[str] = []
        with session.session_for(ext.node.root).active():
            pipeline.finish(queue_for(ext.node.root))  # sizes are known once all is built
        for function in _functions_using(ext):
            error = architecture_mismatch(
                ext.node.path, ext.architecture.name, function.node.path, function.architecture.name
            )
            if error:
                errors.append(note_validation_error(error))
                continue
            code = _staged_size(function)
            if code is None:
                continue
            layers = [(layer.node.path, _staged_size(layer) or 0) for layer in layers_of(function)]
            warning = unzipped_size_warning(function.node.path, code, layers)
            if warning:
                cdk.Annotations.of(ext).add_warning_v2("constructs_rust:unzipped-size", warning)
        return errors


class RustExtension(lambda_.LayerVersion):
    """A Lambda layer with an external extension built from Rust (``extensions/<binary>``).

    Args:
        scope: The parent construct (a ``Stack`` or another construct).
        id: The construct's id, unique within ``scope``.
        manifest_path: A ``Cargo.toml`` or a directory holding one (crate, member or
            workspace root); relative paths are resolved against the current working
            directory.
        binary_name: The extension's binary target. Default: the crate's only binary.
        architecture: ``ARM_64`` (default) or ``X86_64``: the build target and the layer's
            ``compatible_architectures``. Attaching the layer to a function of the other
            architecture is a synth error.
        bundling: How the binary is built. Default: ``BundlingOptions()``.
        **layer_options: Every other ``aws_lambda.LayerVersion`` option
            ([`LayerOptions`][constructs_rust.extension.LayerOptions]). Default
            ``compatible_runtimes``: ``PROVIDED_AL2023`` and ``PROVIDED_AL2`` (an external
            extension also serves other runtimes: widen the list to attach it to them).
    """

    @in_app_session
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        manifest_path: str,
        binary_name: Optional[str] = None,
        architecture: Optional[lambda_.Architecture] = None,
        bundling: Optional[BundlingOptions] = None,
        **layer_options: Unpack[LayerOptions],
    ) -> None:
        architecture = architecture or lambda_.Architecture.ARM_64
        bundling = bundling or BundlingOptions()
        path = construct_path(scope, id)
        options: Dict[str, Any] = dict(layer_options)
        _check_layer_options(options, path)
        options.setdefault("compatible_runtimes", list(DEFAULT_COMPATIBLE_RUNTIMES))
        plan = plan_rust_code(
            scope,
            id,
            manifest_path=manifest_path,
            binary_name=binary_name,
            architecture=architecture,
            runtime=_EXTENSION_BUILD_RUNTIME,
            bundling=bundling,
            extension=True,
        )
        super().__init__(
            scope, id, code=plan.code, compatible_architectures=[architecture], **options
        )
        self.architecture: lambda_.Architecture = architecture
        """The architecture the extension is built for."""
        self.binary_name: Optional[str] = plan.binary
        """The extension's binary (None when bundling was skipped and no name was given)."""
        warn_hooks(self, bundling)
        staged = _staged_dir(self)
        if plan.request is not None and staged is not None:
            register_build(self, plan, staged)
        self.node.add_validation(_AttachmentChecks(self))
