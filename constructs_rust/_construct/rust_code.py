"""The Rust half every construct shares: validate the Rust props, resolve the target and the
extra files, and hand the function to the bundle planner (RustFunction, RustDockerImageFunction
and RustExtension all come through here)."""

from __future__ import annotations

import functools
from typing import Callable, Optional, ParamSpec, Sequence, Union, cast

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .._cargo.targets import resolve_target
from .._fingerprint import extra_files
from .._support import reporting, session
from ..errors import ConstructsRustError
from ..options import BundlingOptions, ExtraFile, GitSource, validate_binary_name
from .bundling import BundlePlan, plan_bundle

P = ParamSpec("P")


def in_app_session(init: Callable[P, None]) -> Callable[P, None]:
    """Run a construct's ``__init__(self, scope, id, ...)`` in the session of the app it is added
    to, so what it memoizes (workspaces, trees, graphs) belongs to that app alone. ``scope`` may
    be passed by position or by name."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        scope = cast(Construct, args[1] if len(args) > 1 else kwargs["scope"])
        with session.session_for(scope.node.root).active():
            init(*args, **kwargs)

    functools.update_wrapper(wrapper, init)  # the signature and docstring readers see
    return wrapper


def construct_path(scope: Construct, id: str) -> str:
    """The path a construct ``id`` under ``scope`` will have (errors name it)."""
    return f"{scope.node.path}/{id}" if scope.node.path else id


def warn_hooks(construct: Construct, options: BundlingOptions) -> None:
    """A synth warning listing the shell commands the build hooks will run."""
    if options.command_hooks and (
        options.command_hooks.before_build or options.command_hooks.after_build
    ):
        cdk.Annotations.of(construct).add_warning_v2(
            "constructs_rust:command-hooks",
            "bundling.command_hooks run arbitrary shell commands on the synthesizing machine: "
            + "; ".join([*options.command_hooks.before_build, *options.command_hooks.after_build]),
        )


def plan_rust_code(
    scope: Construct,
    id: str,
    *,
    manifest_path: str,
    binary_name: Optional[str],
    architecture: lambda_.Architecture,
    runtime: lambda_.Runtime,
    bundling: BundlingOptions,
    extension: bool = False,
    extra: Sequence[Union[str, ExtraFile]] = (),
    git: Optional[GitSource] = None,
) -> BundlePlan:
    """Validate the Rust-specific props and plan the asset (shared with the container variant
    and RustExtension, which sets ``extension``). The first call arms the short error report
    for uncaught library errors (reporting.install); importing the package arms nothing."""
    reporting.install()
    path = construct_path(scope, id)
    try:
        validate_binary_name(binary_name)
        bundling.validate()
        target = resolve_target(architecture, runtime, musl=bundling.musl)
        resolved = extra_files.resolve(extra)
        return plan_bundle(
            scope,
            manifest_path=manifest_path,
            binary_name=binary_name,
            target=target,
            options=bundling,
            construct_path=path,
            extension=extension,
            extra=resolved,
            git=git,
        )
    except ConstructsRustError as exc:
        raise exc.at(path) from None
