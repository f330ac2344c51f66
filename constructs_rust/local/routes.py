"""Which local URL reaches which function: function URLs at ``/<construct path>/``, HTTP API
routes at ``/<API construct path>/<route path>``, REST API methods at ``/<API construct
path>/<stage>/<resource path>``; and the request → event translation (payload 2.0, or 1.0 for
REST APIs and HTTP API routes set to it)."""

from __future__ import annotations

import base64
import re
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..testing.events import function_url_request, http_request
from .intrinsics import PSEUDO_PARAMETERS
from .model import Cors, GatewayMethod, LocalFunction

#: Content types whose bodies function URLs pass as text (others base64-encoded).
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class Endpoint:
    prefix: str
    """``/Stack/Function``, ``/Stack/Api`` or ``/Stack/Api/stage`` (no trailing slash)."""
    function: Optional[str]
    """Construct path of the function; None for a REST method that is not a Lambda proxy."""
    route_key: Optional[str] = None
    """None for a function URL; the route key (``GET /items/{id}``) otherwise."""
    streaming: bool = False
    kind: str = "url"
    """``url`` (a function URL), ``http`` (an HTTP API route), ``rest`` (a REST API method)."""
    payload: str = "2.0"
    stage: str = ""
    cors: Optional[Cors] = None
    """CORS answered here (a function URL's, an HTTP API's): preflights and response headers."""
    method: Optional[GatewayMethod] = None
    """A REST method with a MOCK (or another, not emulated) integration."""

    def describe(self) -> str:
        if self.kind == "url":
            mode = "RESPONSE_STREAM" if self.streaming else "BUFFERED"
            return f"function URL ({mode})" + (", CORS" if self.cors else "")
        if self.kind == "http":
            return f"HTTP API route {self.route_key}" + (
                f" (payload {self.payload})" if self.payload != "2.0" else ""
            )
        if self.method is not None:
            if self.method.integration == "MOCK":
                if (self.route_key or "").startswith("OPTIONS "):
                    return "REST API CORS preflight (MOCK integration)"
                return "REST API MOCK integration (its status and static headers)"
            return f"REST API {self.method.integration} integration: not emulated"
        return "REST API Lambda proxy (payload 1.0)"


def endpoints(
    functions: Sequence[LocalFunction], methods: Sequence[GatewayMethod] = ()
) -> List[Endpoint]:
    out = []
    for function in functions:
        if function.url_invoke_mode is not None:
            streaming = function.url_invoke_mode == "RESPONSE_STREAM"
            out.append(
                Endpoint(
                    "/" + _quote(function.path),
                    function.path,
                    None,
                    streaming,
                    cors=function.url_cors,
                )
            )
        for route in function.routes:
            prefix = "/" + _quote(route.api_path)
            if route.kind == "rest":
                prefix += "/" + _quote(route.stage)
            out.append(
                Endpoint(
                    prefix,
                    function.path,
                    route.route_key,
                    kind=route.kind,
                    payload=route.payload,
                    stage=route.stage,
                    cors=route.cors,
                )
            )
    for method in methods:
        prefix = "/" + _quote(method.api_path) + "/" + _quote(method.stage)
        out.append(
            Endpoint(prefix, None, method.route_key, kind="rest", stage=method.stage, method=method)
        )
    return sorted(out, key=lambda e: (e.prefix, e.route_key or ""))


def _quote(path: str) -> str:
    return urllib.parse.quote(path, safe="/-_.~")


def table(base: str, found: Sequence[Endpoint]) -> str:
    rows = []
    for endpoint in found:
        url = base + endpoint.prefix + "/"
        if endpoint.route_key not in (None, "$default"):
            assert endpoint.route_key is not None
            method, _, path = endpoint.route_key.partition(" ")
            url = f"{method} {base}{endpoint.prefix}{path}"
        rows.append((url, endpoint.function or "-", endpoint.describe()))
    width = max((len(r[0]) for r in rows), default=0)
    fn_width = max((len(r[1]) for r in rows), default=0)
    return "\n".join(f"  {u:<{width}}  {f:<{fn_width}}  {d}" for u, f, d in rows)


def _route_pattern(path: str) -> "re.Pattern[str]":
    """``/items/{id}`` → one segment per ``{name}``; ``{proxy+}`` → the rest of the path."""
    out = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            out += f"(?P<{_group(part[1:-2])}>.+)"
        elif part.startswith("{"):
            out += f"(?P<{_group(part[1:-1])}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(out + r"\Z")


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


def _specificity(route_path: str) -> Tuple[int, int]:
    """API Gateway's preference among routes that match: no greedy ``{proxy+}`` first, then
    the most literal segments."""
    segments = [p for p in route_path.split("/") if p]
    greedy = any(p.endswith("+}") for p in segments)
    return (0 if greedy else 1, sum(1 for p in segments if not p.startswith("{")))


def match(
    found: Sequence[Endpoint], method: str, path: str
) -> Optional[Tuple[Endpoint, str, Dict[str, str]]]:
    """(endpoint, path inside it, path parameters) for a request, or None. The longest prefix
    wins; among an API's routes the most specific path, then the exact method before
    ``ANY``; ``$default`` last."""
    best: Optional[Tuple[int, Tuple[int, int], int, Endpoint, str, Dict[str, str]]] = None
    for endpoint in found:
        if not (path == endpoint.prefix or path.startswith(endpoint.prefix + "/")):
            continue
        rest = path[len(endpoint.prefix) :] or "/"
        rank, params, specific = 0, {}, (-1, 0)
        if endpoint.route_key is not None and endpoint.route_key != "$default":
            route_method, _, route_path = endpoint.route_key.partition(" ")
            if route_method not in (method, "ANY"):
                continue
            hit = _route_pattern(route_path).match(rest)
            if hit is None:
                continue
            names = re.findall(r"\{([^}+]+)\+?\}", route_path)
            params = {n: urllib.parse.unquote(hit.group(_group(n))) for n in names}
            rank = 2 if route_method == method else 1
            specific = _specificity(route_path)
        candidate = (len(endpoint.prefix), specific, rank, endpoint, rest, params)
        if best is None or candidate[:3] > best[:3]:
            best = candidate
    return None if best is None else best[3:]


def event(
    endpoint: Endpoint,
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: Sequence[Tuple[str, str]],
    body: bytes,
    source_ip: str,
    path_parameters: Mapping[str, str],
) -> Dict[str, Any]:
    """The event of a request, as the endpoint's front door sends it: payload 2.0 (function
    URLs, HTTP API routes) or 1.0 (REST APIs, HTTP API routes set to it)."""
    if endpoint.payload == "1.0":
        return rest_event(
            endpoint,
            method=method,
            path=path,
            raw_query=raw_query,
            headers=headers,
            body=body,
            source_ip=source_ip,
            path_parameters=path_parameters,
        )
    query: Dict[str, List[str]] = {}
    for name, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    header_values: Dict[str, List[str]] = {}
    cookies: List[str] = []
    for name, value in headers:
        if name.lower() == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        else:
            header_values.setdefault(name.lower(), []).append(value)
    content_type = ",".join(header_values.get("content-type", []))
    payload: Any = None
    if body:
        payload = body
        if content_type.startswith(_TEXT_TYPES):
            try:
                payload = body.decode()
            except UnicodeDecodeError:
                pass
    common: Dict[str, Any] = dict(
        query=query,
        headers=header_values,
        cookies=cookies,
        body=payload,
        source_ip=source_ip,
        user_agent=",".join(header_values.get("user-agent", ["-"])),
    )
    if endpoint.route_key is None:
        built = function_url_request(method, path, **common)
    else:
        built = http_request(
            method,
            path,
            route_key=endpoint.route_key,
            path_parameters=dict(path_parameters) or None,
            **common,
        )
    built["rawQueryString"] = raw_query  # as the client sent it
    return built


def rest_event(
    endpoint: Endpoint,
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: Sequence[Tuple[str, str]],
    body: bytes,
    source_ip: str,
    path_parameters: Mapping[str, str],
) -> Dict[str, Any]:
    """The payload 1.0 event of a request: header names as sent, the last value of a repeated
    header or query parameter in ``headers`` / ``queryStringParameters`` and all of them in the
    ``multiValue`` forms (None when there are none), the resource path with its parameters, a
    body that is not UTF-8 text base64-encoded."""
    single: Dict[str, str] = {}
    multi: Dict[str, List[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    query: Dict[str, str] = {}
    multi_query: Dict[str, List[str]] = {}
    for name, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        query[name] = value
        multi_query.setdefault(name, []).append(value)
    text: Optional[str] = None
    encoded = False
    if body:
        try:
            text = body.decode()
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
    resource = (endpoint.route_key or "ANY /").partition(" ")[2]
    stage = endpoint.stage or "$default"
    lower = {k.lower(): v for k, v in single.items()}
    now = time.time()
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": PSEUDO_PARAMETERS["AWS::AccountId"],
            "apiId": "local",
            "domainName": lower.get("host", "localhost"),
            "domainPrefix": lower.get("host", "localhost").split(".")[0],
            "extendedRequestId": str(uuid.uuid4()),
            "httpMethod": method,
            "identity": {
                "sourceIp": source_ip,
                "userAgent": lower.get("user-agent"),
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
            },
            "path": (f"/{stage}" if endpoint.kind == "rest" else "") + path,
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": "local",
            "resourcePath": resource,
            "stage": stage,
        },
        "body": text,
        "isBase64Encoded": encoded,
    }
