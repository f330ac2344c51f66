"""The library's one output channel: the ``constructs_rust`` logger.

User-facing lines (notices, warnings, progress) go out at INFO/WARNING and print exactly as they
always have, ``constructs_rust: <message>`` on stderr; the fingerprint explanation goes out at
DEBUG and is shown when ``CONSTRUCTS_RUST_EXPLAIN`` is set. The handler is attached on first use
(importing the package configures nothing) and writes to whatever ``sys.stderr`` is at that
moment, so pytest's capture and redirected streams see it. Applications can add their own
handlers to ``logging.getLogger("constructs_rust")``.
"""

from __future__ import annotations

import logging
import sys

from ..errors import redact
from . import settings

NAME = "constructs_rust"
_PREFIX = "constructs_rust: "


class _StderrHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr, flush=True)
        except Exception:  # pragma: no cover - logging's own convention
            self.handleError(record)


def logger() -> logging.Logger:
    """The ``constructs_rust`` logger, with its stderr handler attached once."""
    log = logging.getLogger(NAME)
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.DEBUG if settings.explain() else logging.INFO)
    return log


def say(message: str, *, prefix: bool = True) -> None:
    """A user-facing line (credentials in URLs redacted)."""
    logger().info((_PREFIX if prefix else "") + redact(message))


def explain(message: str) -> None:
    """A line of the fingerprint explanation (DEBUG: shown with CONSTRUCTS_RUST_EXPLAIN=1)."""
    logger().debug(_PREFIX + message)
