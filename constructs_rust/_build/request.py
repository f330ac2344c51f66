"""What one function asks the build for: a ``BuildRequest`` (workspace, package, binary, target,
options, its inputs and fingerprint, where to stage) and the key that decides which requests
share one cargo-lambda run; where a workspace's artifacts live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from .._cargo.depgraph import Graph
from .._cargo.metadata import Package, Workspace
from .._cargo.targets import Target
from .._fingerprint import extra_files
from .._fingerprint import lines as fingerprint_lines
from .._fingerprint.inputs import Inputs
from .._support import paths
from ..options import BundlingOptions

#: Left in a staged asset directory until the real bootstrap replaces it.
PLACEHOLDER = ".constructs-rust-pending"


#: Requests with equal keys build in one cargo-lambda run: (workspace root, package name when
#: features scope the build to it, build settings, Docker run options (network, user,
#: volumes, security options, file access: not in the fingerprint), function or extension).
GroupKey = Tuple[str, str, Tuple[str, ...], Tuple[str, ...], str]


def docker_run_key(options: BundlingOptions) -> Tuple[str, ...]:
    """The Docker run options that cannot change the binary (so not fingerprinted) but must
    be the same for builds sharing one container run."""
    return (
        f"network={options.docker_network or ''}",
        f"user={options.docker_user or ''}",
        *(f"security={o}" for o in options.docker_security_options),
        *(
            f"volume={v.host_path or ''}|{v.volume_name or ''}|{v.container_path}|{v.read_only}"
            for v in options.docker_volumes
        ),
        f"file_access={'volume_copy' if options.volume_copy else 'bind_mount'}",
    )


@dataclass(eq=False)
class BuildRequest:
    """One function's binary, to be placed in its staged asset directory."""

    construct_path: str
    workspace: Workspace
    package: Package
    binary: str
    target: Target
    options: BundlingOptions
    use_docker: bool
    inputs: Inputs
    """Every input line; the fingerprint is their digest (written to the remote manifest)."""
    slot: str
    """This package's binary built these settings' way (``inputs.slot``): where its previous
    record is found after a source edit."""
    graph: Graph
    """The binary's resolved dependency graph (decides which binaries may share a cargo run)."""
    asset_dir: Path = Path()
    error: Optional[str] = None
    reports_error: bool = True
    """False for the other members of a failed shared build: one construct reports it (the
    message names every binary and construct), so the user reads it once, not once each."""
    done: bool = False
    extension: bool = False
    """A Lambda extension (``--extension``): staged as ``extensions/<binary>``."""
    image: Optional[str] = None
    """A container image function's base image (``scratch`` for FROM scratch), None for a zip
    function or layer: what the binary check holds the bootstrap against."""
    extra_files: Tuple[extra_files.Resolved, ...] = ()
    """Files added to the staged asset next to the binary (not part of the artifact)."""
    complete: Optional[Inputs] = None
    """Set when the build read inputs ``inputs`` did not cover: the same bytes are also stored
    under these complete inputs, and only they are shared (a cache entry's lines must name
    everything its bytes depend on)."""

    @property
    def shared_inputs(self) -> Inputs:
        """The inputs the artifact is uploaded under."""
        return self.complete or self.inputs

    @property
    def fingerprint(self) -> str:
        return self.inputs.fingerprint

    @property
    def artifact_name(self) -> str:
        """Where the binary goes in the artifact and the staged asset."""
        return f"extensions/{self.binary}" if self.extension else "bootstrap"

    def built_path(self, lambda_dir: Path) -> Path:
        """Where cargo-lambda writes this binary under ``--lambda-dir``."""
        if self.extension:
            return lambda_dir / "extensions" / self.binary
        return lambda_dir / self.binary / "bootstrap"

    @property
    def unified(self) -> bool:
        """Built with the whole workspace selected (features unified over every member); with
        ``bundling.features``, which apply to one package, built for that package alone."""
        return not (self.options.features or self.options.no_default_features)

    @property
    def group_key(self) -> GroupKey:
        # Features apply to one package, so such builds are grouped per package.
        scoped = "" if self.unified else self.package.name
        return (
            str(self.workspace.root),
            scoped,
            tuple(fingerprint_lines.build_settings(self.options, self.target, self.use_docker)),
            docker_run_key(self.options) if self.use_docker else (),
            # --extension applies to every binary of a cargo-lambda run.
            "extension" if self.extension else "function",
        )


def workspace_build_dir(workspace: Workspace) -> Path:
    return paths.build_dir(workspace.target_dir)


def artifact_dir(workspace: Workspace, fingerprint: str) -> Path:
    return workspace_build_dir(workspace) / "artifacts" / fingerprint
