"""Which local URL reaches which function: function URLs at ``/<construct path>/``, HTTP API
routes at ``/<API construct path>/<route path>``; and the request → event translation."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..testing.events import function_url_request, http_request
from .assembly import LocalFunction

#: Content types whose bodies function URLs pass as text (others base64-encoded).
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class Endpoint:
    prefix: str
    """``/Stack/Function`` (no trailing slash)."""
    function: str
    """Construct path of the function."""
    route_key: Optional[str] = None
    """None for a function URL; the HTTP API route key otherwise."""
    streaming: bool = False

    def describe(self) -> str:
        if self.route_key is None:
            mode = "RESPONSE_STREAM" if self.streaming else "BUFFERED"
            return f"function URL ({mode})"
        return f"HTTP API route {self.route_key}"


def endpoints(functions: Sequence[LocalFunction]) -> List[Endpoint]:
    out = []
    for function in functions:
        if function.url_invoke_mode is not None:
            streaming = function.url_invoke_mode == "RESPONSE_STREAM"
            out.append(Endpoint("/" + _quote(function.path), function.path, None, streaming))
        for route in function.routes:
            out.append(Endpoint("/" + _quote(route.api_path), function.path, route.route_key))
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
        rows.append((url, endpoint.function, endpoint.describe()))
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


def match(
    found: Sequence[Endpoint], method: str, path: str
) -> Optional[Tuple[Endpoint, str, Dict[str, str]]]:
    """(endpoint, path inside it, path parameters) for a request, or None. The longest prefix
    wins; among an API's routes the exact method before ``ANY``, ``$default`` last."""
    best: Optional[Tuple[int, int, Endpoint, str, Dict[str, str]]] = None
    for endpoint in found:
        if not (path == endpoint.prefix or path.startswith(endpoint.prefix + "/")):
            continue
        rest = path[len(endpoint.prefix) :] or "/"
        rank, params = 0, {}
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
        candidate = (len(endpoint.prefix), rank, endpoint, rest, params)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return None if best is None else best[2:]


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
    """The payload 2.0 event of a request, as a function URL or an HTTP API route sends it."""
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
