"""The ``constructs-rust local`` command's lifeline: its emulators, function processes and
synths are stopped even when the command is killed outright.

A Ctrl-C or SIGTERM lets the command stop what it started itself. SIGKILL (the OOM killer, a
CI runner's hard kill, ``kill -9``) does not, and those children run in sessions of their own
(a terminal's Ctrl-C is the command's to handle), so they would be left running. ``start``
spawns one small guard process, in a session of its own, that reads from a pipe only the
command holds: the pids it is told to ``watch`` (a process, or a process group), and the
ones to ``forget`` once stopped. The pipe's end (the command gone, however it died) makes the
guard stop what is still watched: SIGTERM, then SIGKILL a second later.

Without ``start`` (the library used from a test, a construct) ``watch`` and ``forget`` do
nothing: the caller stops its own children.
"""

from __future__ import annotations

import os
import subprocess
import threading
from typing import Optional

#: The guard, a POSIX shell script (it starts in a millisecond, beside a command that counts
#: them): pids come in as ``g <pid>`` (a process group) or ``p <pid>``; ``- <pid>`` forgets.
_GUARD = """
w=" "
while read -r k p; do
  case $k in
    g) w="$w-$p " ;;
    p) w="$w$p " ;;
    -) w=$(echo "$w" | sed "s/ -$p / /g; s/ $p / /g") ;;
  esac
done
set -- $w
[ $# -gt 0 ] || exit 0
kill -TERM "$@" 2>/dev/null
sleep 1
kill -KILL "$@" 2>/dev/null
exit 0
"""

#: This process's guard (process state by nature: one command, one lifeline).
_guard: Optional["subprocess.Popen[bytes]"] = None
_lock = threading.Lock()


def start() -> None:
    """Start this process's guard (once; POSIX only; without one nothing changes)."""
    global _guard
    with _lock:
        if _guard is not None or os.name != "posix":
            return
        try:
            _guard = subprocess.Popen(
                ["/bin/sh", "-c", _GUARD],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # neither a Ctrl-C nor a kill of our group reaches it
            )
        except OSError:
            _guard = None


def _tell(line: str) -> None:
    with _lock:
        if _guard is None or _guard.stdin is None:
            return
        try:
            _guard.stdin.write(line.encode() + b"\n")
            _guard.stdin.flush()
        except (OSError, ValueError):
            pass  # the guard is gone: nothing to tell


def watch(pid: int, *, group: bool) -> None:
    """Stop ``pid`` (its whole process group when ``group``) should this process die."""
    _tell(f"{'g' if group else 'p'} {pid}")


def forget(pid: int) -> None:
    """``pid`` was stopped (and waited for): its number may be reused, leave it alone."""
    _tell(f"- {pid}")
