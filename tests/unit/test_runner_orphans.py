"""Issue #28 item 7: SIGKILL of the synthesizing process (the OOM killer, a CI runner's hard
kill) leaves nothing of its build running: the child, its children, and (through the guard's
extra argv) a Docker container."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from ..conftest import ROOT

# A cargo-like tree: the child starts a grandchild (a build script, rustc) and both run long.
TREE = (
    "import subprocess, sys, time, pathlib\n"
    "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
    "pathlib.Path(sys.argv[1]).write_text(f'{__import__(\"os\").getpid()} {g.pid}')\n"
    "time.sleep(300)\n"
)

SYNTH = """
import sys
from pathlib import Path
from constructs_rust._support import processes as runner
pids, marker, tree = sys.argv[1:4]
runner.stream([sys.executable, "-c", tree, pids], cwd=Path("."), env=dict(__import__("os").environ),
              if_orphaned=["touch", marker])
Path(marker + ".normal-end").write_text("done")
"""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _start(tmp_path: Path, tree: str) -> "tuple[subprocess.Popen[bytes], Path, Path]":
    pids, marker = tmp_path / "pids", tmp_path / "orphaned"
    synth = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SYNTH), str(pids), str(marker), tree],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.DEVNULL,
    )
    return synth, pids, marker


def test_sigkill_of_the_synth_stops_the_whole_build_tree_and_runs_the_orphan_command(tmp_path):
    synth, pids, marker = _start(tmp_path, TREE)
    deadline = time.monotonic() + 60
    while not (pids.exists() and pids.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child, grandchild = map(int, pids.read_text().split())
    assert _alive(child) and _alive(grandchild)
    synth.send_signal(signal.SIGKILL)
    synth.wait()
    deadline = time.monotonic() + 20
    while (_alive(child) or _alive(grandchild) or not marker.exists()) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert not _alive(child), "the build's child outlived the killed synth"
    assert not _alive(grandchild), "the build's grandchild (a build script) outlived it"
    assert marker.exists(), "the orphan command (docker kill <name>) ran"


def test_a_normal_end_leaves_no_guard_and_runs_no_orphan_command(tmp_path):
    synth, _, marker = _start(tmp_path, "print('built')")
    assert synth.wait(timeout=60) == 0
    assert (tmp_path / "orphaned.normal-end").exists()
    time.sleep(0.5)
    assert not marker.exists(), "a build that ended is not an orphan"
    guards = [
        p
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and str(marker) in _cmdline(p) and _alive(int(p.name))
    ]
    assert guards == [], "no guard process is left behind"


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
