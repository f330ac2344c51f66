"""Cargo's configuration files, as cargo itself finds and merges them.

cargo reads ``.cargo/config.toml`` (or the legacy ``.cargo/config``) in its working directory
and in every parent directory up to the filesystem root, then ``$CARGO_HOME/config.toml``.
Every cargo call of the library runs from the workspace root, so the same files apply as to a
user's own ``cargo lambda build`` there. Deeper files win for plain values; arrays are joined,
the home directory's first, the deepest directory's last.

Used for two things: which config values can change a binary (the fingerprint, see
``_fingerprint/lines.py``), and which rustflags a build must keep. The library passes its own
flags (``--remap-path-prefix``, ``-C target-cpu``) in ``CARGO_ENCODED_RUSTFLAGS``, which makes cargo
ignore every config ``rustflags``; so ``effective_rustflags`` resolves the user's flags the way
cargo does (environment first, then ``[target.<triple>]`` and matching ``[target.'cfg(..)']``
joined, else ``[build]``) and the build passes them first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

from .._support import session

#: Top-level config tables that cannot change a binary (network, aliases, terminal, new-project
#: templates, install roots, credential helpers, report settings).
NEUTRAL_TABLES = frozenset(
    {
        "alias",
        "cargo-new",
        "credential-alias",
        "future-incompat-report",
        "http",
        "install",
        "net",
        "registries",
        "registry",
        "term",
    }
)
#: Keys of ``[build]`` that only change where or how fast cargo works, not what it produces.
NEUTRAL_BUILD_KEYS = frozenset({"jobs", "target-dir", "build-dir", "pipelining"})


def cargo_home() -> Path:
    return Path(os.environ.get("CARGO_HOME") or os.path.join(os.path.expanduser("~"), ".cargo"))


@dataclass(frozen=True)
class ConfigFile:
    path: Path
    label: str
    """How the file is named in fingerprint lines: relative to the workspace root
    (``.cargo/config.toml``, ``../../.cargo/config.toml``) or ``$CARGO_HOME/config.toml``."""
    data: Mapping[str, Any]
    """Parsed TOML (``{"<unreadable>": True}`` when the file cannot be parsed)."""


#: Parsed config files by (path, size, mtime).
CONFIG_FILES: session.MemoKey[Tuple[Path, int, int], Mapping[str, Any]] = session.MemoKey(
    "cargo.config-files"
)


def _read(path: Path) -> Mapping[str, Any]:
    """A config file parsed once per content state (the hash, the graph cache and the build
    each ask for the same files, once per function)."""
    try:
        st = path.stat()
        key = (path, st.st_size, st.st_mtime_ns)
        _files_memo = session.current().memo(CONFIG_FILES)
        if key not in _files_memo:
            with open(path, "rb") as fh:
                _files_memo[key] = tomllib.load(fh)
        return _files_memo[key]
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {"<unreadable>": True}


def _in_dir(directory: Path) -> Optional[Path]:
    for name in ("config.toml", "config"):
        candidate = directory / ".cargo" / name
        if candidate.is_file():
            return candidate
    return None


def config_files(root: Path, *, include_outside: bool = True) -> List[ConfigFile]:
    """The config files cargo reads when run from ``root``, lowest precedence first.

    ``include_outside=False``: only the root's own ``.cargo/config.toml`` (what a Docker build,
    which sees only the mounted workspace, reads).
    """
    found: List[ConfigFile] = []
    home = cargo_home()
    if include_outside:
        for name in ("config.toml", "config"):
            candidate = home / name
            if candidate.is_file():
                found.append(ConfigFile(candidate, f"$CARGO_HOME/{name}", _read(candidate)))
                break
    directories = [root, *root.parents] if include_outside else [root]
    for directory in reversed(directories):
        path = _in_dir(directory)
        if path is None or any(c.path == path for c in found):
            continue  # (when $CARGO_HOME is ~/.cargo, the walk through ~ finds it again)
        label = Path(os.path.relpath(path, root)).as_posix()
        found.append(ConfigFile(path, label, _read(path)))
    return found


def outside_config_files(root: Path) -> List[ConfigFile]:
    """Config files a local build reads but a Docker build (workspace root only) does not."""
    inside = {c.path for c in config_files(root, include_outside=False)}
    return [c for c in config_files(root) if c.path not in inside and output_tables(c.data)]


def output_tables(data: Mapping[str, Any]) -> Dict[str, Any]:
    """The parts of one config file that can change a binary."""
    kept: Dict[str, Any] = {}
    for key, value in data.items():
        if key in NEUTRAL_TABLES:
            continue
        if key == "build" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in NEUTRAL_BUILD_KEYS}
            if not value:
                continue
        kept[key] = value
    return kept


# -- rustflags -------------------------------------------------------------------------------


def _flags(value: Any) -> List[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


_TOKEN = re.compile(r'\s*(?:(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<str>"[^"]*")|(?P<p>[(),=]))')


def cfg_matches(expression: str, cfgs: FrozenSet[Tuple[str, Optional[str]]]) -> bool:
    """Evaluate ``cfg(...)`` (``all``, ``any``, ``not``, ``key``, ``key = "value"``) against
    ``rustc --print cfg`` of the target. A malformed expression matches nothing."""
    tokens: List[str] = []
    pos = 0
    text = expression.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            return False
        tokens.append(m.group("id") or m.group("str") or m.group("p"))
        pos = m.end()
    index = 0

    def take() -> str:
        nonlocal index
        if index >= len(tokens):
            raise ValueError("unexpected end")
        index += 1
        return tokens[index - 1]

    def predicate() -> bool:
        name = take()
        if name in ("all", "any", "not"):
            if take() != "(":
                raise ValueError("expected (")
            results: List[bool] = []
            while tokens[index] != ")":
                results.append(predicate())
                if tokens[index] == ",":
                    take()
            take()
            if name == "not":
                return len(results) == 1 and not results[0]
            return all(results) if name == "all" else any(results)
        if index < len(tokens) and tokens[index] == "=":
            take()
            return (name, take().strip('"')) in cfgs
        return (name, None) in cfgs

    try:
        if take() != "cfg" or take() != "(":
            return False
        result = predicate()
        return take() == ")" and index == len(tokens) and result
    except (ValueError, IndexError):
        return False


#: ``rustc --print cfg`` by (rustc, triple).
TARGET_CFGS: session.MemoKey[Tuple[str, str], FrozenSet[Tuple[str, Optional[str]]]] = (
    session.MemoKey("cargo.target-cfgs")
)


def target_cfgs(rustc: str, triple: str) -> FrozenSet[Tuple[str, Optional[str]]]:
    """``rustc --print cfg --target <triple>`` as (key, value) pairs (memoised)."""
    key = (rustc, triple)
    _cfg_memo = session.current().memo(TARGET_CFGS)
    if key not in _cfg_memo:
        try:
            proc = subprocess.run(
                [rustc, "--print", "cfg", "--target", triple],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
            )
            out = proc.stdout if proc.returncode == 0 else ""
        except OSError:
            out = ""
        pairs = set()
        for line in out.splitlines():
            name, _, value = line.partition("=")
            pairs.add((name.strip(), value.strip().strip('"') if value else None))
        _cfg_memo[key] = frozenset(pairs)
    return _cfg_memo[key]


def effective_rustflags(
    files: Sequence[ConfigFile],
    *,
    triple: str,
    environ: Mapping[str, str],
    cfgs: Optional[FrozenSet[Tuple[str, Optional[str]]]] = None,
) -> List[str]:
    """The user's rustflags for ``triple``, chosen by cargo's own precedence: the environment
    (``CARGO_ENCODED_RUSTFLAGS``, ``RUSTFLAGS``), then every matching ``target`` entry joined,
    then ``[build] rustflags`` (and ``CARGO_BUILD_RUSTFLAGS``)."""
    encoded = environ.get("CARGO_ENCODED_RUSTFLAGS")
    if encoded is not None:
        return [f for f in encoded.split("\x1f") if f]
    if environ.get("RUSTFLAGS") is not None:
        return environ["RUSTFLAGS"].split()
    target_flags: List[str] = []
    matched = False
    env_target = environ.get(f"CARGO_TARGET_{triple.upper().replace('-', '_')}_RUSTFLAGS")
    for config in files:
        targets = config.data.get("target")
        if not isinstance(targets, dict):
            continue
        for key, table in targets.items():
            if not isinstance(table, dict) or "rustflags" not in table:
                continue
            if key == triple or (
                key.startswith("cfg(") and cfgs is not None and cfg_matches(key, cfgs)
            ):
                matched = True
                target_flags += _flags(table["rustflags"])
    if env_target is not None:
        matched = True
        target_flags += env_target.split()
    if matched:
        return target_flags
    build_flags: List[str] = []
    for config in files:
        build = config.data.get("build")
        if isinstance(build, dict) and "rustflags" in build:
            build_flags += _flags(build["rustflags"])
    if environ.get("CARGO_BUILD_RUSTFLAGS") is not None:
        build_flags += environ["CARGO_BUILD_RUSTFLAGS"].split()
    return build_flags
