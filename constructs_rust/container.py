"""RustDockerImageFunction: a Rust Lambda shipped as a container image (ECR).

Three ways to get the image, chosen by ``build`` and ``repository``:

``ContainerBuild.PREBUILT`` (default)
    ``bootstrap`` is built exactly as for RustFunction (local cargo-lambda or its Docker
    fallback, the same fingerprint, the same artifact cache and the same one-cargo-run-per-
    workspace batching). The image is a thin ``FROM provided:al2023`` that only copies it to
    ``${LAMBDA_RUNTIME_DIR}/bootstrap``: no Rust toolchain inside Docker, rebuilds in seconds.

    The Docker context is generated at construct time in
    ``<cargo target dir>/constructs-rust/image-context/<digest>/`` (``Dockerfile`` +
    ``.dockerignore``; the Dockerfile carries the input fingerprint as a label, so the CDK
    asset hash changes exactly when the binary's inputs change). CDK copies that directory to
    ``cdk.out/asset.<hash>/`` while the construct is created; the build runs when the app is
    synthesized (the same deferred queue RustFunction uses) and drops ``bootstrap`` into the
    STAGED directory, which is what ``cdk deploy`` builds the image from.

``ContainerBuild.IN_DOCKER``
    A multi-stage Dockerfile: a cargo-lambda stage (the pinned ``build_image``, running on the
    build machine's platform and cross-compiling for ``TARGETPLATFORM``: linux/amd64 →
    x86_64-unknown-linux-gnu, linux/arm64 → aarch64-unknown-linux-gnu, anything else fails the
    build) and a runtime stage on ``base_image``. No cargo-lambda, zig or cross std is needed on
    the synthesizing machine; ``cargo metadata`` (plain cargo) still resolves the binary so
    errors are the same as RustFunction's. The Docker context is the Cargo workspace root. The
    generated Dockerfile cannot live outside its context, so it is written to
    ``<workspace>/<target dir>/constructs-rust/image-context/in-docker-<digest>/Dockerfile``
    (``<workspace>/target/...`` when the target dir is outside the workspace) beside a
    ``Dockerfile.dockerignore`` (BuildKit's per-Dockerfile ignore file). The same patterns are
    given to CDK as ``exclude``, so ``target/``, ``.git``, ``cdk.out`` (and node_modules, .venv,
    __pycache__, at any depth) never reach ``cdk.out`` nor the Docker daemon; only the one
    generated Dockerfile is re-included. One Dockerfile serves every binary of the workspace:
    the binary and its package are the build args ``BINARY`` and ``PACKAGE``. Needs BuildKit
    (the default builder of Docker Engine 23+ and of the CDK CLI).

``repository`` + ``tag_or_digest``
    An image already in ECR (``DockerImageCode.from_ecr``): nothing is built and no cargo runs;
    ``manifest_path`` is optional (checked to exist when given).

When the stack does not need bundling (``cdk ls``, ``cdk synth -e OtherStack``), no cargo runs:
the context is a stand-in generated in the library cache, as RustFunction uses a stand-in hash.
"""

from __future__ import annotations

import enum
import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import aws_cdk as cdk
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from typing_extensions import Unpack

from ._build.invoke import check_docker_mountable
from ._cargo import metadata
from ._cargo.targets import resolve_target
from ._construct.bundling import register_build
from ._construct.image import (
    CA_BUNDLE_FILE,
    IMAGE_CONTEXT_DIR,
    PREBUILT_DOCKERIGNORE,
    SCRATCH_DOCKERIGNORE,
    check_in_docker_bundling,
    context_dir,
    dockerfile_home,
    dockerignore_text,
    in_docker_excludes,
    in_docker_user_rustflags,
    render_in_docker_dockerfile,
    render_prebuilt_dockerfile,
    render_scratch_dockerfile,
    write_context_files,
)
from ._construct.managed_instances import check_capacity_provider
from ._construct.rust_code import construct_path, in_app_session, plan_rust_code, warn_hooks
from ._construct.wiring import RustFunctionWiring, finish_function, prepare_function_props
from ._fingerprint import lines
from ._support import paths
from ._support.disk_memo import cache_root, digest
from .errors import ConfigurationError, ConstructsRustError
from .options import (
    DEFAULT_DOCKER_IMAGE,
    BundlingOptions,
    FunctionOptions,
    Libc,
    UrlOptions,
    validate_binary_name,
)

DEFAULT_BASE_IMAGE = (
    "public.ecr.aws/lambda/provided:al2023.2026.02.27.21"
    "@sha256:9ee3f032d4063febdf42a2a1f15149ce8358130753e48fcaf86eae731fab38ff"
)
"""Runtime base image: AWS's OS-only Lambda image (it ships the Runtime Interface Emulator,
so ``docker run -p 9000:8080`` answers invokes locally). Pinned by tag AND multi-arch index
digest (Docker resolves the digest; the tag documents it). Refresh with
``docker buildx imagetools inspect public.ecr.aws/lambda/provided:al2023``."""
SCRATCH = "scratch"
"""``base_image=SCRATCH``: an empty base (Docker's reserved ``scratch``; nothing is pulled).
The image holds only ``/bootstrap`` (its entrypoint) and a CA bundle, so it needs a static
binary: ``BundlingOptions(libc=Libc.MUSL)``."""

DEFAULT_BUILD_IMAGE = DEFAULT_DOCKER_IMAGE
"""Build image of ``ContainerBuild.IN_DOCKER``: the same pinned cargo-lambda release as Docker
bundling (``DEFAULT_DOCKER_IMAGE``; it carries the x86_64 and aarch64 Rust std and zig)."""


__all__ = [
    "RustDockerImageFunction",
    "ContainerBuild",
    "DEFAULT_BASE_IMAGE",
    "DEFAULT_BUILD_IMAGE",
    "SCRATCH",
]

_IMAGE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")


class ContainerBuild(enum.Enum):
    """Where ``bootstrap`` is compiled for a RustDockerImageFunction."""

    PREBUILT = "prebuilt"
    """On the synthesizing machine, exactly as RustFunction; the image only copies it."""
    IN_DOCKER = "in-docker"
    """Inside ``docker build`` (multi-stage, cargo-lambda build stage): no local Rust toolchain
    beyond ``cargo metadata``."""


# ----------------------------------------------------------------------------- Dockerfiles


# ----------------------------------------------------------------------------- helpers


def _check_base_image(base_image: str, build: ContainerBuild, bundling: BundlingOptions) -> None:
    """A base that cannot run the binary is a synth error (scratch has no libc)."""
    if base_image != SCRATCH:
        return
    if build is ContainerBuild.IN_DOCKER:
        raise ConfigurationError(
            "is supported with ContainerBuild.PREBUILT only (the IN_DOCKER build stage builds "
            "against glibc)",
            prop="base_image",
            value=base_image,
            fix="use build=ContainerBuild.PREBUILT (the default) with "
            "BundlingOptions(libc=Libc.MUSL)",
        )
    if not bundling.musl:
        raise ConfigurationError(
            "cannot run a glibc binary: a FROM-scratch image has no C library and no dynamic "
            "loader, so the function would fail at cold start (Runtime.InvalidEntrypoint)",
            prop="base_image",
            value=base_image,
            fix="build a static binary with bundling=BundlingOptions(libc=Libc.MUSL), or use "
            "the default base_image (provided.al2023)",
        )


def _check_image(prop: str, value: str) -> None:
    if not isinstance(value, str) or not _IMAGE_REF.fullmatch(value):
        raise ConfigurationError(
            "is not a Docker image reference (it is written into a FROM line)",
            prop=prop,
            value=value,
            fix="give e.g. 'public.ecr.aws/lambda/provided:al2023' or "
            "'registry/name:tag@sha256:<digest>'",
        )


def _network_mode(bundling: BundlingOptions) -> Optional[ecr_assets.NetworkMode]:
    """``docker build --network`` of the image asset (recorded in the asset manifest)."""
    if bundling.docker_network is None:
        return None
    return ecr_assets.NetworkMode.custom(bundling.docker_network)


class RustDockerImageFunction(RustFunctionWiring, lambda_.DockerImageFunction):
    """A Lambda function running a Rust binary from a container image (``PackageType: Image``).

    Args:
        scope: The parent construct (a ``Stack`` or another construct).
        id: The construct's id, unique within ``scope``.
        manifest_path: A ``Cargo.toml`` or a directory holding one, as for
            [`RustFunction`][constructs_rust.function.RustFunction]. Optional only with
            ``repository``.
        binary_name: The binary target. Default: the crate's only binary.
        architecture: ``ARM_64`` (default) or ``X86_64``; also the image platform and the
            Rust target.
        build: ``ContainerBuild.PREBUILT`` (default) or ``ContainerBuild.IN_DOCKER``.
        bundling: Build options. PREBUILT honours all of them (as RustFunction); IN_DOCKER
            honours profile, features, no_default_features and cargo_lambda_flags.
        repository: Use an image already in this ECR repository; nothing is built.
        tag_or_digest: The tag or ``sha256:`` digest in ``repository`` (required with it).
        base_image: The runtime stage's base. Default: ``DEFAULT_BASE_IMAGE``. ``SCRATCH``:
            an empty image holding only ``/bootstrap`` (the entrypoint) and a CA bundle; it
            needs ``BundlingOptions(libc=Libc.MUSL)`` and ContainerBuild.PREBUILT.
        build_image: IN_DOCKER's cargo-lambda build image. Default: ``DEFAULT_BUILD_IMAGE``.
        url: Add a function URL. Default: none.
        **function_options: Every other ``aws_lambda.Function`` option
            ([`FunctionOptions`][constructs_rust.options.FunctionOptions]), with RustFunction's
            defaults (256 MB, 10 s, own log group, least-privilege role).
    """

    @in_app_session
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        manifest_path: Optional[str] = None,
        binary_name: Optional[str] = None,
        architecture: Optional[lambda_.Architecture] = None,
        build: ContainerBuild = ContainerBuild.PREBUILT,
        bundling: Optional[BundlingOptions] = None,
        repository: Optional[ecr.IRepository] = None,
        tag_or_digest: Optional[str] = None,
        base_image: str = DEFAULT_BASE_IMAGE,
        build_image: str = DEFAULT_BUILD_IMAGE,
        url: Optional[UrlOptions] = None,
        **function_options: Unpack[FunctionOptions],
    ) -> None:
        architecture = architecture or lambda_.Architecture.ARM_64
        bundling = bundling or BundlingOptions()
        path = construct_path(scope, id)
        plan = None
        build_args: Optional[Dict[str, str]] = None
        try:
            if not isinstance(build, ContainerBuild):
                raise ConfigurationError(
                    "is not a ContainerBuild",
                    prop="build",
                    value=build,
                    fix="use ContainerBuild.PREBUILT (default) or ContainerBuild.IN_DOCKER",
                )
            _check_image("base_image", base_image)
            _check_image("build_image", build_image)
            if "layers" in function_options:
                raise ConfigurationError(
                    "container-image functions cannot use layers",
                    prop="layers",
                    fix="COPY the layer's content into the image (e.g. extend base_image) instead",
                )
            if repository is None and isinstance(bundling.libc, Libc):
                _check_base_image(base_image, build, bundling)
            if repository is None and build is ContainerBuild.IN_DOCKER and bundling.musl:
                raise ConfigurationError(
                    "is supported with ContainerBuild.PREBUILT only (the pinned build image "
                    "carries the -gnu std only)",
                    prop="bundling.libc",
                    value=bundling.libc,
                    fix="use build=ContainerBuild.PREBUILT (the default) for a musl binary",
                )
            target = resolve_target(
                architecture, lambda_.Runtime.PROVIDED_AL2023, musl=bundling.libc is Libc.MUSL
            )
            if (repository is None) != (tag_or_digest is None):
                raise ConfigurationError(
                    "repository and tag_or_digest go together",
                    prop="tag_or_digest" if repository is not None else "repository",
                    fix="give both (an image already in ECR) or neither (build the image from "
                    "manifest_path)",
                )
            if repository is None and manifest_path is None:
                raise ConfigurationError(
                    "is required unless repository is given",
                    prop="manifest_path",
                    fix="point manifest_path at the crate or workspace (a Cargo.toml or its "
                    "directory)",
                )
        except ConstructsRustError as exc:
            raise exc.at(path) from None

        self.build_mode: Optional[ContainerBuild] = None if repository is not None else build
        """How the image is built (None: an existing ECR image is used)."""
        self.dockerfile: Optional[str] = None
        """The Dockerfile of the image asset, relative to its context (None for ECR images)."""
        self.binary_name: Optional[str] = binary_name
        """The binary deployed (None when unknown: bundling skipped without a name, or ECR)."""

        if repository is not None:
            try:
                validate_binary_name(binary_name)
                if manifest_path is not None:
                    metadata.normalize_manifest_path(manifest_path)
            except ConstructsRustError as exc:
                raise exc.at(path) from None
            code = lambda_.DockerImageCode.from_ecr(repository, tag_or_digest=tag_or_digest)
        elif build is ContainerBuild.PREBUILT:
            assert manifest_path is not None
            plan = plan_rust_code(
                scope,
                id,
                manifest_path=manifest_path,
                binary_name=binary_name,
                architecture=architecture,
                runtime=lambda_.Runtime.PROVIDED_AL2023,
                bundling=bundling,
            )
            self.binary_name = plan.binary
            if plan.request is not None:
                fingerprint = plan.request.fingerprint
                target_dir = plan.request.workspace.target_dir
                parent = paths.image_context_dir(target_dir, IMAGE_CONTEXT_DIR)
            else:
                fingerprint = "standin-" + lines.standin(
                    binary_name=binary_name, options=bundling, target=target, kind=[]
                )
                parent = cache_root() / IMAGE_CONTEXT_DIR
            if base_image == SCRATCH:
                ca_text, ca_line = lines.ca_bundle()
                files = {
                    "Dockerfile": render_scratch_dockerfile(
                        binary=plan.binary or "", fingerprint=fingerprint, ca_bundle=ca_line
                    ),
                    ".dockerignore": SCRATCH_DOCKERIGNORE,
                    CA_BUNDLE_FILE: ca_text,
                }
            else:
                files = {
                    "Dockerfile": render_prebuilt_dockerfile(
                        base_image=base_image, binary=plan.binary or "", fingerprint=fingerprint
                    ),
                    ".dockerignore": PREBUILT_DOCKERIGNORE,
                }
            context = context_dir(parent, "prebuilt-", files)
            self.dockerfile = "Dockerfile"
            code = lambda_.DockerImageCode.from_image_asset(
                str(context),
                platform=ecr_assets.Platform.custom(target.docker_platform),
                network_mode=_network_mode(bundling),
            )
        else:
            assert manifest_path is not None
            context_root, dockerfile, excludes, build_args = self._plan_in_docker(
                scope, path, manifest_path, binary_name, bundling, base_image, build_image
            )
            self.dockerfile = dockerfile
            self.binary_name = build_args["BINARY"] or None
            code = lambda_.DockerImageCode.from_image_asset(
                str(context_root),
                file=dockerfile,
                build_args=build_args,
                exclude=excludes,
                ignore_mode=cdk.IgnoreMode.DOCKER,
                platform=ecr_assets.Platform.custom(target.docker_platform),
                network_mode=_network_mode(bundling),
            )

        props, wiring = prepare_function_props(path, dict(function_options))
        super().__init__(scope, id, code=code, architecture=architecture, **props)
        self._rust_log_group, function_url = finish_function(self, wiring, url)
        self.url: Optional[lambda_.FunctionUrl] = function_url
        """The function URL, when ``url`` was given."""
        image_asset = self.node.try_find_child("AssetImage")
        self.image_asset: Optional[ecr_assets.DockerImageAsset] = (
            image_asset if isinstance(image_asset, ecr_assets.DockerImageAsset) else None
        )
        """The image asset CDK builds and pushes on deploy (None for ECR images)."""
        self.staged_context: Optional[Path] = None
        """The image's Docker context as staged in the cloud assembly (None for ECR images)."""
        if self.image_asset is not None:
            staging = self.image_asset.node.find_child("Staging")
            if not isinstance(staging, cdk.AssetStaging):
                raise TypeError(f"{staging.node.path} is not an AssetStaging")
            self.staged_context = Path(staging.absolute_staged_path)
        check_capacity_provider(
            self,
            memory_given="memory_size" in function_options,
            graph=plan.request.graph if plan is not None and plan.request is not None else None,
        )
        if build is ContainerBuild.PREBUILT and repository is None:
            warn_hooks(self, bundling)
            if plan is not None and plan.request is not None and self.staged_context is not None:
                plan.request.image = base_image  # what the binary check holds it against
                register_build(self, plan, self.staged_context)

    @staticmethod
    def _plan_in_docker(
        scope: Construct,
        path: str,
        manifest_path: str,
        binary_name: Optional[str],
        bundling: BundlingOptions,
        base_image: str,
        build_image: str,
    ) -> Tuple[Path, str, List[str], Dict[str, str]]:
        """(context root, Dockerfile relative to it, excludes, build args) of IN_DOCKER."""
        try:
            validate_binary_name(binary_name)
            bundling.validate()
            check_in_docker_bundling(bundling)
            manifest = metadata.normalize_manifest_path(manifest_path)
            if not cdk.Stack.of(scope).bundling_required:
                text = render_in_docker_dockerfile(
                    base_image=base_image, build_image=build_image, options=bundling
                )
                # Stand-in (the stack is not being deployed): a context of the Dockerfile only.
                standin = {
                    "Dockerfile": text,
                    "Dockerfile.dockerignore": dockerignore_text(["**/target"]),
                }
                context = context_dir(
                    cache_root() / IMAGE_CONTEXT_DIR, "in-docker-standin-", standin
                )
                args = {"PACKAGE": "", "BINARY": binary_name or ""}
                return context, "Dockerfile", ["**/target"], args
            workspace = metadata.load_workspace(manifest, bundling.cargo_lambda_flags)
            package, binary = metadata.resolve_binary(workspace, manifest, binary_name)
            # The context is the workspace root: nothing outside it reaches `docker build`.
            check_docker_mountable(workspace)
            text = render_in_docker_dockerfile(
                base_image=base_image,
                build_image=build_image,
                options=bundling,
                user_rustflags=in_docker_user_rustflags(workspace, bundling),
            )
        except ConstructsRustError as exc:
            raise exc.at(path) from None
        home, target_dir = dockerfile_home(workspace)
        directory = home / f"in-docker-{digest([text])[:32]}"
        dockerfile = Path(os.path.relpath(directory / "Dockerfile", workspace.root)).as_posix()
        excludes = in_docker_excludes(dockerfile, target_dir)
        write_context_files(
            directory, {"Dockerfile": text, "Dockerfile.dockerignore": dockerignore_text(excludes)}
        )
        return workspace.root, dockerfile, excludes, {"PACKAGE": package.name, "BINARY": binary}


def prebuilt_bootstrap_path(function: RustDockerImageFunction) -> Path:
    """The ``bootstrap`` in a PREBUILT function's staged image context (after ``app.synth()``)."""
    if function.staged_context is None or function.build_mode is not ContainerBuild.PREBUILT:
        raise ValueError(f"{function.node.path} is not a ContainerBuild.PREBUILT image asset")
    path = function.staged_context / "bootstrap"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is not built yet: synthesize the app first (and make sure the stack needs "
            "bundling)"
        )
    return path
