"""Staging: copy a function's sealed artifact from the local store into its CDK asset
directory, replacing the placeholder the bundler left."""

from __future__ import annotations

import shutil

from .._fingerprint import extra_files
from .._store import artifacts
from .._support import timing
from ..errors import ConstructsRustError
from .binary_check import check_binary, check_size
from .request import PLACEHOLDER, BuildRequest, artifact_dir


def cached_intact(request: BuildRequest) -> bool:
    """Is ``request``'s artifact in the local store, exactly as built? (A damaged one is
    removed: a miss.)"""
    return artifacts.intact(
        artifact_dir(request.workspace, request.fingerprint),
        request.artifact_name,
        who=request.construct_path,
    )


def install_if_cached(request: BuildRequest) -> bool:
    """Stage the locally cached artifact now (True), or leave the request for the queue."""
    if not cached_intact(request):
        return False
    try:
        with timing.measure():
            install_artifact(request)
    except (OSError, ConstructsRustError):
        return False  # the queue stages it again and reports the error
    request.done = True
    return True


def install_artifact(request: BuildRequest) -> None:
    """Check the cached artifact's binary against its runtime (``BinaryError``), copy the
    artifact into the staged asset directory and drop the placeholder."""
    source = artifact_dir(request.workspace, request.fingerprint)
    check_binary(
        source / request.artifact_name,
        request.target,
        name=f"{request.artifact_name} (binary {request.binary})",
        extension=request.extension,
        image=request.image,
    )
    request.asset_dir.mkdir(parents=True, exist_ok=True)
    for item in sorted(source.iterdir()):
        if item.name == artifacts.SEAL:
            continue
        target = request.asset_dir / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            shutil.copy2(item, target)
    if request.extra_files:
        names = {rel for rel, _ in artifacts.artifact_files(source)}
        extra_files.stage(request.extra_files, request.asset_dir, names)
    placeholder = request.asset_dir / PLACEHOLDER
    if placeholder.exists():
        placeholder.unlink()
    if request.image is None:  # a zip asset: Lambda's unzipped quota (an image's is 10 GB)
        check_size(request.asset_dir, who=request.artifact_name)
