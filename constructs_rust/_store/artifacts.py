"""What the local artifact store holds, and proof that it still holds what was built.

An artifact is a directory ``<target-dir>/constructs-rust/artifacts/<fingerprint>/`` with the
bootstrap (or extension) and what after-build hooks wrote next to it. Every directory is
*sealed* before it is renamed into place: ``SEAL`` inside it holds one SHA-256 over every file's
relative path, executable bit and contents. Staging checks the seal first (``intact``); a
directory whose files no longer match it (a flipped byte on disk, a truncated copy, an edit by
hand), or that has no seal, is removed and counts as a cache miss, so the function is rebuilt
and the user is told once. A damaged binary is never staged under the old asset hash.

The seal is written inside the directory so that it moves with the atomic rename: a reader
never sees an artifact without its seal. It is never staged, uploaded or listed as a file of
the artifact (``artifact_files`` leaves it out).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import List, Tuple

from .._support import log

#: The digest file inside each artifact directory.
SEAL = ".constructs-rust-sha256"
_CHUNK = 1 << 20


def artifact_files(directory: Path) -> List[Tuple[str, Path]]:
    """Every regular file of the artifact in ``directory`` as (relative posix path, path),
    sorted; the seal is not one of them."""
    found = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and not (name == SEAL and Path(dirpath) == directory):
                found.append((path.relative_to(directory).as_posix(), path))
    return sorted(found)


def contents_digest(directory: Path) -> str:
    """SHA-256 over each file's relative path, executable bit and contents, in path order."""
    total = hashlib.sha256()
    for rel, path in artifact_files(directory):
        one = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                one.update(chunk)
        executable = "x" if os.access(path, os.X_OK) else "-"
        total.update(f"{rel}\0{executable}\0{one.hexdigest()}\n".encode())
    return total.hexdigest()


def seal(directory: Path) -> None:
    """Write the seal of ``directory`` (call it before the directory is renamed into place)."""
    (directory / SEAL).write_text(contents_digest(directory) + "\n", encoding="ascii")


def intact(directory: Path, required: str, *, who: str) -> bool:
    """Is the artifact in ``directory`` present (``required`` among its files) and exactly as
    sealed? A damaged or unsealed one is removed (a miss: the caller rebuilds it) with a
    warning naming ``who`` needs it."""
    if not (directory / required).is_file():
        return False
    try:
        stored = (directory / SEAL).read_text(encoding="ascii").strip()
        actual = contents_digest(directory)
    except OSError:
        stored, actual = "", "unreadable"
    if stored and stored == actual:
        return True
    why = (
        "does not match the digest stored with it (damaged on disk?)"
        if stored
        else "has no digest stored with it (an older release stored it?)"
    )
    log.say(
        f"WARNING the cached build of {who} ({directory.name[:12]}…) {why}: "
        "removed, building it again"
    )
    discard(directory)
    return False


def discard(directory: Path) -> None:
    """Remove an artifact directory so that no reader sees it half-deleted: renamed first."""
    trash = directory.parent / f".trash-{uuid.uuid4().hex}"
    try:
        os.rename(directory, trash)
    except OSError:
        return  # already gone (another synth discarded or replaced it)
    shutil.rmtree(trash, ignore_errors=True)
