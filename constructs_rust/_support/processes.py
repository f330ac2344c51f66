"""Running the build's child processes: output streamed as it comes, and interrupts obeyed.

A synth may be stopped while cargo runs: Ctrl-C (SIGINT to the terminal's process group), or
SIGINT/SIGTERM to the synthesizing Python process ALONE (a CI runner's timeout, ``kill``).
Children run in their own session, so a signal meant for the synth never half-kills them
behind its back; instead the synth stops the whole child group itself (SIGTERM, then SIGKILL
after a grace period), and a Docker build's container by name. Should the synth be killed
outright (SIGKILL: the OOM killer, a CI runner's hard kill), a small guard process started
with each child notices (its pipe from the synth closes) and stops the child group and the
container the same way, so no cargo, rustc or build script outlives it. Outputs are only ever moved
into place complete (see _build/run.py), so what an interrupted build leaves is a temp dir at
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


#: The orphan guard (a separate process): it blocks on a pipe only the synth holds open; EOF
#: means the synth is gone, however it died (SIGKILL, the OOM killer, a CI runner's hard
#: kill), or is done. Then it stops the child's whole process group (SIGTERM, then SIGKILL)
#: and runs its extra argv (``docker kill <name>``: a container is the engine's, not ours).
_GUARD = """
import os, signal, subprocess, sys, time
fd, group, extra = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
while os.read(fd, 4096):
    pass
for sig in (signal.SIGTERM, signal.SIGKILL):
    try:
        os.killpg(group, sig)
    except OSError:
        break
    time.sleep(3)
if extra:
    subprocess.run(extra, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60, check=False)
"""


def _guard(
    group: int, read_end: int, extra: Sequence[str], env: Dict[str, str]
) -> Optional["subprocess.Popen[bytes]"]:
    """Start the orphan guard of the process group ``group`` (POSIX only)."""
    try:
        return subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _GUARD, str(read_end), str(group), *extra],
            pass_fds=(read_end,),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C of the terminal is the synth's to handle
        )
    except OSError:
        return None  # no guard: the child still stops with an interrupt, as before


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
    if_orphaned: Sequence[str] = (),
) -> Tuple[int, List[str]]:
    """Run argv, echo its output to stderr as it comes, keep the lines. Interrupted (SIGINT,
    SIGTERM), it stops the child group (and calls ``on_interrupt``, e.g. to kill a container)
    before the interrupt goes on.

    ``cargo``: the child runs cargo. When stderr is a terminal its progress bar is shown
    (passed through as it is drawn; the kept lines hold what is left of each line once
    redrawn), elsewhere it is turned off. Default: False (the environment as given).

    Should the synth itself die without a chance to stop them (SIGKILL), a guard process
    stops the child group and runs ``if_orphaned`` (an argv, e.g. ``docker kill <name>``).
    Default: no extra command."""
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
        guard = None
        if os.name == "posix":
            read_end, write_end = os.pipe()
            guard = _guard(proc.pid, read_end, if_orphaned, env)
            os.close(read_end)
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
        finally:
            if os.name == "posix":
                _release(guard, write_end)


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


def _release(guard: Optional["subprocess.Popen[bytes]"], write_end: int) -> None:
    """The child is done (or stopped): let the guard go without running its extra argv."""
    if guard is not None:
        guard.kill()  # before the EOF: a normal end is not an orphaning
        guard.wait()
    os.close(write_end)
