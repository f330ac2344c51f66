"""How this library's errors reach a person running ``cdk synth``: once, without the stacks.

An error of ours that ends a CDK app arrives wrapped twice: a ``ConfigurationError`` raised while
a construct is created comes with a Python traceback through jsii's runtime, and a failed build
(reported from a construct validation) comes back from ``app.synth()`` as a ``RuntimeError``
chained to jsii's ``JavaScriptError``, so its message is printed twice, each time with a stack
trace of jsii's internals. Neither stack says anything the message does not.

``install`` adds a ``sys.excepthook`` that prints such an UNCAUGHT error as its message plus the
line of the user's own code that raised it. It acts only on exceptions that carry an error of
this library (a ``ConstructsRustError``, or a jsii error whose message contains a validation
error this library returned); everything else goes to the previous hook unchanged, and a caught
exception (pytest, ``try``) is never touched. ``CONSTRUCTS_RUST_TRACEBACK=1`` restores Python's
full report.
"""

from __future__ import annotations

import os
import sys
import traceback
from types import TracebackType
from typing import Callable, Optional, Set, Type

from ..errors import ConstructsRustError, redact
from . import settings

#: Validation errors returned to CDK by this library's constructs (their text, exactly).
_validation_errors: Set[str] = set()

_Hook = Callable[[Type[BaseException], BaseException, Optional[TracebackType]], None]
_previous: Optional[_Hook] = None


def note_validation_error(message: str) -> str:
    """Remember a validation error text this library hands to CDK; returns it."""
    _validation_errors.add(message)
    return message


def is_ours(exc: BaseException) -> bool:
    """Does this uncaught exception carry an error of this library?"""
    if isinstance(exc, ConstructsRustError):
        return True
    if type(exc.__cause__).__name__ != "JavaScriptError" or not isinstance(exc, RuntimeError):
        return False
    text = str(exc)
    return text.startswith("ValidationFailedWithErrors") and any(
        error in text for error in _validation_errors
    )


def _user_frame(tb: Optional[TracebackType]) -> Optional[str]:
    """The innermost frame of the user's own code (not the library, jsii or site-packages)."""
    ours = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # constructs_rust/
    found = None
    for frame in traceback.extract_tb(tb):
        path = os.path.abspath(frame.filename)
        if path.startswith(ours + os.sep) or "site-packages" in path or "dist-packages" in path:
            continue
        found = f'File "{frame.filename}", line {frame.lineno}: {(frame.line or "").strip()}'
    return found


def report(exc: BaseException, tb: Optional[TracebackType]) -> str:
    """What the hook prints for one of ours: the message once, then where it was raised."""
    text = str(exc)
    if not isinstance(exc, ConstructsRustError):  # CDK's own header line, then our errors
        text = text.replace("ValidationFailedWithErrors: ", "", 1)
    where = _user_frame(tb)
    lines = [f"Error: {redact(text)}"]
    if where:  # the user's own line can hold a URL with a token, as any message can
        lines.append(f"  raised at {redact(where)}")
    lines.append("  (CONSTRUCTS_RUST_TRACEBACK=1 prints the Python traceback)")
    return "\n".join(lines)


def _hook(exc_type: Type[BaseException], exc: BaseException, tb: Optional[TracebackType]) -> None:
    if settings.traceback() or not is_ours(exc):
        (_previous or sys.__excepthook__)(exc_type, exc, tb)
        return
    print(report(exc, tb), file=sys.stderr)


def install() -> None:
    """Chain the hook in front of the current one (once per process)."""
    global _previous
    if sys.excepthook is _hook:
        return
    _previous = sys.excepthook
    sys.excepthook = _hook
