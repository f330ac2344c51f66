"""The team cache's configuration: the URL and mode from ``CONSTRUCTS_RUST_REMOTE_CACHE*`` or
the app's context, parsed and checked before anything is fetched."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Tuple

from .._support import settings
from ..errors import ConfigurationError

#: Environment variables (they win over the cdk.json context keys below).
ENV_URL = settings.REMOTE_CACHE


ENV_MODE = settings.REMOTE_CACHE_MODE


#: cdk.json ``context`` keys (or ``cdk synth -c key=value``).
CONTEXT_URL = "constructs-rust:remoteCache"


CONTEXT_MODE = "constructs-rust:remoteCacheMode"


MODES = ("read", "read-write", "off")


DEFAULT_MODE = "read"


FIX_OFF = f"or set {ENV_MODE}=off"


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class RemoteCacheConfig:
    """Where the shared cache is and whether this synth may write to it."""

    bucket: str
    prefix: str
    """Key prefix without leading or trailing slash ('' for the bucket root)."""
    mode: str
    """``read`` or ``read-write`` (``off`` gives no config at all)."""

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def writes(self) -> bool:
        return self.mode == "read-write"


def parse_url(url: str, *, source: str) -> Tuple[str, str]:
    """``s3://bucket[/prefix]`` → (bucket, prefix); anything else is a configuration error."""
    fix = f"set {source} to s3://<bucket>/<prefix>, e.g. s3://my-team-rust-cache/constructs-rust"
    match = re.match(r"^s3://([^/]+)(/.*)?$", url.strip())
    if not match:
        raise ConfigurationError(f"{source}={url!r} is not an s3:// URL", fix=fix)
    bucket, rest = match.group(1), (match.group(2) or "")
    if not _BUCKET.match(bucket):
        raise ConfigurationError(f"{source}={url!r}: {bucket!r} is not a bucket name", fix=fix)
    parts = [p for p in rest.split("/") if p]
    if any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
        raise ConfigurationError(f"{source}={url!r}: the prefix may not contain . or ..", fix=fix)
    return bucket, "/".join(parts)


def resolve_config(
    environ: Mapping[str, str], context: Callable[[str], Any]
) -> Optional[RemoteCacheConfig]:
    """The configuration from the environment, else the cdk.json context; None when off."""
    url_source, url = ENV_URL, environ.get(ENV_URL, "").strip()
    if not url:
        value = context(CONTEXT_URL)
        url_source, url = f"context {CONTEXT_URL}", str(value).strip() if value else ""
    mode_source, mode = ENV_MODE, environ.get(ENV_MODE, "").strip().lower()
    if not mode:
        value = context(CONTEXT_MODE)
        mode_source, mode = f"context {CONTEXT_MODE}", str(value).strip().lower() if value else ""
    mode = mode or DEFAULT_MODE
    if mode not in MODES:
        raise ConfigurationError(
            f"{mode_source}={mode!r} is not a remote cache mode",
            fix=f"use one of {', '.join(MODES)} (default {DEFAULT_MODE})",
        )
    if mode == "off" or not url:
        return None
    bucket, prefix = parse_url(url, source=url_source)
    return RemoteCacheConfig(bucket=bucket, prefix=prefix, mode=mode)
