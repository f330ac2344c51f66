"""Lambda's failures and limits as Lambda reports them: the timeout, a runtime that exits or is
killed (with its signal), and the request, response and stream size limits."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from typing import Dict

#: Lambda's limit for a synchronous invoke's event (RequestEntityTooLargeException).
REQUEST_LIMIT = 6 * 1024 * 1024


#: Lambda's limit for a buffered response (Function.ResponseSizeTooLarge): 6 MiB and 100 bytes.
RESPONSE_LIMIT = 6 * 1024 * 1024 + 100


#: Lambda's limit for a streamed (RESPONSE_STREAM) response: 200 MiB.
STREAM_LIMIT = 200 * 1024 * 1024


#: Go's names of the signals (Lambda's runtime manager reports a signal as Go prints it).
_SIGNALS = {
    signal.SIGABRT: "aborted",
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGTERM: "terminated",
    signal.SIGINT: "interrupt",
    signal.SIGBUS: "bus error",
    signal.SIGILL: "illegal instruction",
    signal.SIGFPE: "floating point exception",
    signal.SIGTRAP: "trace/breakpoint trap",
}


@dataclass(frozen=True)
class Failure:
    """An invoke Lambda fails itself (not the function's own error): ``timeout``, ``exit``
    (the runtime exited or was killed), ``response-too-large``, ``request-too-large``."""

    kind: str
    payload: Dict[str, str]
    """Lambda's error payload (``errorType``, ``errorMessage``)."""

    @property
    def message(self) -> str:
        return f"{self.payload['errorType']}: {self.payload['errorMessage']}"

    @property
    def body(self) -> bytes:
        return json.dumps(self.payload).encode()


def timed_out(request_id: str, seconds: float) -> Failure:
    return Failure(
        "timeout",
        {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
            f"{seconds:.2f} seconds",
        },
    )


def exited(request_id: str, returncode: int) -> Failure:
    if returncode == 0:
        reason = "Runtime exited without providing a reason"
    elif returncode < 0:
        try:
            name = _SIGNALS.get(signal.Signals(-returncode)) or signal.strsignal(-returncode)
        except ValueError:
            name = None
        reason = f"Runtime exited with error: signal: {name or f'signal {-returncode}'}"
    else:
        reason = f"Runtime exited with error: exit status {returncode}"
    return Failure(
        "exit",
        {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: {reason}",
        },
    )


def response_too_large(limit: int) -> Failure:
    return Failure(
        "response-too-large",
        {
            "errorType": "Function.ResponseSizeTooLarge",
            "errorMessage": f"Response payload size exceeded maximum allowed payload size "
            f"({limit} bytes).",
        },
    )


def request_too_large(size: int) -> Failure:
    return Failure(
        "request-too-large",
        {
            "errorType": "RequestEntityTooLargeException",
            "errorMessage": f"Request must be smaller than {REQUEST_LIMIT} bytes for the "
            f"InvokeFunction operation (this one: {size} bytes)",
        },
    )
