"""HTTP request events for local invokes: Lambda function URL and API Gateway HTTP API requests
(payload format version 2.0, the shape ``lambda_http`` reads), and their responses.

Built as AWS documents the payload: ``version``, ``routeKey``, ``rawPath``, ``rawQueryString``,
``cookies`` (a list, not a ``cookie`` header), ``headers`` (lower-case names; repeated values
joined with commas), ``queryStringParameters`` (repeated values joined with commas),
``pathParameters``, ``requestContext`` (``http.method``/``path``/``protocol``/``sourceIp``/
``userAgent``, ``requestId``, ``routeKey``, ``stage``, ``time``, ``timeEpoch``, ...), ``body``
and ``isBase64Encoded``. Re-exported by ``constructs_rust.testing``.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

#: A query or header value: one string, or several (sent as repeated parameters).
Values = Union[str, Sequence[str]]
#: A body: text as is, bytes base64-encoded (``isBase64Encoded``), anything else as JSON.
Body = Union[None, str, bytes, Mapping[str, Any], List[Any]]


def _values(value: Values) -> List[str]:
    return [value] if isinstance(value, str) else list(value)


def http_request(
    method: str = "GET",
    path: str = "/",
    *,
    query: Optional[Mapping[str, Values]] = None,
    headers: Optional[Mapping[str, Values]] = None,
    cookies: Optional[Union[Mapping[str, str], Sequence[str]]] = None,
    body: Body = None,
    base64_encode: bool = False,
    route_key: str = "$default",
    stage: str = "$default",
    path_parameters: Optional[Mapping[str, str]] = None,
    stage_variables: Optional[Mapping[str, str]] = None,
    source_ip: str = "127.0.0.1",
    user_agent: str = "constructs-rust-testing",
    account_id: str = "123456789012",
    api_id: str = "local",
    domain_name: Optional[str] = None,
    request_id: Optional[str] = None,
    time_epoch_ms: Optional[int] = None,
    authorizer: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """An HTTP request in payload format 2.0 (API Gateway HTTP API; function URLs use the same
    shape, see ``function_url_request``).

    ``query``/``headers``: names to one value or a list (repeated). Default: none (headers:
    ``host`` and ``user-agent`` are always set unless given). ``cookies``: ``{"name": "value"}``
    or ``["name=value"]``. Default: none. ``body``: ``str`` sent as is, ``bytes`` base64-encoded,
    a dict or list as JSON (``content-type: application/json`` unless given). Default: none.
    ``base64_encode``: encode a ``str`` body too (what AWS does for binary media types).
    Default: False. ``route_key``: e.g. ``"GET /items/{id}"`` for an HTTP API route. Default:
    ``"$default"``. ``request_id``/``time_epoch_ms``: Default: a random id and now.
    """
    if not path.startswith("/"):
        raise ValueError(f"path={path!r}: an HTTP path starts with '/'")
    method = method.upper()
    domain = domain_name or f"{api_id}.execute-api.us-east-1.amazonaws.com"
    now_ms = int(time.time() * 1000) if time_epoch_ms is None else time_epoch_ms
    pairs = [(k, v) for k, value in (query or {}).items() for v in _values(value)]
    header_map: Dict[str, str] = {"host": domain, "user-agent": user_agent}
    for name, value in (headers or {}).items():
        header_map[name.lower()] = ",".join(_values(value))
    if isinstance(cookies, Mapping):
        cookie_list = [f"{k}={v}" for k, v in cookies.items()]
    else:
        cookie_list = list(cookies or [])
    text: Optional[str]
    encoded = False
    if body is None:
        text = None
    elif isinstance(body, bytes):
        text, encoded = base64.b64encode(body).decode(), True
    elif isinstance(body, str):
        text = base64.b64encode(body.encode()).decode() if base64_encode else body
        encoded = base64_encode
    else:
        text = json.dumps(body)
        header_map.setdefault("content-type", "application/json")
        if base64_encode:
            text, encoded = base64.b64encode(text.encode()).decode(), True
    if text is not None:
        header_map.setdefault("content-length", str(len(_decoded(text, encoded))))
    event: Dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": urllib.parse.urlencode(pairs),
        "headers": header_map,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": header_map["user-agent"],
            },
            "requestId": request_id or str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_ms / 1000)),
            "timeEpoch": now_ms,
        },
        "isBase64Encoded": encoded,
    }
    if cookie_list:
        event["cookies"] = cookie_list
    if pairs:
        joined: Dict[str, List[str]] = {}
        for k, v in pairs:
            joined.setdefault(k, []).append(v)
        event["queryStringParameters"] = {k: ",".join(v) for k, v in joined.items()}
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    if authorizer:
        event["requestContext"]["authorizer"] = dict(authorizer)
    if text is not None:
        event["body"] = text
    return event


def function_url_request(
    method: str = "GET",
    path: str = "/",
    *,
    url_id: str = "local",
    region: str = "us-east-1",
    iam_caller: Optional[str] = None,
    **kwargs: Any,
) -> Dict[str, Any]:
    """A Lambda function URL request: ``http_request`` with the URL's domain
    (``<url_id>.lambda-url.<region>.on.aws``) and route/stage ``$default``.

    ``iam_caller``: an IAM user ARN, set as ``requestContext.authorizer.iam`` (what an
    ``AWS_IAM`` URL passes, the default of ``UrlOptions``). Default: none (an ``NONE`` URL).
    Other keyword arguments are those of ``http_request``."""
    kwargs.setdefault("domain_name", f"{url_id}.lambda-url.{region}.on.aws")
    kwargs.setdefault("api_id", url_id)
    if iam_caller is not None:
        account = iam_caller.split(":")[4] if iam_caller.count(":") >= 5 else "123456789012"
        kwargs.setdefault(
            "authorizer",
            {
                "iam": {
                    "accessKey": "AKIALOCALTESTING0000",
                    "accountId": account,
                    "callerId": "AIDALOCALTESTING0000",
                    "userArn": iam_caller,
                    "userId": "AIDALOCALTESTING0000",
                }
            },
        )
    return http_request(method, path, **kwargs)


def _decoded(text: str, encoded: bool) -> bytes:
    return base64.b64decode(text) if encoded else text.encode()


@dataclass(frozen=True)
class HttpResponse:
    """What an HTTP function answered (the payload 2.0 response ``lambda_http`` writes)."""

    status: int
    headers: Dict[str, str]
    """Lower-case names; values of repeated headers joined with commas."""
    cookies: Tuple[str, ...]
    body: bytes
    """Decoded when the function sent it base64-encoded."""

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


def http_response(payload: Any) -> HttpResponse:
    """Read a function's payload 2.0 response (``InvokeResult.payload``). A payload without
    ``statusCode`` is, as for API Gateway, a 200 JSON response of that value."""
    if not isinstance(payload, dict) or "statusCode" not in payload:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        return HttpResponse(200, {"content-type": "application/json"}, (), body.encode())
    headers = {str(k).lower(): str(v) for k, v in (payload.get("headers") or {}).items()}
    for name, values in (payload.get("multiValueHeaders") or {}).items():
        if values:
            headers[str(name).lower()] = ",".join(str(v) for v in values)
    body = payload.get("body") or ""
    return HttpResponse(
        status=int(payload["statusCode"]),
        headers=headers,
        cookies=tuple(payload.get("cookies") or ()),
        body=_decoded(body, bool(payload.get("isBase64Encoded"))),
    )
