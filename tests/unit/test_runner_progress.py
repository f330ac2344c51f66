"""Progress of a build (#30): cargo's own progress bar where stderr is a terminal, never a
carriage-return redraw in a log. A real child process stands in for cargo: it prints the
progress setting it was given, then draws the way cargo does (a bar ended by ``\\r``, erased
before the next status line)."""

import io
import sys
from pathlib import Path

from constructs_rust._support import processes as runner

CHILD = r"""
import os, sys, time
err = sys.stdout
err.write(os.environ.get("CARGO_TERM_PROGRESS_WHEN", "unset") + " "
          + os.environ.get("CARGO_TERM_PROGRESS_WIDTH", "-") + "\n")
err.write("    Building [=>      ] 1/2: a\r"); err.flush(); time.sleep(0.05)
err.write("\r" + " " * 30 + "\r   Compiling a v0.1.0\n")
err.write("    Building [======>] 2/2: bootstrap\r"); err.flush(); time.sleep(0.05)
err.write("\r" + " " * 30 + "\r    Finished `release` profile\n")
"""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(monkeypatch, stderr, tmp_path: Path):
    monkeypatch.setattr(sys, "stderr", stderr)
    env = {"PATH": "/usr/bin:/bin", "CARGO_TERM_PROGRESS_WHEN": "always"}  # the user's config
    return runner.stream([sys.executable, "-c", CHILD], cwd=tmp_path, env=env, cargo=True)


def test_in_a_log_cargo_draws_no_progress(monkeypatch, tmp_path):
    log = io.StringIO()
    code, lines = _run(monkeypatch, log, tmp_path)
    assert code == 0
    assert lines[0] == "never -\n", "cargo is told not to draw, whatever the user configured"
    # (this stand-in draws anyway: what the log gets is exactly what it wrote, line by line)
    assert log.getvalue() == "".join(lines)


def test_on_a_terminal_the_bar_is_passed_through_and_the_kept_lines_are_clean(
    monkeypatch, tmp_path
):
    terminal = _Terminal()
    code, lines = _run(monkeypatch, terminal, tmp_path)
    assert code == 0
    assert lines[0].startswith("always ") and lines[0].split()[1].isdigit()
    assert "Building [=>      ] 1/2: a\r" in terminal.getvalue(), "the bar reaches the terminal"
    assert lines[1:] == ["   Compiling a v0.1.0\n", "    Finished `release` profile\n"]
    assert not any("\r" in line for line in lines)


def test_other_children_keep_their_environment(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "stderr", _Terminal())
    code, lines = runner.stream(
        [sys.executable, "-c", CHILD], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}
    )
    assert code == 0 and lines[0] == "unset -\n"
