"""Extra files in a function's zip next to ``bootstrap`` (``RustFunction(extra_files=[...])``).

They are not part of the build: the binary's fingerprint (the artifact cache key, local and
remote) stays the same when only an extra file changes, and no cargo runs. They are part of
the ASSET hash (``include <name>=<content digest>`` lines, see ``inputs.Inputs.zip``), and
they are copied from their sources into the staged asset directory whenever the asset is
staged, from a fresh build or a cached artifact alike (a remote cache hit included: the cache
holds the binary, the extra files come from the app's own checkout).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import List, Sequence, Set, Tuple, Union

from ..errors import ConfigurationError, ConstructsRustError
from .tree import file_digest

#: Names the construct itself writes at the zip root.
RESERVED = ("bootstrap", ".constructs-rust-pending")
PROP = "extra_files"


@dataclass(frozen=True)
class Resolved:
    """One extra file or directory: its name in the zip and its absolute source."""

    name: str
    source: Path

    @property
    def is_dir(self) -> bool:
        return self.source.is_dir()


def _name_problem(name: str) -> str:
    if not name or name.strip() != name:
        return "is empty or has leading/trailing spaces"
    if "\\" in name or "\x00" in name:
        return "contains a backslash or NUL byte"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "is absolute: names are relative to the zip root"
    parts = PurePosixPath(name).parts
    if any(p in (".", "..") for p in name.split("/")) or "/".join(parts) != name.rstrip("/"):
        return "is not a plain relative path inside the zip (no '.', '..' or '//')"
    if parts[0] in RESERVED:
        return f"would overwrite {parts[0]!r}, which the construct writes at the zip root"
    return ""


def resolve(entries: Sequence[Union[str, object]]) -> Tuple[Resolved, ...]:
    """Check every entry (``str`` or ``ExtraFile``) and resolve its source against the working
    directory. Raises ConfigurationError naming the entry and the fix."""
    from ..options import ExtraFile

    resolved: List[Resolved] = []
    names: Set[str] = set()
    for entry in entries:
        if isinstance(entry, str):
            entry = ExtraFile(source=entry)
        if not isinstance(entry, ExtraFile):
            raise ConfigurationError(
                "is neither a path nor an ExtraFile",
                prop=PROP,
                value=entry,
                fix='pass paths or ExtraFile(source="config/prod.toml", name="config.toml")',
            )
        source = Path(os.path.abspath(entry.source))
        if not os.path.exists(source):
            raise ConfigurationError(
                f"does not exist (resolved against the working directory {os.getcwd()!r})",
                prop=f"{PROP} source",
                value=entry.source,
                fix="give a path to a file or directory, relative to where you run cdk",
            )
        if not (source.is_file() or source.is_dir()):
            raise ConfigurationError(
                "is neither a regular file nor a directory",
                prop=f"{PROP} source",
                value=entry.source,
                fix="add regular files or directories",
            )
        name = entry.name if entry.name is not None else source.name
        problem = _name_problem(name)
        if problem:
            raise ConfigurationError(
                problem,
                prop=f"{PROP} name",
                value=name,
                fix='give a relative name inside the zip such as "config.toml" or '
                '"certs/ca.pem", other than bootstrap',
            )
        name = name.rstrip("/")
        for other in names:
            if name == other or name.startswith(other + "/") or other.startswith(name + "/"):
                raise ConfigurationError(
                    f"overlaps {other!r}: two entries would write the same place in the zip",
                    prop=f"{PROP} name",
                    value=name,
                    fix="give each entry its own name (ExtraFile(source=..., name=...))",
                )
        names.add(name)
        resolved.append(Resolved(name=name, source=source))
    return tuple(sorted(resolved, key=lambda r: r.name))


def _walk(item: Resolved) -> List[Tuple[str, Path]]:
    """(name in the zip, source) of every file of an entry; directories end in ``/``."""
    if not item.is_dir:
        return [(item.name, item.source)]
    found: List[Tuple[str, Path]] = [(item.name + "/", item.source)]
    seen: Set[str] = set()
    for dirpath, dirnames, filenames in os.walk(item.source, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a symlink cycle: entered once
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        rel = Path(dirpath).relative_to(item.source).as_posix()
        prefix = item.name if rel == "." else f"{item.name}/{rel}"
        for d in dirnames:
            found.append((f"{prefix}/{d}/", Path(dirpath) / d))
        for f in sorted(filenames):
            path = Path(dirpath) / f
            if path.is_file():
                found.append((f"{prefix}/{f}", path))
    return found


def lines(resolved: Sequence[Resolved]) -> List[str]:
    """The asset-hash lines of the extra files: every name with its content digest and
    executable bit (what the zip keeps), never a host path."""
    out: List[str] = []
    for item in resolved:
        for name, path in _walk(item):
            out.append(
                f"include {name}" if name.endswith("/") else f"include {name}={file_digest(path)}"
            )
    return out


def stage(resolved: Sequence[Resolved], asset_dir: Path, artifact_names: Set[str]) -> None:
    """Copy the extra files into the staged asset directory (after the artifact).
    ``artifact_names``: files the artifact put there (bootstrap, after-build hook outputs),
    which an extra file may not replace."""
    for item in resolved:
        clash = sorted(n for n in artifact_names if n == item.name or n.startswith(item.name + "/"))
        if clash or any(item.name.startswith(n + "/") for n in artifact_names):
            raise ConstructsRustError(
                f"{item.name!r} would overwrite {', '.join(clash) or 'a file'} of the built "
                "artifact (written by an after_build hook?)",
                prop=f"{PROP} name",
                value=item.name,
                fix="rename the extra file, or let the hook write it instead",
            )
        for name, path in _walk(item):
            target = asset_dir / name
            if name.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists() or target.is_symlink():
                target.unlink()
            shutil.copy2(path, target)  # content and mode (the zip keeps the executable bit)
