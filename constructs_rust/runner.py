"""Running the build's child processes: output streamed as it comes, and interrupts obeyed.

A synth may be stopped while cargo runs: Ctrl-C (SIGINT to the terminal's process group), or
SIGINT/SIGTERM to the synthesizing Python process ALONE (a CI runner's timeout, ``kill``).
Children run in their own session, so a signal meant for the synth never half-kills them
behind its back; instead the synth stops the whole child group itself (SIGTERM, then SIGKILL
after a grace period), and a Docker build's container by name. Outputs are only ever moved
into place complete (see build.py), so what an interrupted build leaves is a temp dir at
most, and the next synth is correct.
"""

from __future__ import annotations

import codecs
import os
import shutil
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

#: Seconds the child group gets between SIGTERM and SIGKILL.
GRACE_SECONDS = 5.0


class Interrupted(KeyboardInterrupt):
    """The synthesizing process got SIGTERM (SIGINT raises KeyboardInterrupt itself)."""


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted(f"constructs_rust: stopped by signal {signum}")


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM raises in the main thread while a child runs (Python's default would end the
    process at once and leave the children running)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):  # the app installed its own: keep it
        yield
        return
    signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stop(proc: "subprocess.Popen[Any]") -> None:
    """Stop ``proc`` and everything it started (its own process group)."""
    for sig, wait in ((signal.SIGTERM, GRACE_SECONDS), (signal.SIGKILL, GRACE_SECONDS)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=wait)
            # The leader is gone; stragglers of the group get the same signal once more.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return
        except subprocess.TimeoutExpired:
            continue


def _cargo_progress(env: Dict[str, str], terminal: bool) -> Dict[str, str]:
    """cargo's progress bar on a terminal (cargo cannot tell through the pipe: forced, at the
    terminal's width), never elsewhere (a CI log gets no carriage-return redraws, whatever
    the user's cargo config says)."""
    if not terminal:
        return {**env, "CARGO_TERM_PROGRESS_WHEN": "never"}
    width = shutil.get_terminal_size(fallback=(100, 24)).columns
    return {**env, "CARGO_TERM_PROGRESS_WHEN": "always", "CARGO_TERM_PROGRESS_WIDTH": str(width)}


def _is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def stream(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Dict[str, str],
    on_interrupt: Optional[Callable[[], None]] = None,
    cargo: bool = False,
) -> Tuple[int, List[str]]:
    """Run argv, echo its output to stderr as it comes, keep the lines. Interrupted (SIGINT,
    SIGTERM), it stops the child group (and calls ``on_interrupt``, e.g. to kill a container)
    before the interrupt goes on.

    ``cargo``: the child runs cargo. When stderr is a terminal its progress bar is shown
    (passed through as it is drawn; the kept lines hold what is left of each line once
    redrawn), elsewhere it is turned off. Default: False (the environment as given)."""
    terminal = cargo and _is_terminal()
    if cargo:
        env = _cargo_progress(env, terminal)
    lines: List[str] = []
    with _sigterm_raises():
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            if terminal:
                _relay_drawn(proc.stdout, lines)
            else:
                decode = codecs.getincrementaldecoder("utf-8")(errors="replace")
                for raw in proc.stdout:
                    line = decode.decode(raw)
                    sys.stderr.write(line)
                    lines.append(line)
            return proc.wait(), lines
        except BaseException:
            if on_interrupt is not None:
                try:
                    on_interrupt()
                except Exception:  # noqa: BLE001 - best effort while stopping
                    pass
            stop(proc)
            raise


def _relay_drawn(pipe: IO[bytes], lines: List[str]) -> None:
    """Pass output through as it comes (a progress bar redrawn with ``\\r`` included); keep
    each finished line as a terminal would show it (the text after its last ``\\r``)."""
    decode = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    while True:
        data = os.read(pipe.fileno(), 65536)
        text = decode.decode(data, final=not data)
        if text:
            sys.stderr.write(text)
            sys.stderr.flush()
        pending += text
        *done, pending = pending.split("\n")
        lines += [line.rsplit("\r", 1)[-1].rstrip() + "\n" for line in done]
        if not data:
            if pending.rsplit("\r", 1)[-1].strip():
                lines.append(pending.rsplit("\r", 1)[-1].rstrip() + "\n")
            return
