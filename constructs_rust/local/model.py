"""What ``local`` serves, as read from the cloud assembly: functions (with their asset, runtime
settings and front doors), routes of function URLs and HTTP APIs, REST API methods, CORS."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from ..errors import ConstructsRustError


class LocalError(ConstructsRustError):
    """Bad input to ``constructs-rust local``: printed as one line, exit status 2."""


@dataclass(frozen=True)
class Cors:
    """A function URL's ``Cors`` or an HTTP API's ``CorsConfiguration`` (the same fields)."""

    origins: Tuple[str, ...] = ()
    methods: Tuple[str, ...] = ()
    headers: Tuple[str, ...] = ()
    expose: Tuple[str, ...] = ()
    max_age: Optional[int] = None
    credentials: bool = False


def cors_of(config: Any) -> Optional[Cors]:
    if not isinstance(config, dict) or not config:
        return None

    def strings(name: str) -> Tuple[str, ...]:
        values = config.get(name) or ()
        return tuple(str(v) for v in values) if isinstance(values, list) else ()

    max_age = config.get("MaxAge")
    return Cors(
        origins=strings("AllowOrigins"),
        methods=strings("AllowMethods"),
        headers=strings("AllowHeaders"),
        expose=strings("ExposeHeaders"),
        max_age=int(max_age) if isinstance(max_age, int) else None,
        credentials=config.get("AllowCredentials") is True,
    )


def max_concurrency_of(config: Any) -> Optional[int]:
    """``PerExecutionEnvironmentMaxConcurrency`` of a function's ``CapacityProviderConfig``
    (None without one, or when it is not a number; 1 when the provider leaves it unset)."""
    if not isinstance(config, dict):
        return None
    inner = config.get("LambdaManagedInstancesCapacityProviderConfig")
    if not isinstance(inner, dict):
        return None
    value = inner.get("PerExecutionEnvironmentMaxConcurrency", 1)
    return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else None


@dataclass(frozen=True)
class Route:
    """An API Gateway route or method integrated with a function as a Lambda proxy."""

    api_path: str
    """Construct path of the ``HttpApi`` or ``RestApi``."""
    route_key: str
    """``"GET /items/{id}"``, ``"ANY /{proxy+}"`` or ``"$default"``."""
    kind: str = "http"
    """``http`` (an HTTP API) or ``rest`` (a REST API)."""
    payload: str = "2.0"
    """The event's payload format: ``2.0``, or ``1.0`` (REST APIs, HTTP API routes so set)."""
    stage: str = ""
    """A REST API's stage name (the first segment of the path after the API)."""
    cors: Optional[Cors] = None
    """An HTTP API's CORS configuration (REST APIs answer preflights with OPTIONS methods)."""


@dataclass(frozen=True)
class GatewayMethod:
    """A REST API method that is not a Lambda proxy: a MOCK integration (answered with its
    status and static header values, e.g. the CORS preflight of
    ``defaultCorsPreflightOptions``) or another integration type (not emulated)."""

    api_path: str
    stage: str
    route_key: str
    integration: str
    """``MOCK``, ``HTTP_PROXY``, ``AWS``, ``AWS`` with a function (a non-proxy Lambda
    integration), ..."""
    status: int = 200
    headers: Tuple[Tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LocalFunction:
    path: str
    """Construct path (``Stack/Function``), without the trailing ``/Resource``."""
    logical_id: str
    stack: str
    """The stack's artifact display name (``Stage/Stack`` inside a stage)."""
    asset_dir: Optional[Path]
    """The staged asset directory, None when the code is not a file asset."""
    architecture: str
    memory_size: int
    timeout: int
    runtime: str
    environment: Dict[str, str]
    unresolved: Dict[str, Any]
    """Variables whose template value is only known once deployed (name → template value)."""
    url_invoke_mode: Optional[str] = None
    """``BUFFERED`` or ``RESPONSE_STREAM`` when the function has a function URL."""
    routes: Tuple[Route, ...] = ()
    url_cors: Optional[Cors] = None
    """The function URL's CORS configuration."""
    function_name: Optional[str] = None
    """The template's ``FunctionName``, when it sets one (a name the Invoke API takes)."""
    reserved_concurrency: Optional[int] = None
    """``ReservedConcurrentExecutions``: at most this many events at once (throttled past it)."""
    max_concurrency: Optional[int] = None
    """Lambda Managed Instances: the ``CapacityProviderConfig``'s
    ``PerExecutionEnvironmentMaxConcurrency``, events one execution environment takes at once
    (its runtime gets ``AWS_LAMBDA_MAX_CONCURRENCY``). None on classic Lambda."""

    @property
    def per_environment(self) -> int:
        """Events one execution environment takes at once: 1 but on Managed Instances."""
        return max(1, self.max_concurrency or 1)

    @property
    def bootstrap(self) -> Optional[Path]:
        if self.asset_dir is None or not (self.asset_dir / "bootstrap").is_file():
            return None
        return self.asset_dir / "bootstrap"


@dataclass
class RestResource:
    path: str
    logical_id: str
    type: str
    properties: Dict[str, Any]
    metadata: Dict[str, Any]
    stack: str
    directory: Path
