"""Options of the Rust constructs: frozen keyword-only dataclasses and typed pass-through props."""

from __future__ import annotations

import enum
import os
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence, TypedDict, Union

import aws_cdk
from aws_cdk import aws_codeguruprofiler, aws_ec2, aws_iam, aws_logs, aws_sns, aws_sqs
from aws_cdk import aws_lambda as lambda_
from aws_cdk.interfaces import aws_kms as kms_refs
from aws_cdk.interfaces import aws_lambda as lambda_refs
from aws_cdk.interfaces import aws_logs as logs_refs

from ._support.env_file import read_env_file
from ._support.paths import CONTAINER_BUILD_DIR, CONTAINER_CARGO_HOME, CONTAINER_WORKSPACE
from .errors import ConfigurationError

__all__ = [
    "BundlingOptions",
    "UrlOptions",
    "GitSource",
    "ExtraFile",
    "CommandHooks",
    "DockerVolume",
    "Libc",
    "FunctionOptions",
    "DEFAULT_DOCKER_IMAGE",
]

DEFAULT_DOCKER_IMAGE = "ghcr.io/cargo-lambda/cargo-lambda:1.9.2"
"""Pinned cargo-lambda build image (same release as the PyPI ``cargo-lambda`` the project
uses). Never ``latest``: an untagged image drifts to another rustc and breaks builds."""

_SHELL_META = ("\n", "\r", ";", "&", "|", "`", "$", "<", ">")

# Flags the construct manages itself, with the option to use instead.
_MANAGED_FLAGS = {
    "--target": "remove it; the `architecture` prop (and `runtime` for the glibc version, "
    "BundlingOptions(libc=Libc.MUSL) for musl) set the target",
    "--arm64": "remove it; set architecture=lambda_.Architecture.ARM_64",
    "--x86-64": "remove it; set architecture=lambda_.Architecture.X86_64",
    "--x86_64": "remove it; set architecture=lambda_.Architecture.X86_64",
    "--lambda-dir": "remove it; the construct chooses where bootstrap lands",
    "-l": "remove it; the construct chooses where bootstrap lands",
    "--flatten": "remove it; the construct places bootstrap at the asset root",
    "--output-format": "remove it; the asset is the bootstrap binary, zipped by CDK",
    "-o": "remove it; the asset is the bootstrap binary, zipped by CDK",
    "--manifest-path": "remove it; use the `manifest_path` prop",
    "--bin": "remove it; use the `binary_name` prop",
    "--bins": "remove it; use the `binary_name` prop",
    "--package": "remove it; use the `manifest_path`/`binary_name` props",
    "-p": "remove it; use the `manifest_path`/`binary_name` props",
    "--workspace": "remove it; use the `manifest_path`/`binary_name` props",
    "--profile": "remove it; use BundlingOptions(profile=...)",
    "--features": "remove it; use BundlingOptions(features=[...])",
    "-F": "remove it; use BundlingOptions(features=[...])",
    "--no-default-features": "remove it; use BundlingOptions(no_default_features=True)",
    "--target-dir": "remove it; set CARGO_TARGET_DIR or build.target-dir in .cargo/config.toml "
    "(cargo metadata reports it)",
    "--compiler": "remove it; local builds use cargo-zigbuild, Docker builds the pinned image",
    "-c": "remove it; local builds use cargo-zigbuild, Docker builds the pinned image",
    "--extension": "remove it; build extensions with RustExtension (a layer with extensions/<bin>)",
    "--internal": "remove it; internal extensions are code inside the function's own binary",
}


_BINARY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, kw_only=True)
class CommandHooks:
    """Shell commands run around the cargo-lambda build.

    These are TRUSTED input: they run through ``sh -c`` on the synthesizing machine (or in the
    build container) with the user's rights. The construct adds a CDK warning annotation when
    hooks are set, so a reviewer of ``cdk synth`` output sees them.
    """

    before_build: Sequence[str] = ()
    """Commands run in the workspace root before cargo-lambda. ``$INPUT_DIR`` is the workspace
    root. Default: none."""
    after_build: Sequence[str] = ()
    """Commands run after the build; ``$OUTPUT_DIR`` holds ``bootstrap`` and anything written
    there is added to the asset. Default: none."""


#: Container paths the Docker build mounts itself (a volume may not shadow them).
RESERVED_CONTAINER_PATHS = (CONTAINER_WORKSPACE, CONTAINER_BUILD_DIR, CONTAINER_CARGO_HOME, "/tmp")


@dataclass(frozen=True, kw_only=True)
class DockerVolume:
    """An extra mount of the Docker build container (``docker run --mount``): a host
    directory (``host_path``) or a named Docker volume (``volume_name``), e.g. an sccache or
    registry-mirror cache. Not part of the fingerprint: a volume must not hold what the binary
    is built from (put sources in the workspace, which is hashed)."""

    container_path: str
    """Absolute path inside the container (not ``/workspace``, ``/constructs-rust``,
    ``/cargo`` or ``/tmp``, which the build uses)."""
    host_path: Optional[str] = None
    """A host directory to bind (relative to the working directory). Default: None (give
    ``volume_name`` instead)."""
    volume_name: Optional[str] = None
    """A named Docker volume (created by Docker when missing). Default: None (give
    ``host_path`` instead)."""
    read_only: bool = False
    """Mount read-only. Default: False."""


class Libc(enum.Enum):
    """The C library a binary links against (``BundlingOptions.libc``)."""

    GLIBC = "glibc"
    """``<arch>-unknown-linux-gnu``: dynamically linked against the execution environment's
    glibc (2.34 on provided.al2023)."""
    MUSL = "musl"
    """``<arch>-unknown-linux-musl``: a static executable (no interpreter, no shared
    libraries), built by cargo-lambda with zig. Runs on any Linux, a FROM-scratch image
    included (``RustDockerImageFunction(base_image=SCRATCH)``). musl's own allocator is slow
    for allocation-heavy code: see bench/ for numbers."""


@dataclass(frozen=True, kw_only=True)
class BundlingOptions:
    """How the Rust binary is built. Every field that can change the binary's bytes is part
    of the asset fingerprint; those that cannot (the Docker run's network, volumes, user and
    security options, ``bundling_file_access``) say so in their own docstring."""

    profile: str = "release"
    """Cargo profile. ``release`` uses cargo-lambda's release optimisations (it fills
    strip/lto/codegen-units/panic only where your ``[profile.release]`` leaves them unset).
    Default: ``"release"``."""
    features: Sequence[str] = ()
    """Cargo features of the function's package to enable. Default: none."""
    no_default_features: bool = False
    """Disable the package's default features. Default: False."""
    cargo_lambda_flags: Sequence[str] = ()
    """Extra argv appended to ``cargo lambda build`` (e.g. ``["--locked"]``). Flags the
    construct manages (target, profile, binary selection, output dir) are rejected.
    Default: none."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Build-time environment variables for cargo (not the function's runtime environment).
    Default: none."""
    command_hooks: Optional[CommandHooks] = None
    """Trusted shell commands around the build. Default: none."""
    force_docker: bool = False
    """Build in the pinned cargo-lambda Docker image even when cargo-lambda is installed.
    Default: False (Docker is used only when cargo-lambda is missing)."""
    docker_image: str = DEFAULT_DOCKER_IMAGE
    """Build image for Docker bundling. Default: ``DEFAULT_DOCKER_IMAGE`` (a pinned
    ``ghcr.io/cargo-lambda/cargo-lambda`` version tag, never ``latest``)."""
    docker_cargo_cache: bool = True
    """Mount a host cargo registry/git cache into Docker builds so crates are downloaded once.
    Default: True (``$XDG_CACHE_HOME/constructs-rust/docker-cargo``)."""
    libc: Libc = Libc.GLIBC
    """``Libc.GLIBC`` or ``Libc.MUSL`` (a static ``<arch>-unknown-linux-musl`` executable; the
    local build needs ``rustup target add <arch>-unknown-linux-musl``). Default:
    ``Libc.GLIBC``."""
    docker_network: Optional[str] = None
    """Docker network of the build container (``docker run --network``) and, for
    RustDockerImageFunction, of ``docker build`` (the asset's ``networkMode``), e.g. ``"host"``
    on an engine without a bridge network. It cannot change the binary, so it is not part of
    the fingerprint. Default: None (Docker's default network)."""
    docker_volumes: Sequence[DockerVolume] = ()
    """Extra mounts of the build container (caches). Not part of the fingerprint.
    Default: none."""
    docker_user: Optional[str] = None
    """``docker run --user`` of the build container (``uid[:gid]`` or a user of the image). It
    cannot change the binary, so it is not part of the fingerprint. Default: None (the
    synthesizing user's ``uid:gid``, so no root-owned files appear)."""
    docker_security_options: Sequence[str] = ()
    """``docker run --security-opt`` values, e.g. ``["no-new-privileges"]`` or a seccomp
    profile. Not part of the fingerprint. Default: none."""
    docker_env_files: Sequence[str] = ()
    """Files of ``NAME=VALUE`` lines (Docker's ``--env-file`` format) whose variables the build
    container gets, read at synth (relative to the working directory) and passed like
    ``environment`` (by name, never on a command line); ``environment`` wins over them. Their
    variables are part of the fingerprint, as digests of the values. Default: none."""
    auditable: bool = False
    """Embed the dependency list in the binary (``cargo auditable``; Trivy, Grype, Syft and
    ``cargo audit bin`` read it) and write a CycloneDX SBOM per function beside the cloud
    assembly (docs/bundling.md). Local bundling only. Default: False (it changes the binary)."""
    bundling_file_access: aws_cdk.BundlingFileAccess = aws_cdk.BundlingFileAccess.BIND_MOUNT
    """How the build container reaches the workspace and its outputs. ``VOLUME_COPY`` copies
    the workspace into a Docker volume and the outputs back with ``docker cp`` (no bind mount
    of a host path: remote engines, Docker-in-Docker CI); the target dir and the cargo cache
    then live in named volumes kept between builds. The binary is the same either way, so it
    is not part of the fingerprint. Default: ``BIND_MOUNT``."""

    def validate(self) -> None:
        """Raise ConfigurationError for an option that cannot work."""
        if not isinstance(self.libc, Libc):
            raise ConfigurationError(
                "is not a Libc",
                prop="bundling.libc",
                value=self.libc,
                fix="use Libc.GLIBC (default) or Libc.MUSL",
            )
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.profile or ""):
            raise ConfigurationError(
                "not a valid cargo profile name",
                prop="bundling.profile",
                value=self.profile,
                fix='use "release" (default), "dev" or a profile defined in Cargo.toml',
            )
        for feature in self.features:
            if not re.fullmatch(r"[A-Za-z0-9_+./-]+", feature):
                raise ConfigurationError(
                    "not a valid cargo feature name",
                    prop="bundling.features",
                    value=feature,
                    fix="pass each feature as its own list item, e.g. features=['json-logs']",
                )
        for flag in self.cargo_lambda_flags:
            bad = next((m for m in _SHELL_META if m in flag), None)
            if bad is not None:
                raise ConfigurationError(
                    f"contains the shell metacharacter {bad!r}; flags are passed as argv, "
                    "never through a shell",
                    prop="bundling.cargo_lambda_flags",
                    value=flag,
                    fix="pass plain flags such as ['--locked']; run shell commands through "
                    "command_hooks instead",
                )
            name = flag.split("=", 1)[0]
            if name in ("--release", "-r"):
                if self.profile != "release":
                    raise ConfigurationError(
                        f"fights profile={self.profile!r}",
                        prop="bundling.cargo_lambda_flags",
                        value=flag,
                        fix="remove --release and choose the profile with "
                        "BundlingOptions(profile=...)",
                    )
                continue
            if name in _MANAGED_FLAGS:
                raise ConfigurationError(
                    "is managed by the construct",
                    prop="bundling.cargo_lambda_flags",
                    value=flag,
                    fix=_MANAGED_FLAGS[name],
                )
        if self.docker_network is not None and not re.fullmatch(
            r"[A-Za-z0-9][A-Za-z0-9_.:-]*", self.docker_network
        ):
            raise ConfigurationError(
                "not a Docker network name",
                prop="bundling.docker_network",
                value=self.docker_network,
                fix='give a network name such as "host", "none" or a user-defined network',
            )
        self._validate_docker_run()
        for key in self.environment:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ConfigurationError(
                    "not a valid environment variable name",
                    prop="bundling.environment",
                    value=key,
                    fix="use letters, digits and underscores",
                )

    def _validate_docker_run(self) -> None:
        if self.docker_user is not None and not re.fullmatch(
            r"[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?", self.docker_user
        ):
            raise ConfigurationError(
                "not a Docker user",
                prop="bundling.docker_user",
                value=self.docker_user,
                fix='give "uid", "uid:gid" or a user name of the image, e.g. "1000:1000"',
            )
        for option in self.docker_security_options:
            if not option or any(c in option for c in "\n\r\x00"):
                raise ConfigurationError(
                    "is empty or holds a line break",
                    prop="bundling.docker_security_options",
                    value=option,
                    fix='give one option per item, e.g. ["no-new-privileges"]',
                )
        if not isinstance(self.bundling_file_access, aws_cdk.BundlingFileAccess):
            raise ConfigurationError(
                "is not an aws_cdk.BundlingFileAccess",
                prop="bundling.bundling_file_access",
                value=self.bundling_file_access,
                fix="use aws_cdk.BundlingFileAccess.BIND_MOUNT or VOLUME_COPY",
            )
        seen = set()
        for volume in self.docker_volumes:
            target = volume.container_path
            clash = next(
                (
                    r
                    for r in RESERVED_CONTAINER_PATHS
                    if target == r or target.startswith(r + "/") or r.startswith(target + "/")
                ),
                None,
            )
            if (
                not target.startswith("/")
                or posixpath.normpath(target) != target
                or target == "/"
                or target in seen
                or clash
            ):
                raise ConfigurationError(
                    f"overlaps {clash}, which the build uses"
                    if clash
                    else "is not a normalized absolute container path of its own",
                    prop="bundling.docker_volumes container_path",
                    value=target,
                    fix="mount at another absolute path, e.g. /sccache",
                )
            seen.add(target)
            if (volume.host_path is None) == (volume.volume_name is None):
                raise ConfigurationError(
                    "needs exactly one of host_path and volume_name",
                    prop="bundling.docker_volumes",
                    value=target,
                    fix="DockerVolume(container_path=..., host_path=...) or (..., volume_name=...)",
                )
            if volume.host_path is not None and not os.path.isdir(volume.host_path):
                raise ConfigurationError(
                    "is not a directory (resolved against the working directory)",
                    prop="bundling.docker_volumes host_path",
                    value=volume.host_path,
                    fix="create it, or give an existing directory",
                )
            if volume.volume_name is not None and not re.fullmatch(
                r"[A-Za-z0-9][A-Za-z0-9_.-]+", volume.volume_name
            ):
                raise ConfigurationError(
                    "not a Docker volume name",
                    prop="bundling.docker_volumes volume_name",
                    value=volume.volume_name,
                    fix="use letters, digits, '_', '.' and '-'",
                )
        for path in self.docker_env_files:
            if not os.path.isfile(path):
                raise ConfigurationError(
                    "is not a file (resolved against the working directory)",
                    prop="bundling.docker_env_files",
                    value=path,
                    fix="give a file of NAME=VALUE lines, relative to where you run cdk",
                )
        self.container_environment()  # parse errors now, naming file and line

    def container_environment(self) -> Dict[str, str]:
        """The build container's variables: ``docker_env_files`` in order, then
        ``environment`` (which wins)."""
        merged: Dict[str, str] = {}
        for path in self.docker_env_files:
            merged.update(read_env_file(path))
        merged.update(self.environment)
        return merged

    @property
    def volume_copy(self) -> bool:
        return self.bundling_file_access == aws_cdk.BundlingFileAccess.VOLUME_COPY

    @property
    def musl(self) -> bool:
        return self.libc is Libc.MUSL

    def effective_flags(self) -> tuple[str, ...]:
        """The extra flags with the redundant ``--release`` dropped."""
        return tuple(f for f in self.cargo_lambda_flags if f not in ("--release", "-r"))


def validate_binary_name(binary_name: Optional[str]) -> None:
    if binary_name is not None and not _BINARY_NAME.fullmatch(binary_name):
        raise ConfigurationError(
            "is not a cargo binary target name (no path separators or shell characters)",
            prop="binary_name",
            value=binary_name,
            fix="give the [[bin]] name from Cargo.toml, e.g. binary_name='hello_http'",
        )


@dataclass(frozen=True, kw_only=True)
class GitSource:
    """Build from a crate in a git repository (cargo-lambda-cdk's ``gitRemote``,
    ``gitReference``, ``gitForceClone``); the construct's ``manifest_path`` is then a path
    INSIDE the repository (``"Cargo.toml"``, ``"crates/api"``).

    The reference is resolved to a commit first (``git ls-remote``); the commit is part of the
    asset hash, and checkouts are cached per commit under the library's cache directory, so
    an unchanged commit means no clone and no build. Put credentials in git's credential
    helper or ssh agent, not in the URL (a URL's ``user:token@`` is redacted from every
    message, but the URL itself lives in your app's code)."""

    remote: str
    """The repository: ``https://…``, ``ssh://…``, ``git@host:org/repo.git`` or ``file://…``."""
    reference: Optional[str] = None
    """A branch, a tag, a full ``refs/…`` name or a full commit id. Default: the remote's
    ``HEAD`` (its default branch)."""
    force_clone: bool = False
    """Fetch and check out the commit again on every synth even when a checkout of it is
    cached (a damaged or locally edited checkout); the build cache is kept, so an unchanged
    commit still builds nothing. Default: False."""


@dataclass(frozen=True, kw_only=True)
class ExtraFile:
    """A file or directory added to the function's zip next to ``bootstrap`` (what
    ``cargo lambda deploy --include`` does): configuration, templates, certificates.

    Its content and its name in the zip are part of the asset hash (an edit redeploys the
    function without rebuilding the binary)."""

    source: str
    """The file or directory to add, relative to the working directory (like
    ``manifest_path``). A directory is added with everything below it (symlinks followed)."""
    name: Optional[str] = None
    """Where it lands in the zip, a relative path such as ``"config.toml"`` or
    ``"certs/ca.pem"``; never ``bootstrap``, an absolute path or one with ``..``.
    Default: the source's own file name, at the zip root."""


@dataclass(frozen=True, kw_only=True)
class UrlOptions:
    """A Lambda function URL added by the construct."""

    auth_type: lambda_.FunctionUrlAuthType = lambda_.FunctionUrlAuthType.AWS_IAM
    """Who may call the URL. ``NONE`` makes it public and adds a CDK warning unless
    ``acknowledge_public`` is set. Default: ``AWS_IAM``."""
    cors: Optional[lambda_.FunctionUrlCorsOptions] = None
    """CORS configuration. Default: no CORS headers."""
    invoke_mode: lambda_.InvokeMode = lambda_.InvokeMode.BUFFERED
    """``BUFFERED`` or ``RESPONSE_STREAM``. Default: ``BUFFERED``."""
    acknowledge_public: bool = False
    """Set to True to state that a public (``NONE``) URL is intended; silences the warning.
    Default: False."""


class FunctionOptions(TypedDict, total=False):
    """Every ``aws_lambda.Function`` option that RustFunction passes through unchanged.

    ``log_retention`` and ``log_removal_policy`` are applied to the log group the construct
    creates (no LogRetention custom resource). ``architecture`` is a named parameter of its own.

    This is for type checkers. At run time the options are checked against the INSTALLED
    aws-cdk-lib (``accepted_function_options``), so an option a newer aws-cdk-lib adds passes
    through before it is listed here.
    """

    max_event_age: aws_cdk.Duration
    on_failure: lambda_.IDestination
    on_success: lambda_.IDestination
    retry_attempts: Union[int, float]
    adot_instrumentation: Union[lambda_.AdotInstrumentationConfig, Dict[str, Any]]
    allow_all_ipv6_outbound: bool
    allow_all_outbound: bool
    allow_public_subnet: bool
    application_log_level: str
    application_log_level_v2: lambda_.ApplicationLogLevel
    code_signing_config: lambda_refs.ICodeSigningConfigRef
    current_version_options: Union[lambda_.VersionOptions, Dict[str, Any]]
    dead_letter_queue: aws_sqs.IQueue
    dead_letter_queue_enabled: bool
    dead_letter_topic: aws_sns.ITopic
    description: str
    durable_config: Union[lambda_.DurableConfig, Dict[str, Any]]
    environment: Mapping[str, str]
    environment_encryption: kms_refs.IKeyRef
    ephemeral_storage_size: aws_cdk.Size
    events: Sequence[lambda_.IEventSource]
    filesystem: lambda_.FileSystem
    function_name: str
    initial_policy: Sequence[aws_iam.PolicyStatement]
    insights_version: lambda_.LambdaInsightsVersion
    ipv6_allowed_for_dual_stack: bool
    layers: Sequence[lambda_.ILayerVersion]
    log_format: str
    logging_format: lambda_.LoggingFormat
    log_group: logs_refs.ILogGroupRef
    log_removal_policy: aws_cdk.RemovalPolicy
    log_retention: aws_logs.RetentionDays
    memory_size: Union[int, float]
    params_and_secrets: lambda_.ParamsAndSecretsLayerVersion
    profiling: bool
    profiling_group: aws_codeguruprofiler.IProfilingGroup
    recursive_loop: lambda_.RecursiveLoop
    reserved_concurrent_executions: Union[int, float]
    role: aws_iam.IRole
    runtime_management_mode: lambda_.RuntimeManagementMode
    security_groups: Sequence[aws_ec2.ISecurityGroup]
    snap_start: lambda_.SnapStartConf
    system_log_level: str
    system_log_level_v2: lambda_.SystemLogLevel
    tenancy_config: lambda_.TenancyConfig
    timeout: aws_cdk.Duration
    tracing: lambda_.Tracing
    vpc: aws_ec2.IVpc
    vpc_subnets: Union[aws_ec2.SubnetSelection, Dict[str, Any]]
