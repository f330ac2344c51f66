"""The Lambda Invoke API on ``local serve``'s port, as the AWS SDKs and the AWS CLI call it
(``endpoint_url=http://127.0.0.1:3000``): ``Invoke`` (``RequestResponse``, ``Event``,
``DryRun``) at ``POST /2015-03-31/functions/{FunctionName}/invocations`` and
``InvokeWithResponseStream`` at ``POST /2021-11-15/functions/{FunctionName}/
response-streaming-invocations`` (the answer as an ``application/vnd.amazon.eventstream`` of
``PayloadChunk`` events and one ``InvokeComplete``). A function is named as ``local invoke``
names it, or by its ``FunctionName`` or an ARN ending in either; errors are answered as
Lambda's REST-JSON errors (``x-amzn-ErrorType``), which the SDKs raise as their exceptions."""

from __future__ import annotations

import json
import struct
import threading
import uuid
import zlib
from http.server import BaseHTTPRequestHandler
from typing import Dict, List, Optional, Tuple
from urllib.parse import unquote

from .failures import REQUEST_LIMIT, request_too_large
from .logtail import log_result
from .model import LocalError
from .pool import FunctionPool, Throttled
from .process import Answer
from .served import Served, say

INVOKE_PREFIX = "/2015-03-31/functions/"
STREAM_PREFIX = "/2021-11-15/functions/"
#: Lambda's limit for an asynchronous (``Event``) invoke's payload: 1 MiB.
EVENT_LIMIT = 1024 * 1024
#: The version every local invoke runs (no versions or aliases locally).
VERSION = "$LATEST"
ARN_PREFIX = "arn:aws:lambda:us-east-1:123456789012:function:"


def is_invoke_api(path: str) -> bool:
    return (path.startswith(INVOKE_PREFIX) and path.endswith("/invocations")) or (
        path.startswith(STREAM_PREFIX) and path.endswith("/response-streaming-invocations")
    )


def invoke_api_line(base: str, count: int) -> str:
    return (
        f"constructs-rust: Lambda Invoke API for {count} function{'s' * (count != 1)} at "
        f"{base} (boto3.client('lambda', endpoint_url='{base}').invoke(FunctionName=...))"
    )


def function_name(segment: str) -> str:
    """The name in the path segment (URL-encoded): an ARN (``arn:aws:lambda:…:function:N``,
    ``123456789012:function:N``) or a name, without a ``:qualifier``."""
    name = unquote(segment)
    if ":function:" in name:
        name = name.split(":function:", 1)[1]
    return name.split(":", 1)[0]


def handle_invoke_api(
    handler: BaseHTTPRequestHandler, served: Served, path: str, body: bytes
) -> None:
    streaming = path.startswith(STREAM_PREFIX)
    segment = path[len(STREAM_PREFIX if streaming else INVOKE_PREFIX) :].rsplit("/", 1)[0]
    if handler.command != "POST":
        _error(handler, 405, "UnknownOperationException", f"{handler.command} {path}")
        return
    try:
        pool = served.find(function_name(segment))
    except LocalError as exc:
        name = function_name(segment)
        message = f"Function not found: {ARN_PREFIX}{name} ({exc})"
        _error(handler, 404, "ResourceNotFoundException", message)
        return
    kind = handler.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    allowed = ("RequestResponse", "DryRun") if streaming else ("RequestResponse", "Event", "DryRun")
    if kind not in allowed:
        message = f"1 validation error detected: InvocationType {kind!r} is not one of {allowed}"
        _error(handler, 400, "InvalidParameterValueException", message)
        return
    payload = body or b"{}"
    limit = EVENT_LIMIT if kind == "Event" else REQUEST_LIMIT
    if len(payload) > limit:
        message = request_too_large(len(payload)).payload["errorMessage"]
        if kind == "Event":
            message = message.replace(str(REQUEST_LIMIT), str(EVENT_LIMIT))
        _error(handler, 413, "RequestEntityTooLargeException", message)
        return
    try:
        json.loads(payload)
    except ValueError as exc:
        message = f"Could not parse request body into json: {exc}"
        _error(handler, 400, "InvalidRequestContentException", message)
        return
    request_id = str(uuid.uuid4())
    tail = handler.headers.get("X-Amz-Log-Type") == "Tail"
    if kind == "DryRun":
        _empty(handler, 204, request_id)
    elif kind == "Event":
        threading.Thread(target=_in_background, args=(pool, payload), daemon=True).start()
        _empty(handler, 202, request_id)
    elif streaming:
        _stream(handler, pool, payload, tail)
    else:
        _buffered(handler, pool, payload, tail)


def _throttled(handler: BaseHTTPRequestHandler, exc: Throttled) -> None:
    say(str(exc))
    extra = {"Reason": exc.reason}
    _error(handler, 429, "TooManyRequestsException", "Rate Exceeded.", extra)


def _buffered(
    handler: BaseHTTPRequestHandler, pool: FunctionPool, payload: bytes, tail: bool
) -> None:
    try:
        with pool.invoke(payload) as answer:
            data = b"".join(answer.chunks)
            log = answer.log() if tail else ""
    except Throttled as exc:
        _throttled(handler, exc)
        return
    except LocalError as exc:
        _error(handler, 500, "ServiceException", str(exc))
        return
    handler.send_response(200)
    _common(handler, answer.request_id)
    if tail:
        handler.send_header("X-Amz-Log-Result", log_result(log))
    if answer.error:
        handler.send_header("X-Amz-Function-Error", "Unhandled")
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _stream(
    handler: BaseHTTPRequestHandler, pool: FunctionPool, payload: bytes, tail: bool
) -> None:
    """``InvokeWithResponseStream``: each piece the function writes as a ``PayloadChunk`` as
    it comes, then ``InvokeComplete`` (with the error, when the function or Lambda failed,
    and the ``LogResult`` for ``LogType=Tail``)."""
    started = False
    try:
        with pool.invoke(payload) as answer:
            handler.send_response(200)
            _common(handler, answer.request_id)
            handler.send_header("Content-Type", "application/vnd.amazon.eventstream")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            started = True
            if answer.error:  # the function's own error: no chunk, the error at the end
                complete = _error_fields(b"".join(answer.chunks), answer)
            else:
                for chunk in answer.chunks:
                    if chunk:
                        _chunk(handler, _message("PayloadChunk", "application/octet-stream", chunk))
                complete = _error_fields(b"", answer) if answer.failure else {}
            if tail:
                complete["LogResult"] = log_result(answer.log())
    except Throttled as exc:
        _throttled(handler, exc)
        return
    except LocalError as exc:
        if not started:
            _error(handler, 500, "ServiceException", str(exc))
            return
        complete = {"ErrorCode": "ServiceException", "ErrorDetails": str(exc)}
    _chunk(handler, _message("InvokeComplete", "application/json", json.dumps(complete).encode()))
    handler.wfile.write(b"0\r\n\r\n")
    handler.wfile.flush()


def _error_fields(body: bytes, answer: Answer) -> Dict[str, str]:
    if answer.failure is not None:
        return {
            "ErrorCode": answer.failure.payload["errorType"],
            "ErrorDetails": answer.failure.payload["errorMessage"],
        }
    try:
        error = json.loads(body)
    except ValueError:
        error = {}
    if not isinstance(error, dict):
        error = {}
    return {
        "ErrorCode": str(error.get("errorType") or "Unhandled"),
        "ErrorDetails": str(error.get("errorMessage") or body.decode(errors="replace")),
    }


def _in_background(pool: FunctionPool, payload: bytes) -> None:
    """An ``Event`` invoke: run, the answer dropped (Lambda keeps it for destinations); a
    failure is named on stderr. At the function's concurrency it waits (Lambda queues it)."""
    try:
        with pool.invoke(payload, wait=True) as answer:
            data = b"".join(answer.chunks)
    except LocalError as exc:
        say(str(exc))
        return
    if answer.error:
        text = data.decode(errors="replace")
        say(f"{pool.function.path} (Event invoke) failed: {text}")


def _common(handler: BaseHTTPRequestHandler, request_id: str) -> None:
    handler.send_header("x-amzn-RequestId", request_id)
    handler.send_header("X-Amz-Executed-Version", VERSION)


def _empty(handler: BaseHTTPRequestHandler, status: int, request_id: str) -> None:
    handler.send_response(status)
    handler.send_header("x-amzn-RequestId", request_id)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def _error(
    handler: BaseHTTPRequestHandler,
    status: int,
    kind: str,
    message: str,
    extra: Optional[Dict[str, str]] = None,
) -> None:
    """Lambda's REST-JSON error: the SDKs raise it as ``client.exceptions.<kind>``."""
    data = json.dumps({"Type": "User", "message": message, **(extra or {})}).encode()
    handler.send_response(status)
    handler.send_header("x-amzn-RequestId", str(uuid.uuid4()))
    handler.send_header("x-amzn-ErrorType", kind)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
    handler.wfile.flush()


def _message(event: str, content_type: str, payload: bytes) -> bytes:
    """One message of the AWS event stream encoding: prelude (total and headers length, their
    CRC32), headers (string-valued), payload, the CRC32 of all before it."""
    headers: List[Tuple[str, str]] = [
        (":event-type", event),
        (":content-type", content_type),
        (":message-type", "event"),
    ]
    encoded = b"".join(
        bytes([len(name)]) + name + b"\x07" + struct.pack(">H", len(value)) + value
        for name, value in ((n.encode(), v.encode()) for n, v in headers)
    )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))
