"""Every ``CONSTRUCTS_RUST_*`` environment variable the library reads, in one place.

Each is read when it is needed (never cached on import), so a test or a shell can change it
between synths. The table in docs/settings.md lists the same names; a unit test keeps the two
in step.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional

EXPLAIN = "CONSTRUCTS_RUST_EXPLAIN"
CACHE_DIR = "CONSTRUCTS_RUST_CACHE_DIR"
TRACEBACK = "CONSTRUCTS_RUST_TRACEBACK"
TIMING = "CONSTRUCTS_RUST_TIMING"
VERIFY = "CONSTRUCTS_RUST_VERIFY"
REMOTE_CACHE = "CONSTRUCTS_RUST_REMOTE_CACHE"
REMOTE_CACHE_MODE = "CONSTRUCTS_RUST_REMOTE_CACHE_MODE"
HARNESS_DIR = "CONSTRUCTS_RUST_HARNESS_DIR"

#: Every variable above, for docs/settings.md's test.
ALL = (EXPLAIN, CACHE_DIR, TRACEBACK, TIMING, VERIFY, REMOTE_CACHE, REMOTE_CACHE_MODE, HARNESS_DIR)

_OFF = ("", "0", "false", "no", "off")


def value(name: str, environ: Optional[Mapping[str, str]] = None) -> str:
    """The variable's value, stripped; empty when unset."""
    return (os.environ if environ is None else environ).get(name, "").strip()


def flag(name: str) -> bool:
    """True unless the variable is unset, empty or one of 0/false/no/off."""
    return value(name).lower() not in _OFF


def explain() -> bool:
    """``CONSTRUCTS_RUST_EXPLAIN=1``: print every fingerprint input line at synth."""
    return bool(value(EXPLAIN))


def traceback() -> bool:
    """``CONSTRUCTS_RUST_TRACEBACK=1``: keep Python's traceback for the library's errors."""
    return bool(value(TRACEBACK))


def timing() -> bool:
    """``CONSTRUCTS_RUST_TIMING=1``: print the library's own time when the synth exits."""
    return bool(value(TIMING))


def verify() -> bool:
    """``CONSTRUCTS_RUST_VERIFY=1``: rebuild every cached artifact and compare the bytes."""
    return flag(VERIFY)


def cache_dir() -> Optional[str]:
    """``CONSTRUCTS_RUST_CACHE_DIR``: the per-user disk memo's directory, if set."""
    return os.environ.get(CACHE_DIR) or None


def harness_dir() -> Optional[str]:
    """``CONSTRUCTS_RUST_HARNESS_DIR``: where testing builds the extension harness, if set."""
    return os.environ.get(HARNESS_DIR) or None
