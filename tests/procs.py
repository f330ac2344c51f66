"""What tests see of processes (Linux ``/proc``): whether one still runs, what it started."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional


def _stat(pid: int) -> Optional[List[str]]:
    """The fields of ``/proc/<pid>/stat`` after the command name (state, ppid, pgrp, ...)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """Is ``pid`` running (a zombie is not)?"""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def _all(field: int, value: int) -> List[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(entry.name))
        if fields is not None and fields[0] != "Z" and int(fields[field]) == value:
            found.append(int(entry.name))
    return found


def children(parent: int) -> List[int]:
    """The running processes whose parent is ``parent``."""
    return _all(1, parent)


def descendants(parent: int) -> List[int]:
    """``parent``'s children, their children, and so on."""
    found, todo = [], [parent]
    while todo:
        direct = children(todo.pop())
        found += direct
        todo += direct
    return found


def group_members(group: int) -> List[int]:
    """The running processes of the process group ``group``."""
    return _all(2, group)


def command(pid: int) -> str:
    """``pid``'s command line (for messages)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"
