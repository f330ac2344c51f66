"""The team cache's manifest format: what an uploaded artifact lists (paths, sizes, SHA-256,
exec bits), built on upload and checked on fetch before a byte is staged."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import stat
from pathlib import Path, PurePosixPath
from typing import Any, Dict, List, Sequence

from .._support.disk_memo import digest
from . import artifacts

FORMAT = "constructs-rust-artifact-v1"


LAYOUT_VERSION = "v1"


MANIFEST = "manifest.json"


MAX_MANIFEST_BYTES = 1 << 20


MAX_FILE_BYTES = 1 << 30


FINGERPRINT_PATTERN = re.compile(r"^[0-9a-f]{16,128}$")


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def safe_relpath(path: str) -> str:
    """A manifest's file path, refused unless it is a plain relative path inside the artifact.

    The manifest comes from the remote: never let it name a key outside the fingerprint's
    prefix or a local file outside the artifact directory.
    """
    if (
        not isinstance(path, str)
        or not path
        or len(path) > 512
        or "\\" in path
        or "\x00" in path
        or path.startswith("/")
    ):
        raise ValueError(f"unsafe path in manifest: {path!r}")
    parts = PurePosixPath(path).parts
    if any(p in ("", ".", "..") for p in parts) or "/".join(parts) != path:
        raise ValueError(f"unsafe path in manifest: {path!r}")
    return path


class Unavailable(Exception):
    """The remote cannot be used for this synth (one warning, then local builds)."""

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(cause)
        self.cause = cause
        self.fix = fix


class Invalid(Exception):
    """One artifact on the remote does not match its manifest (or the manifest is malformed)."""


def _file_entry(path: Path, rel: str) -> Dict[str, Any]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    executable = bool(os.stat(path).st_mode & stat.S_IXUSR)
    return {"path": rel, "sha256": h.hexdigest(), "size": size, "executable": executable}


def build_manifest(fingerprint: str, directory: Path, inputs: Sequence[str]) -> Dict[str, Any]:
    toolchain = [line[len("toolchain ") :] for line in inputs if line.startswith("toolchain ")]
    return {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "files": [_file_entry(path, rel) for rel, path in artifacts.artifact_files(directory)],
        "inputs": list(inputs),
        "toolchain": toolchain[0] if toolchain else "",
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def check_manifest(
    fingerprint: str, manifest: Any, required: str = "bootstrap"
) -> List[Dict[str, Any]]:
    """The manifest's file entries, validated (raises Invalid): it must name ``fingerprint``,
    its input lines must hash to it (the reader computed the same lines from its own files:
    the entry was built from exactly these inputs), and it must hold ``required`` (the
    function's ``bootstrap`` or an extension's ``extensions/<name>``)."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Invalid("the manifest is not a constructs-rust artifact manifest")
    if manifest.get("fingerprint") != fingerprint:
        raise Invalid("the manifest names another fingerprint")
    lines = manifest.get("inputs")
    if not isinstance(lines, list) or digest([str(line) for line in lines]) != fingerprint:
        raise Invalid("the manifest's inputs do not hash to its fingerprint")
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        raise Invalid("the manifest lists no files")
    seen = set()
    for entry in files:
        if not isinstance(entry, dict):
            raise Invalid("a manifest file entry is not an object")
        try:
            rel = safe_relpath(entry.get("path"))  # type: ignore[arg-type]
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        if rel in seen:
            raise Invalid(f"{rel!r} is listed twice")
        seen.add(rel)
        size = entry.get("size")
        if not _SHA256.match(str(entry.get("sha256", ""))) or not isinstance(size, int):
            raise Invalid(f"{rel!r} has no valid sha256/size")
        if size < 0 or size > MAX_FILE_BYTES:
            raise Invalid(f"{rel!r} has an implausible size {size}")
    if required not in seen:
        raise Invalid(f"the manifest has no {required}")
    return files
