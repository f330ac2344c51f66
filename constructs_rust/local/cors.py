"""CORS as each front door applies it: a function URL's ``cors``, an HTTP API's ``corsPreflight``
and a REST API's ``defaultCorsPreflightOptions`` answer preflights and add their headers."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from .model import Cors
from .routes import Endpoint, match


def is_preflight(method: str, headers: Any) -> bool:
    return (
        method == "OPTIONS"
        and bool(headers.get("Origin"))
        and bool(headers.get("Access-Control-Request-Method"))
    )


def preflight_target(
    found: Sequence[Endpoint], path: str, headers: Any
) -> Optional[Tuple[Endpoint, str, Dict[str, str]]]:
    """An HTTP API answers a preflight for any of its paths (no OPTIONS route needed): the
    route the real request would take."""
    wanted = headers.get("Access-Control-Request-Method")
    if not wanted:
        return None
    hit = match(found, wanted.upper(), path)
    if hit is not None and hit[0].cors is not None:
        return hit
    return None


def _allowed_origin(cors: Cors, origin: Optional[str]) -> Optional[str]:
    if not origin:
        return None
    if origin in cors.origins:
        return origin
    if "*" in cors.origins:
        return origin if cors.credentials else "*"
    return None


def cors_headers(
    cors: Cors, origin: Optional[str], *, preflight: bool = False
) -> List[Tuple[str, str]]:
    """The CORS headers the front door adds for a request from ``origin`` (none when the origin
    is not allowed: the browser then blocks the answer)."""
    allowed = _allowed_origin(cors, origin)
    if allowed is None:
        return []
    out = [("Access-Control-Allow-Origin", allowed)]
    if cors.credentials:
        out.append(("Access-Control-Allow-Credentials", "true"))
    if preflight:
        if cors.methods:
            out.append(("Access-Control-Allow-Methods", ",".join(cors.methods)))
        if cors.headers:
            out.append(("Access-Control-Allow-Headers", ",".join(cors.headers)))
        if cors.max_age is not None:
            out.append(("Access-Control-Max-Age", str(cors.max_age)))
    elif cors.expose:
        out.append(("Access-Control-Expose-Headers", ",".join(cors.expose)))
    if allowed != "*":
        out.append(("Vary", "Origin"))
    return out
