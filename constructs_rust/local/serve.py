"""``constructs-rust local serve``: the app's function URLs and HTTP API routes on localhost.

A request becomes the payload 2.0 event the function URL (or route) would send; the function's
bootstrap, kept running against its own runtime API emulator, answers; the answer goes back as
HTTP (status, headers, cookies, base64 bodies decoded; a RESPONSE_STREAM function's body chunk
by chunk). A watcher re-synthesizes the app when a file cdk.json's ``watch`` covers changes
(one ``cdk synth``: one cargo run for what is stale) and restarts the functions whose build or
settings changed.
"""

from __future__ import annotations

import base64
import errno
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import ConstructsRustError
from ..testing.events import http_response
from .assembly import load
from .cors import cors_headers, is_preflight, preflight_target
from .failures import REQUEST_LIMIT
from .invoke_api import handle_invoke_api, invoke_api_line, is_invoke_api
from .model import LocalError
from .pool import FunctionPool, Throttled
from .process import Answer
from .rebuild import plan_reload, rebuild_and_restart, warm_up
from .routes import Endpoint, event, match, table
from .served import Served
from .served import say as _say
from .synth import App, find_app, stop_synths, synth
from .watcher import Watcher

_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}

#: What each front door answers when the function fails (an error, a timeout, a crashed
#: runtime, a response over the limit): (status, body, content type).
FUNCTION_ERROR = {
    "url": (502, "Internal Server Error", "text/plain"),
    "http": (500, '{"message":"Internal Server Error"}', "application/json"),
    "rest": (502, '{"message": "Internal server error"}', "application/json"),
}
#: API Gateway's own integration timeout (seconds) and its answer when a function runs longer.
GATEWAY_TIMEOUT = {
    "http": (30.0, 503, '{"message":"Service Unavailable"}'),
    "rest": (29.0, 504, '{"message": "Endpoint request timed out"}'),
}
#: What each front door answers when the function is at its reserved concurrency (Lambda's
#: 429): a function URL passes it on, API Gateway answers an integration failure.
THROTTLED = {
    "url": (429, '{"Message":"Rate Exceeded."}', "application/json"),
    "http": (500, '{"message":"Internal Server Error"}', "application/json"),
    "rest": (500, '{"message": "Internal server error"}', "application/json"),
}
#: The answer to a request whose event is over Lambda's 6 MiB.
TOO_LARGE = (413, '{"message":"Request Entity Too Large"}')


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
    concurrency: Optional[int] = None,
) -> int:
    server = bind(host, port)
    served = Served(overrides, concurrency)
    try:
        app = find_app(app_dir)
        if not no_synth:
            synth(app)
        assembly = load(app.outdir)
        served.update(assembly.functions, assembly.methods, app.outdir)
        if not served.pools:
            raise LocalError(f"nothing to serve: {app.outdir} has no function with a bootstrap")
        server.served = served
        server.base = f"http://{host}:{server.server_address[1]}"
        print(f"constructs-rust: serving on {server.base}", file=sys.stderr)
        if served.endpoints:
            print(table(server.base, served.endpoints), file=sys.stderr)
        print(invoke_api_line(server.base, len(served.pools)), file=sys.stderr, flush=True)
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
    warm_up()
    while True:
        time.sleep(poll_seconds)
        changed = watcher.changed()
        if not changed:
            continue
        time.sleep(poll_seconds)  # let an editor finish writing
        changed = sorted(set(changed + watcher.changed()))
        shown = ", ".join(changed[:3]) + (
            f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        )
        started = time.monotonic()
        try:
            changes = _reload(app, served, changed, shown)
        except LocalError as exc:
            _say(f"{exc} (still serving the previous build)")
            continue
        took = time.monotonic() - started
        for change in changes or ["no function changed"]:
            _say(change)
        _say(f"reloaded in {took:.1f} s")
        watcher.changed()  # what the synth itself wrote is not an edit


def _reload(app: App, served: Served, changed: List[str], shown: str) -> List[str]:
    """Rebuild the functions an edit of their Rust inputs touched (no synth), else
    synthesize; returns what changed."""
    plan = plan_reload(app.directory, served.functions(), changed)
    if plan.synth_because is None:
        rebuilding = ", ".join(sorted({r.construct_path for r in plan.replays.values()}))
        _say(f"{shown} changed: rebuilding {rebuilding} without a synth")
        try:
            return rebuild_and_restart(served, plan)
        except ConstructsRustError as exc:
            plan.synth_because = f"it cannot be rebuilt alone: {exc}"
    _say(f"{shown} changed: synthesizing ({plan.synth_because})")
    synth(app)
    assembly = load(app.outdir)
    return served.update(assembly.functions, assembly.methods, app.outdir)


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
        self._extra: List[Tuple[str, str]] = []
        path, _, raw_query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        served = self.server.served
        if is_invoke_api(path):
            handle_invoke_api(self, served, path, body)
            return
        with served.lock:
            found = match(served.endpoints, self.command, path)
            if found is None and self.command == "OPTIONS":
                found = preflight_target(served.endpoints, path, self.headers)
            endpoint = found[0] if found else None
            process = served.processes.get(endpoint.function or "") if endpoint else None
            listing = table(self.server.base, served.endpoints)
        if endpoint is not None and endpoint.cors is not None:
            if is_preflight(self.command, self.headers):
                self._preflight(endpoint)
                return
            self._extra = cors_headers(endpoint.cors, self.headers.get("Origin"))
        if found is not None and endpoint is not None and endpoint.method is not None:
            self._gateway_method(endpoint)
            return
        if found is None or endpoint is None or process is None:
            text = f"no function is served at {path}; served here:\n{listing}\n"
            self._plain(404, text)
            return
        _, rest, params = found
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
        payload = json.dumps(request).encode()
        if len(payload) > REQUEST_LIMIT:
            _say(
                f"{endpoint.function}: the event is {len(payload)} bytes, over Lambda's "
                f"{REQUEST_LIMIT} (RequestEntityTooLargeException)"
            )
            self._plain(*TOO_LARGE, "application/json")
            return
        if endpoint.kind in GATEWAY_TIMEOUT:
            self._through_gateway(endpoint, process, payload)
            return
        try:
            with process.invoke(payload) as answer:
                if answer.failure is not None or answer.status != 200:
                    self._function_error(endpoint, answer)
                elif answer.streamed:
                    self._stream(answer)
                else:
                    self._buffered(endpoint, b"".join(answer.chunks))
        except Throttled as exc:  # at its reserved concurrency
            _say(str(exc))
            self._plain(*THROTTLED[endpoint.kind])
        except LocalError as exc:
            _say(str(exc))
            if self._streaming:  # the status is out: cut the body short
                self.close_connection = True
            else:
                self._plain(*FUNCTION_ERROR[endpoint.kind])

    def _through_gateway(self, endpoint: Endpoint, process: FunctionPool, data: bytes) -> None:
        """An API Gateway integration: the whole answer, or the gateway's own timeout answer
        once its integration limit passed (the function keeps running meanwhile, as on AWS)."""
        limit, status, text = GATEWAY_TIMEOUT[endpoint.kind]
        outcome: Dict[str, Any] = {}
        ready = threading.Event()

        def work() -> None:
            try:
                with process.invoke(data) as answer:
                    outcome["body"] = b"".join(answer.chunks)
                    outcome["answer"] = answer
                    ready.set()  # answered; a failed environment is replaced after this
            except LocalError as exc:
                outcome["error"] = exc
            finally:
                ready.set()

        threading.Thread(target=work, daemon=True).start()
        if not ready.wait(limit):
            _say(
                f"{endpoint.function}: no answer within API Gateway's {limit:.0f} s integration "
                f"timeout: {status}"
            )
            self._plain(status, text, "application/json")
            return
        if "error" in outcome:
            _say(str(outcome["error"]))
            throttled = isinstance(outcome["error"], Throttled)
            self._plain(*(THROTTLED if throttled else FUNCTION_ERROR)[endpoint.kind])
            return
        answer = outcome["answer"]
        if answer.failure is not None or answer.status != 200:
            answer.chunks = iter([outcome["body"]])
            self._function_error(endpoint, answer)
        else:
            self._buffered(endpoint, outcome["body"])

    def _function_error(self, endpoint: Endpoint, answer: Answer) -> None:
        error = b"".join(answer.chunks).decode(errors="replace")
        _say(f"{endpoint.function} failed: {error}")
        self._plain(*FUNCTION_ERROR[endpoint.kind])

    def _preflight(self, endpoint: Endpoint) -> None:
        """A CORS preflight the front door answers itself (function URL, HTTP API)."""
        assert endpoint.cors is not None
        headers = cors_headers(endpoint.cors, self.headers.get("Origin"), preflight=True)
        self.send_response(204 if endpoint.kind == "http" else 200)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _gateway_method(self, endpoint: Endpoint) -> None:
        """A REST method that is not a Lambda proxy: a MOCK integration's status and static
        headers (as the CORS preflight of ``defaultCorsPreflightOptions``); others are named."""
        method = endpoint.method
        assert method is not None
        if method.integration != "MOCK":
            self._plain(
                501,
                f"{method.route_key} of {method.api_path} has an {method.integration} "
                "integration: constructs-rust local serves Lambda proxy integrations (and MOCK "
                "ones) only\n",
            )
            return
        self.send_response(method.status)
        for name, value in method.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _plain(self, status: int, text: str, content_type: str = "text/plain") -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_extra(self) -> None:
        for name, value in self._extra:
            self.send_header(name, value)

    def _buffered(self, endpoint: Endpoint, raw: bytes) -> None:
        try:
            payload: Any = json.loads(raw)
        except ValueError:
            payload = raw.decode(errors="replace")
        if endpoint.payload == "1.0":
            self._answer_1_0(endpoint, payload)
            return
        response = http_response(payload)
        self.send_response(response.status)
        cors = self._extra != [] or endpoint.cors is not None
        for name, value in response.headers.items():
            if name not in _HOP_BY_HOP and not (cors and name.startswith("access-control-")):
                self.send_header(name, value)
        for cookie in response.cookies:
            self.send_header("Set-Cookie", cookie)
        self._send_extra()
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _answer_1_0(self, endpoint: Endpoint, payload: Any) -> None:
        """A payload 1.0 response (``statusCode``, ``headers``, ``multiValueHeaders``, ``body``,
        ``isBase64Encoded``); anything else is a malformed Lambda proxy response, which API
        Gateway answers as a function error."""
        if not isinstance(payload, dict) or not isinstance(payload.get("statusCode"), int):
            _say(
                f"{endpoint.function}: malformed Lambda proxy response (payload 1.0 wants an "
                f"object with statusCode): {json.dumps(payload)[:200]}"
            )
            self._plain(*FUNCTION_ERROR[endpoint.kind])
            return
        body = payload.get("body") or ""
        data = base64.b64decode(body) if payload.get("isBase64Encoded") else str(body).encode()
        headers: List[Tuple[str, str]] = []
        multi = payload.get("multiValueHeaders") or {}
        for name, value in (payload.get("headers") or {}).items():
            if name not in multi:
                headers.append((str(name), str(value)))
        for name, values in multi.items():
            headers += [(str(name), str(v)) for v in values or ()]
        self.send_response(int(payload["statusCode"]))
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self._send_extra()
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _stream(self, answer: Answer) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            if not (self._extra and name.lower().startswith("access-control-")):
                self.send_header(name, value)
        self._send_extra()
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._streaming = True
        for chunk in answer.chunks:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        if answer.failure is not None:  # cut short, as Lambda ends a failed stream
            _say(f"stream cut short: {answer.failure.message}")
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
