"""Hashing files and directory trees for the asset hash: a file's digest, a tree's digest (the
files cargo would see, with the directories it never reads skipped), a watched directory's
digest, and paths relative to the workspace. Tree hashes are memoized per process."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import List, Optional, Sequence, Set, Tuple

from .._cargo.metadata import IGNORED_DIRS, Workspace
from .._support import session
from .._support.disk_memo import digest


def file_digest(path: Path) -> str:
    """Content and executable bit of a file (symlinks followed); ``absent``/``unreadable``."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        executable = bool(os.stat(path).st_mode & stat.S_IXUSR)
    except FileNotFoundError:
        return "absent"
    except OSError:
        return "unreadable"
    return f"{h.hexdigest()}:{'x' if executable else '-'}"


#: Never part of a package tree: build outputs and tool folders (``IGNORED_DIRS``), cargo's
#: own config folder (it counts by its tables, see ``config_lines``), caches and editor folders.
TREE_SKIP = IGNORED_DIRS | {
    ".cargo",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".idea",
    ".vscode",
    ".direnv",
}


#: An app's tree hashes by (directory, target dir): the digest and the entries it hashed.
TREES: session.MemoKey[Tuple[Path, Optional[Path]], Tuple[str, Tuple[str, ...]]] = session.MemoKey(
    "fingerprint.trees"
)


def hash_tree(directory: Path, target_dir: Optional[Path] = None) -> str:
    """Content hash of a package directory: every file, relative paths, executable bits.

    Symlinked files and directories are followed (cargo reads through them); a link cycle is
    entered once. Subdirectories holding their own Cargo.toml are other packages and are skipped
    (hashed as dependencies when the binary depends on them), as are build outputs and tool
    folders (``TREE_SKIP``, and the target dir wherever it is) and ``Cargo.lock`` (it counts
    through the graph's entries).
    """
    memo_key = (directory, target_dir)
    trees = session.current().memo(TREES)
    if memo_key in trees:
        return trees[memo_key][0]
    entries: List[str] = []
    seen: Set[str] = set()
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        keep = []
        for d in sorted(dirnames):
            sub = Path(dirpath) / d
            if d in TREE_SKIP or sub == target_dir or (sub / "Cargo.toml").is_file():
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name != "Cargo.lock" and (path.is_file() or path.is_symlink()):
                entries.append(f"{path.relative_to(directory).as_posix()}={file_digest(path)}")
    result = digest(entries)
    trees[memo_key] = (result, tuple(entries))
    return result


def watched_dir_digest(directory: Path, skip: Sequence[Path] = ()) -> str:
    """A directory a build watches (``cargo:rerun-if-changed=<dir>``, which cargo scans
    recursively): every file and subdirectory under it, added and removed ones included, with
    no editor or tool folder skipped (cargo skips none); only target dirs (``skip``), which the
    build itself writes."""
    skipped = {os.path.normpath(p) for p in skip}
    entries: List[str] = []
    seen: Set[str] = set()
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(
            d for d in dirnames if os.path.normpath(os.path.join(dirpath, d)) not in skipped
        )
        base = Path(dirpath).relative_to(directory).as_posix()
        entries.extend(f"{base}/{d}/" for d in dirnames)
        for name in sorted(filenames):
            entries.append(f"{base}/{name}={file_digest(Path(dirpath) / name)}")
    return "dir:" + digest(entries)


def read_digest(path: Path, target_dir: Optional[Path] = None) -> str:
    """The digest of one discovered read: a file's content, or a watched directory's tree."""
    if path.is_dir():
        return watched_dir_digest(path, [target_dir] if target_dir is not None else [])
    return file_digest(path)


def tree_files(directory: Path, target_dir: Optional[Path] = None) -> Tuple[str, ...]:
    """The ``<relative path>=<file digest>`` entries ``hash_tree`` hashed for ``directory``:
    kept with the history (not hashed again) so "why did it change" can name the files."""
    hash_tree(directory, target_dir)
    return session.current().memo(TREES)[(directory, target_dir)][1]


def rel(workspace: Workspace, path: Path) -> str:
    return Path(os.path.relpath(path, workspace.root)).as_posix()
