"""Local invoke of the EXACT artifact CDK will deploy: ``sam local invoke`` without Docker.

    from constructs_rust.testing import LambdaEmulator, bootstrap_path

    app = cdk.App(); stack = MyStack(app, "S"); app.synth()
    with LambdaEmulator() as emulator:
        result = emulator.invoke(bootstrap_path(stack.my_function), {"message": "hi"})
    assert result.payload == {...}; print(result.init_seconds, result.invoke_seconds)

The emulator is cargo-lambda's Lambda runtime API (``cargo lambda watch --only-lambda-apis``).
The bootstrap runs as a plain process with the ``AWS_LAMBDA_*`` variables Lambda sets, on the
architecture its ELF header names (``binary_architecture``) unless the caller gives one; arm64
binaries run under qemu-user on x86_64 hosts (``EmulationUnavailable`` when it is missing).
Between the bootstrap and the emulator sits a small TCP relay that notes when the runtime
first asks for ``/next``: that is the init time (process start → ready for events).

``invoke_concurrently`` sends N events at once to one process started with
``AWS_LAMBDA_MAX_CONCURRENCY`` (Lambda Managed Instances); ``invoke_streaming`` reads a
streamed response piece by piece with the time each piece arrived.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._support import lazy
from .bootstrap import EmulationUnavailable, binary_architecture, bootstrap_path
from .emulator import InvokeResult, LambdaEmulator
from .events import HttpResponse, function_url_request, http_request, http_response
from .snapshot import normalize_template, snapshot_template

if TYPE_CHECKING:
    from .extensions import ExtensionSimulator, extension_path
    from .unit_app import BUNDLING_STACKS_CONTEXT, no_bundling_app

#: Names whose modules load aws-cdk-lib, imported on first use (PEP 562), so that what only
#: runs a bootstrap (``constructs-rust local``) starts without it: name → module.
LAZY = (
    ("ExtensionSimulator", "extensions"),
    ("extension_path", "extensions"),
    ("BUNDLING_STACKS_CONTEXT", "unit_app"),
    ("no_bundling_app", "unit_app"),
)


__getattr__, __dir__ = lazy.exports(__name__, dict(LAZY), globals())

__all__ = [
    "BUNDLING_STACKS_CONTEXT",
    "EmulationUnavailable",
    "ExtensionSimulator",
    "HttpResponse",
    "InvokeResult",
    "LambdaEmulator",
    "binary_architecture",
    "bootstrap_path",
    "extension_path",
    "function_url_request",
    "http_request",
    "http_response",
    "no_bundling_app",
    "normalize_template",
    "snapshot_template",
]
