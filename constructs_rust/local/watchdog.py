"""One invoke watched as Lambda watches it: the function's timeout (the runtime killed, the
``Sandbox.Timedout`` error) and an exit of the runtime while the event is pending
(``Runtime.ExitError``), either one ending the wait for an answer at that moment; and a
buffered answer read up to Lambda's limit."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from typing import List, Optional, Protocol

from .failures import Failure, exited, timed_out


class Running(Protocol):
    """A started bootstrap (``constructs_rust.testing``'s ``BootstrapProcess``)."""

    def read_new(self) -> str: ...

    def poll(self) -> Optional[int]: ...

    def kill(self) -> None: ...


#: How long a response already on its way gets once the runtime has exited (it may exit right
#: after answering).
EXIT_GRACE = 0.1


def read_limited(response: http.client.HTTPResponse, limit: int) -> Optional[bytes]:
    """The whole body, or None when it is longer than ``limit`` (read to its end anyway)."""
    parts: List[bytes] = []
    size = 0
    while True:
        data = response.read1(65536)
        if not data:
            break
        size += len(data)
        if size <= limit:
            parts.append(data)
    return b"".join(parts) if size <= limit else None


class Watchdog:
    """Watches one invoke: at the function's timeout it kills the runtime; when the runtime
    exits first it notes how. Either way it shuts the invoke's socket, so the reader stops
    waiting for an answer the emulator would never give."""

    def __init__(
        self,
        process: Running,
        connection: http.client.HTTPConnection,
        timeout: float,
        request_id: str,
    ) -> None:
        self._process = process
        self._connection = connection
        self._timeout = timeout
        self._request_id = request_id
        self._done = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.failure: Optional[Failure] = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + self._timeout
        while not self._done.wait(0.01):
            code = self._process.poll()
            if code is not None:
                if self._done.wait(EXIT_GRACE):  # its answer got out before it exited
                    return
                self.failure = exited(self._request_id, code)
                break
            if time.monotonic() >= deadline:
                self.failure = timed_out(self._request_id, self._timeout)
                self._process.kill()
                break
        else:
            return
        self._shut()

    def _shut(self) -> None:
        sock = self._connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def abort(self, failure: Failure) -> None:
        """End the invoke from the reader's side (a stream over the limit)."""
        self.failure = failure
        self._done.set()
        self._shut()

    def finish(self) -> Optional[Failure]:
        """Stop watching; the failure, if one ended the invoke."""
        self._done.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        return self.failure
