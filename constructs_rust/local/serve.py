"""``constructs-rust local serve``: the app's function URLs and HTTP API routes on localhost.

A request becomes the payload 2.0 event the function URL (or route) would send; the function's
bootstrap, kept running against its own runtime API emulator, answers; the answer goes back as
HTTP (status, headers, cookies, base64 bodies decoded; a RESPONSE_STREAM function's body chunk
by chunk). A watcher re-synthesizes the app when a file cdk.json's ``watch`` covers changes
(one ``cdk synth``: one cargo run for what is stale) and restarts the functions whose build or
settings changed.
"""

from __future__ import annotations

import errno
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Mapping, Tuple

from ..testing.events import http_response
from .assembly import LocalError, LocalFunction, load, shown
from .process import FunctionProcess, prefixed, unresolved_warnings
from .routes import Endpoint, endpoints, event, match, table
from .synth import App, find_app, stop_synths, synth
from .watcher import Watcher

_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}


def _say(message: str) -> None:
    print(f"constructs-rust: {message}", file=sys.stderr, flush=True)


class Served:
    """The endpoints and their running functions; swapped as a whole on reload."""

    def __init__(self, overrides: Mapping[str, str]) -> None:
        self.overrides = dict(overrides)
        self.lock = threading.Lock()
        self.endpoints: List[Endpoint] = []
        self.processes: Dict[str, FunctionProcess] = {}
        self.stopped = False

    def update(self, functions: List[LocalFunction]) -> List[str]:
        """Serve ``functions`` (those with a URL or route); returns what changed."""
        wanted = {f.path: f for f in functions if f.url_invoke_mode or f.routes}
        changes: List[str] = []
        with self.lock:
            if self.stopped:
                return changes
            for path in sorted(set(self.processes) - set(wanted)):
                self.processes.pop(path).stop()
                changes.append(f"{path}: no longer served")
            for path, function in sorted(wanted.items()):
                process = self.processes.get(path)
                if process is None or process.function != function:
                    for warning in unresolved_warnings(function, self.overrides):
                        _say(warning)
                if process is None:
                    process = FunctionProcess(function, self.overrides, prefixed(path))
                    self.processes[path] = process
                    process.start()
                elif process.function != function:
                    process.restart(function)
                    changes.append(f"{path}: restarted with {shown(function.bootstrap)}")
            self.endpoints = endpoints(list(wanted.values()))
        return changes

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            for process in self.processes.values():
                process.stop()
            self.processes.clear()


def bind(host: str, port: int) -> "_Server":
    """The listening server (LocalError when the port is taken)."""
    try:
        return _Server((host, port), _Handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise LocalError(
                f"port {port} on {host} is in use (another `local serve`?): give another with "
                "--port"
            ) from None
        raise LocalError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    served: Served
    base: str


def serve(
    *,
    host: str,
    port: int,
    app_dir: Path,
    no_synth: bool,
    overrides: Mapping[str, str],
    watch: bool = True,
    poll_seconds: float = 0.5,
) -> int:
    server = bind(host, port)
    served = Served(overrides)
    try:
        app = find_app(app_dir)
        if not no_synth:
            synth(app)
        served.update(load(app.outdir).functions)
        if not served.endpoints:
            raise LocalError(
                f"nothing to serve: no function of {app.outdir} has a function URL or an HTTP "
                "API route; `constructs-rust local invoke <path>` invokes the others"
            )
        server.served = served
        server.base = f"http://{host}:{server.server_address[1]}"
        print(f"constructs-rust: serving on {server.base}", file=sys.stderr)
        print(table(server.base, served.endpoints), file=sys.stderr, flush=True)
        watcher = Watcher(app.directory, app.watch, exclude=[app.outdir])
        if watch:
            thread = threading.Thread(
                target=_reload_loop, args=(app, served, watcher, poll_seconds), daemon=True
            )
            thread.start()
            _say("watching for changes (Ctrl-C stops)")
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            _say("stopping")
        return 0
    finally:
        stop_synths()  # a reload's: it fails, and its update is skipped
        served.stop()  # waits for an update in progress; later ones start nothing
        server.server_close()


def _reload_loop(app: App, served: Served, watcher: Watcher, poll_seconds: float) -> None:
    while True:
        time.sleep(poll_seconds)
        changed = watcher.changed()
        if not changed:
            continue
        time.sleep(poll_seconds)  # let an editor finish writing
        changed += watcher.changed()
        shown = ", ".join(changed[:3]) + (
            f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        )
        _say(f"{shown} changed: synthesizing")
        started = time.monotonic()
        try:
            synth(app)
            changes = served.update(load(app.outdir).functions)
        except LocalError as exc:
            _say(f"{exc} (still serving the previous build)")
            continue
        took = time.monotonic() - started
        for change in changes or ["no function changed"]:
            _say(change)
        _say(f"reloaded in {took:.1f} s")
        watcher.changed()  # what the synth itself wrote is not an edit


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"constructs-rust: {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _handle(self) -> None:
        self._streaming = False
        path, _, raw_query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        served = self.server.served
        with served.lock:
            found = match(served.endpoints, self.command, path)
            process = served.processes.get(found[0].function) if found else None
            listing = table(self.server.base, served.endpoints)
        if found is None or process is None:
            text = f"no function is served at {path}; served here:\n{listing}\n"
            self._plain(404, text)
            return
        endpoint, rest, params = found
        request = event(
            endpoint,
            method=self.command,
            path=rest,
            raw_query=raw_query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            path_parameters=params,
        )
        try:
            with process.invoke(json.dumps(request).encode()) as answer:
                if answer.status != 200:
                    error = b"".join(answer.chunks).decode(errors="replace")
                    _say(f"{endpoint.function} returned an error: {error}")
                    self._plain(502, '{"message":"Internal Server Error"}', "application/json")
                elif answer.streamed:
                    self._stream(answer.status, answer.headers, answer.chunks)
                else:
                    self._buffered(b"".join(answer.chunks))
        except LocalError as exc:
            _say(str(exc))
            if self._streaming:  # the status is out: cut the body short
                self.close_connection = True
            else:
                self._plain(502, '{"message":"Internal Server Error"}', "application/json")

    def _plain(self, status: int, text: str, content_type: str = "text/plain") -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _buffered(self, raw: bytes) -> None:
        try:
            payload: Any = json.loads(raw)
        except ValueError:
            payload = raw.decode(errors="replace")
        response = http_response(payload)
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name not in _HOP_BY_HOP:
                self.send_header(name, value)
        for cookie in response.cookies:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _stream(self, status: int, headers: List[Tuple[str, str]], chunks: Any) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._streaming = True
        for chunk in chunks:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
