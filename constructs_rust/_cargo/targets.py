"""Lambda architecture + runtime → Rust target triple, cargo-lambda target and Docker platform.

The architecture is the one knob: it decides the function's ``Architectures``, the target
cargo-lambda builds for and the platform of any container image.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Optional, Tuple

from aws_cdk import aws_lambda as lambda_

from ..errors import ConfigurationError

#: glibc version of Amazon Linux 2; binaries linked against newer glibc fail there with
#: ``GLIBC_2.28 not found`` (SAM pins the same version).
AL2_GLIBC = "2.26"

ARCHES = {
    "arm64": ("aarch64", "linux/arm64", "neoverse-n1"),
    "x86_64": ("x86_64", "linux/amd64", "haswell"),
}

_RUNTIMES = {
    lambda_.Runtime.PROVIDED_AL2023.name: None,
    lambda_.Runtime.PROVIDED_AL2.name: AL2_GLIBC,
}

#: Function runtimes Lambda has deprecated: name → (deprecated, function create blocked,
#: function update blocked), UTC dates of AWS's schedule as aws-cdk-lib 2.275's template
#: validator and cfn-lint 1.58 carry it (an earlier schedule, create 2026-07-31 and update
#: 2026-08-31, was extended). Choosing one for a function is a synth error unless acknowledged
#: (then a warning). As a BUILD target they stay: RustExtension links against provided.al2's
#: glibc so that one layer runs in both execution environments.
DEPRECATED_FUNCTION_RUNTIMES = {
    lambda_.Runtime.PROVIDED_AL2.name: ("2026-07-31", "2027-02-01", "2027-03-03"),
}
#: The warning id of an acknowledged deprecated runtime (``Annotations.acknowledge_warning``).
DEPRECATED_RUNTIME_WARNING = "constructs_rust:deprecated-runtime"


@dataclass(frozen=True)
class Target:
    """Everything derived from (architecture, runtime)."""

    lambda_arch: str
    """Lambda's name of the architecture: ``arm64`` or ``x86_64``."""
    glibc: Optional[str] = None
    """glibc version to link against, or None for the toolchain's default (always None with
    ``musl``)."""
    musl: bool = False
    """Build a static executable against musl (``<arch>-unknown-linux-musl``) instead of
    glibc: no interpreter, no shared libraries, so it runs on any Linux (a FROM-scratch image
    included)."""

    @property
    def rust_arch(self) -> str:
        return ARCHES[self.lambda_arch][0]

    @property
    def triple(self) -> str:
        """The rustc target triple (no glibc suffix)."""
        return f"{self.rust_arch}-unknown-linux-{'musl' if self.musl else 'gnu'}"

    @property
    def cargo_lambda_target(self) -> str:
        """The ``--target`` given to cargo-lambda (with a ``.<glibc>`` suffix when pinned)."""
        return f"{self.triple}.{self.glibc}" if self.glibc and not self.musl else self.triple

    @property
    def docker_platform(self) -> str:
        return ARCHES[self.lambda_arch][1]

    @property
    def target_cpu(self) -> str:
        """The ``-C target-cpu`` cargo-lambda uses for release builds of this architecture."""
        return ARCHES[self.lambda_arch][2]


def resolve_target(
    architecture: lambda_.Architecture, runtime: lambda_.Runtime, *, musl: bool = False
) -> Target:
    """Validate the runtime and architecture and derive the build target (``musl``: the
    static musl target, for any runtime; the runtime's glibc pin then does not apply)."""
    if runtime.name not in _RUNTIMES:
        raise ConfigurationError(
            "Rust functions run on an OS-only runtime; "
            "this runtime cannot run a `bootstrap` binary",
            prop="runtime",
            value=runtime.name,
            fix="use lambda_.Runtime.PROVIDED_AL2023 (the default)",
        )
    if architecture.name not in ARCHES:
        raise ConfigurationError(
            "unsupported architecture",
            prop="architecture",
            value=architecture.name,
            fix="use lambda_.Architecture.ARM_64 (the default) or lambda_.Architecture.X86_64",
        )
    if musl:
        return Target(lambda_arch=architecture.name, musl=True)
    return Target(lambda_arch=architecture.name, glibc=_RUNTIMES[runtime.name])


def function_runtime(
    construct_path: str,
    runtime: Optional[lambda_.Runtime],
    *,
    acknowledge_deprecated_runtime: bool,
) -> Tuple[lambda_.Runtime, Optional[str]]:
    """The runtime of the function at ``construct_path`` (``PROVIDED_AL2023`` when None) and
    the warning to add to it (None unless an acknowledged deprecated runtime). A deprecated
    runtime raises ConfigurationError unless acknowledged.

    For function runtimes only: ``resolve_target`` (shared with RustExtension, which builds
    with provided.al2's glibc on purpose) does not check deprecation."""
    runtime = runtime or lambda_.Runtime.PROVIDED_AL2023
    dates = DEPRECATED_FUNCTION_RUNTIMES.get(runtime.name)
    if dates is None:
        return runtime, None
    deprecated, create_blocked, update_blocked = dates
    why = (
        f"deprecated since {deprecated} (no more security patches); Lambda blocks creating "
        f"functions on it from {create_blocked} and updating them from {update_blocked}"
    )
    if not acknowledge_deprecated_runtime:
        raise ConfigurationError(
            f"is {why}",
            prop="runtime",
            value=runtime.name,
            fix="use lambda_.Runtime.PROVIDED_AL2023 (the default; the binary is rebuilt for "
            "it), or pass acknowledge_deprecated_runtime=True to synthesize it anyway (e.g. to "
            "keep an existing function unchanged while you migrate)",
            construct_path=construct_path,
        )
    return runtime, (
        f"runtime {runtime.name} is {why}. Move to lambda_.Runtime.PROVIDED_AL2023 "
        "(synthesized because acknowledge_deprecated_runtime=True)."
    )


def target_for_platform(docker_platform: str, *, musl: bool = False) -> Target:
    """The target matching a Docker platform such as ``linux/arm64``."""
    for arch, (_, plat, _) in ARCHES.items():
        if plat == docker_platform:
            return Target(lambda_arch=arch, musl=musl)
    raise ConfigurationError(
        "unsupported platform for AWS Lambda",
        prop="platform",
        value=docker_platform,
        fix="use linux/amd64 (x86_64) or linux/arm64 (arm64)",
    )


def host_docker_platform() -> str:
    """The Docker platform native to this machine (zig cross-compiles, so no emulation)."""
    machine = platform.machine().lower()
    return "linux/arm64" if machine in ("arm64", "aarch64") else "linux/amd64"
