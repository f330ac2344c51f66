"""Every on-disk and in-container path the library writes or mounts, spelled once.

Host side: a workspace's build state lives under ``<cargo target dir>/constructs-rust/``
(artifacts, per-function records, history, image contexts); the per-user disk memo under
``$CONSTRUCTS_RUST_CACHE_DIR`` or ``$XDG_CACHE_HOME/constructs-rust``. Container side: where
Docker builds see the workspace, the cargo home and the build dir (also what host paths are
remapped to in the binary with ``--remap-path-prefix``).
"""

from __future__ import annotations

from pathlib import Path

#: The directory name the library owns inside a cargo target dir and the user cache.
OWN_DIR = "constructs-rust"

CONTAINER_WORKSPACE = "/workspace"
CONTAINER_CARGO_HOME = "/cargo"
CONTAINER_BUILD_DIR = "/constructs-rust"
#: cargo's target dir inside Docker (bundling and ContainerBuild.IN_DOCKER alike).
CONTAINER_TARGET_DIR = f"{CONTAINER_BUILD_DIR}/docker-target"
#: An IN_DOCKER image build's BuildKit cache of zig's libc stubs and compiler-rt.
CONTAINER_TOOL_CACHE = f"{CONTAINER_BUILD_DIR}/tool-cache"
#: An IN_DOCKER image build's ``--lambda-dir`` and the bootstrap it leaves for the final stage.
CONTAINER_LAMBDA_DIR = f"{CONTAINER_BUILD_DIR}/lambda"
CONTAINER_IMAGE_BOOTSTRAP = f"{CONTAINER_BUILD_DIR}/bootstrap"
#: Where a VOLUME_COPY build's outputs (cargo-lambda's --lambda-dir) go inside the container.
CONTAINER_VOLUME_OUT = "/constructs-rust-out"
#: The container's cargo home when no host cache is mounted (remapped to CONTAINER_CARGO_HOME).
CONTAINER_SCRATCH_CARGO_HOME = "/tmp/cargo"


def build_dir(target_dir: Path) -> Path:
    """``<target>/constructs-rust``: artifacts, records, history and image contexts."""
    return target_dir / OWN_DIR


def records_dir(target_dir: Path) -> Path:
    """Where each function's record of the inputs its last build read is kept."""
    return build_dir(target_dir) / "records"


def harness_dir(user_cache: Path) -> Path:
    """Where ``ExtensionSimulator`` keeps the extension harness it builds, per machine."""
    return user_cache / OWN_DIR / "extension-harness"


def image_context_dir(target_dir: Path, name: str) -> Path:
    """Where an IN_DOCKER image's Dockerfile and context are written."""
    return build_dir(target_dir) / name


def sbom_file(assembly_dir: Path, construct_path: str) -> Path:
    """A function's CycloneDX SBOM beside the cloud assembly: ``sbom/<construct path>.cdx.json``
    (its path segments as directories)."""
    parts = [part for part in construct_path.split("/") if part not in ("", ".", "..")]
    return assembly_dir.joinpath("sbom", *parts[:-1], f"{parts[-1]}.cdx.json")


def replay_file(cache: Path, parent: str, asset_dir_name: str) -> Path:
    """What ``local serve`` needs to rebuild a staged asset without a synth (see
    ``_build/replay.py``), in the library's cache ``cache``: by the digest ``parent`` of the
    asset directory's parent and its name."""
    return cache / "replay" / parent / f"{asset_dir_name}.pickle"


def rebuilt_asset_dir(assembly_dir: Path, fingerprint: str) -> Path:
    """Where ``local serve`` stages a function it rebuilt without a synth when the library
    cannot name the asset directory as CDK does (see ``_build/replay.py``)."""
    return assembly_dir / "constructs-rust-local" / f"asset.{fingerprint}"
