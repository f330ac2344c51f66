"""``constructs-rust local invoke``: one event to one function of the synthesized app."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import BinaryIO, Callable, Mapping, Optional

from ..testing.emulator import LambdaEmulator
from .assembly import load, shown
from .failures import REQUEST_LIMIT, request_too_large
from .model import LocalError
from .process import FunctionProcess, prefixed, unresolved_warnings
from .synth import find_app, synth


def read_event(source: Optional[str], stdin: BinaryIO) -> bytes:
    """The event: a file, ``-`` for stdin, or ``{}``. LocalError when it is not JSON (Lambda
    takes JSON payloads only)."""
    if source is None:
        return b"{}"
    if source == "-":
        data = stdin.read()
        where = "stdin"
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise LocalError(f"--event {source}: cannot read it: {exc.strerror}") from None
        where = source
    try:
        json.loads(data or b"null")
    except ValueError as exc:
        raise LocalError(f"the event from {where} is not JSON ({exc}); Lambda takes JSON") from None
    return data


def invoke(
    target: str,
    *,
    event: Optional[str],
    app_dir: Path,
    no_synth: bool,
    overrides: Mapping[str, str],
    emulator: Optional[Callable[[], Optional[LambdaEmulator]]] = None,
) -> int:
    """Synthesize (unless ``no_synth``), invoke ``target`` once; the payload goes to stdout,
    the function's logs to stderr. 0, or 1 when the function failed: it returned an error,
    timed out, its runtime exited, or its response was over Lambda's limit (Lambda's error
    payload on stdout)."""
    body = read_event(event, sys.stdin.buffer)
    app = find_app(app_dir)
    if not no_synth:
        synth(app)
    function = load(app.outdir).find(target)
    if len(body) > REQUEST_LIMIT:  # refused by Lambda's Invoke API before the function runs
        raise LocalError(request_too_large(len(body)).message)
    for warning in unresolved_warnings(function, overrides):
        print(f"constructs-rust: {warning}", file=sys.stderr)
    print(
        f"constructs-rust: invoking {function.path} ({function.architecture}, "
        f"{function.memory_size} MB) with {shown(function.bootstrap)}",
        file=sys.stderr,
        flush=True,
    )
    started = emulator() if emulator is not None else None
    process = FunctionProcess(function, overrides, prefixed(function.path), started)
    process.start()
    try:
        with process.invoke(body) as answer:
            last = b"\n"
            for chunk in answer.chunks:
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
                last = chunk[-1:] or last
        if last != b"\n" and sys.stdout.isatty():  # the shell prompt on a line of its own
            sys.stdout.write("\n")
    finally:
        process.stop()
    if answer.failure is not None:
        print(f"constructs-rust: {function.path}: {answer.failure.message}", file=sys.stderr)
        return 1
    if answer.status != 200:
        print(f"constructs-rust: {function.path} returned an error", file=sys.stderr)
        return 1
    return 0
