"""`cdk watch` and the workspace's target dir: warn when a build would re-trigger the watch.

``cdk watch`` synthesizes again whenever a file it watches changes. cargo writes into the
workspace's target dir on every build, so when that dir lies inside the app directory and
cdk.json's ``watch.exclude`` does not cover it (``cdk init`` writes no such line), each edit
costs one extra synth (this library then runs no cargo, so it stops there; a construct that
runs cargo on every synth loops forever). The check reads the cdk.json of the directory the
CDK CLI runs the app in, once per target dir and process, and only prints a warning.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from . import log, session

#: The line the warning asks for (matches a `target` dir at any depth).
EXCLUDE_LINE = "**/target"

#: The watch settings `cdk init app --language python` writes into cdk.json (no target dir
#: excluded).
CDK_INIT_WATCH: Dict[str, List[str]] = {
    "include": ["**"],
    "exclude": [
        "README.md",
        "cdk*.json",
        "requirements*.txt",
        "source.bat",
        "**/__init__.py",
        "**/__pycache__",
        "tests",
    ],
}


@lru_cache(maxsize=None)
def _pattern(glob: str) -> "re.Pattern[str]":
    """A cdk.json watch glob as a regex over '/'-separated relative paths (micromatch-like:
    ``**`` spans directories, ``*`` and ``?`` do not)."""
    out = ""
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif glob.startswith("**", i):
            out += ".*"
            i += 2
        elif glob[i] == "*":
            out += "[^/]*"
            i += 1
        elif glob[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(glob[i])
            i += 1
    return re.compile(out + r"\Z")


def _matches(patterns: Iterable[str], path: str) -> bool:
    """Does a pattern match ``path`` or a directory above it (a matched dir is not descended)?"""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    globs = [(p[2:] if p.startswith("./") else p).rstrip("/") for p in patterns]
    return any(_pattern(g).match(q) for g in globs if g for q in prefixes)


def _globs(watch: Dict[str, Any], key: str, default: List[str]) -> List[str]:
    value = watch.get(key) or default
    return [value] if isinstance(value, str) else list(value)


def watches(watch: Dict[str, Any], rel: str, *, directory: bool = False) -> bool:
    """Do cdk.json's watch settings (``include``, ``exclude``) cover the file at ``rel``
    ('/'-separated, relative to the app directory)? ``directory``: may files under the
    directory ``rel`` be covered (it is not excluded)? Default: False."""
    if _matches(_globs(watch, "exclude", []), rel):
        return False
    return directory or _matches(_globs(watch, "include", ["**"]), rel)


def watched(target_dir: Path, app_dir: Path, watch: Dict[str, Any]) -> bool:
    """Would ``cdk watch`` with these settings see files written under ``target_dir``?"""
    try:
        rel = target_dir.resolve().relative_to(app_dir.resolve()).as_posix()
    except ValueError:
        return False  # outside the app directory: never watched
    include = _globs(watch, "include", ["**"])
    exclude = _globs(watch, "exclude", [])
    # Any file under the target dir: an include like "**" or "lambdas/**" reaches it.
    probe = f"{rel}/x"
    if not (_matches(include, probe) or _matches(include, rel)):
        return False
    return not (_matches(exclude, rel) or _matches(exclude, probe))


def warn_if_watched(target_dir: Path, *, app_dir: Optional[Path] = None) -> Optional[str]:
    """Print and return the warning when cdk.json's watch settings would see builds in
    ``target_dir``; None when they would not, there is no watch, or the dir was checked
    already for this app (the functions of a workspace share it: one check)."""
    if not session.current().once(("watched", target_dir)):
        return None
    app_dir = app_dir or Path(os.getcwd())
    try:
        config = json.loads((app_dir / "cdk.json").read_text())
    except (OSError, ValueError):
        return None
    watch = config.get("watch") if isinstance(config, dict) else None
    if not isinstance(watch, dict) or not watched(target_dir, app_dir, watch):
        return None
    rel = target_dir.resolve().relative_to(app_dir.resolve()).as_posix()
    message = (
        f"constructs_rust: WARNING cdk.json's watch settings include {rel}/ (cargo's target "
        "dir): every build there makes `cdk watch` synthesize once more. Add "
        f'"{EXCLUDE_LINE}" to "watch": {{"exclude": [...]}} in cdk.json.'
    )
    log.say(message, prefix=False)
    return message
