"""The ``local`` command's lifeline: what it watches is stopped when it is killed outright, and
what it forgot (stopped and waited for) is left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from .. import procs
from ..conftest import ROOT

#: A command that starts its lifeline and three sleepers (a group leader with a child of its
#: own, a plain process, one stopped and forgotten), prints their pids, then dies by SIGKILL.
_COMMAND = """
import os, signal, subprocess, sys
from constructs_rust._support import lifeline
lifeline.start()
quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
group = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60"], start_new_session=True, **quiet)
lifeline.watch(group.pid, group=True)
plain = subprocess.Popen(["sleep", "60"], **quiet)
lifeline.watch(plain.pid, group=False)
done = subprocess.Popen(["sleep", "60"], **quiet)
lifeline.watch(done.pid, group=False)
done.kill(); done.wait()
lifeline.forget(done.pid)
print(group.pid, plain.pid, done.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_command_killed_outright_leaves_nothing_it_watched_running():
    proc = subprocess.run(
        [sys.executable, "-c", _COMMAND],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr
    group, plain, done = (int(pid) for pid in proc.stdout.split())
    assert not procs.alive(done)
    deadline = time.monotonic() + 10
    while procs.alive(plain) or procs.group_members(group):
        assert time.monotonic() < deadline, (procs.alive(plain), procs.group_members(group))
        time.sleep(0.1)


def test_without_a_lifeline_watching_does_nothing():
    from constructs_rust._support import lifeline

    lifeline.watch(os.getpid(), group=False)  # no guard in this process: nothing to tell
    lifeline.forget(os.getpid())
