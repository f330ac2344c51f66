"""An invocation's log as Lambda gives it back for ``LogType=Tail``: its ``START``, the lines
the function wrote while the event ran, ``END`` and ``REPORT``; the last 4 KB of it,
base64-encoded (the ``X-Amz-Log-Result`` header of ``Invoke``, the ``LogResult`` of
``InvokeWithResponseStream``'s ``InvokeComplete``)."""

from __future__ import annotations

import base64
import math
from typing import Sequence

#: Lambda returns at most the last 4 KB of the invocation's log.
TAIL_LIMIT = 4096
VERSION = "$LATEST"


def invocation_log(request_id: str, lines: Sequence[str], seconds: float, memory_size: int) -> str:
    """The invocation's log lines between Lambda's ``START`` and its ``END``/``REPORT`` (the
    duration measured here; no ``Max Memory Used``: it is not measured locally)."""
    duration = seconds * 1000
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
        f"Billed Duration: {max(1, math.ceil(duration))} ms\tMemory Size: {memory_size} MB\t"
    )
    return "".join(
        line + "\n"
        for line in (
            f"START RequestId: {request_id} Version: {VERSION}",
            *lines,
            f"END RequestId: {request_id}",
            report,
        )
    )


def log_result(text: str) -> str:
    """``X-Amz-Log-Result``: the last 4 KB of ``text``, base64-encoded."""
    return base64.b64encode(text.encode()[-TAIL_LIMIT:]).decode()
