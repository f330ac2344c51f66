"""Small on-disk caches of the library (metadata, tool versions) and hashing helpers.

The cache lives in ``$CONSTRUCTS_RUST_CACHE_DIR`` or ``$XDG_CACHE_HOME/constructs-rust`` (or
``~/.cache/constructs-rust``). Entries are written atomically (temp file + rename), so two
synths at once never read a torn file. Nothing here ever reaches a template or an asset hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, Optional

from . import paths, settings


def cache_root() -> Path:
    explicit = settings.cache_dir()
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / paths.OWN_DIR


def digest(parts: Iterable[Any]) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode("utf-8", "surrogateescape")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json(kind: str, key: str) -> Optional[Dict[str, Any]]:
    path = cache_root() / kind / f"{key}.json"
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None  # a damaged entry is a miss


def write_json(kind: str, key: str, value: Dict[str, Any]) -> None:
    try:
        atomic_write(cache_root() / kind / f"{key}.json", json.dumps(value).encode())
    except OSError:
        pass  # a cache that cannot be written only costs speed
