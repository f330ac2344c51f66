"""constructs_rust: AWS CDK constructs for Rust on AWS Lambda.

The names below are imported on first use (PEP 562): ``from constructs_rust import
RustFunction`` and ``constructs_rust.RustFunction`` work as always, while what never touches a
construct (``constructs-rust local invoke --no-synth`` reading a cloud assembly) starts without
loading aws-cdk-lib and jsii."""

from typing import TYPE_CHECKING

from ._support import lazy

if TYPE_CHECKING:
    from .build_cache import RustBuildCache
    from .container import (
        DEFAULT_BASE_IMAGE,
        DEFAULT_BUILD_IMAGE,
        SCRATCH,
        ContainerBuild,
        RustDockerImageFunction,
    )
    from .errors import (
        BinaryError,
        CargoError,
        ConfigurationError,
        ConstructsRustError,
        ToolchainError,
    )
    from .extension import LayerOptions, RustExtension
    from .function import RustFunction
    from .options import (
        DEFAULT_DOCKER_IMAGE,
        BundlingOptions,
        CommandHooks,
        DockerVolume,
        ExtraFile,
        FunctionOptions,
        GitSource,
        Libc,
        UrlOptions,
    )

#: Each public name and the module that defines it.
EXPORTS = (
    ("RustBuildCache", "build_cache"),
    ("DEFAULT_BASE_IMAGE", "container"),
    ("DEFAULT_BUILD_IMAGE", "container"),
    ("SCRATCH", "container"),
    ("ContainerBuild", "container"),
    ("RustDockerImageFunction", "container"),
    ("BinaryError", "errors"),
    ("CargoError", "errors"),
    ("ConfigurationError", "errors"),
    ("ConstructsRustError", "errors"),
    ("ToolchainError", "errors"),
    ("LayerOptions", "extension"),
    ("RustExtension", "extension"),
    ("RustFunction", "function"),
    ("DEFAULT_DOCKER_IMAGE", "options"),
    ("BundlingOptions", "options"),
    ("CommandHooks", "options"),
    ("DockerVolume", "options"),
    ("ExtraFile", "options"),
    ("FunctionOptions", "options"),
    ("GitSource", "options"),
    ("Libc", "options"),
    ("UrlOptions", "options"),
)


__getattr__, __dir__ = lazy.exports(__name__, dict(EXPORTS), globals())

__all__ = [
    "ContainerBuild",
    "DEFAULT_BASE_IMAGE",
    "DEFAULT_BUILD_IMAGE",
    "RustBuildCache",
    "SCRATCH",
    "RustDockerImageFunction",
    "RustExtension",
    "BinaryError",
    "BundlingOptions",
    "CargoError",
    "CommandHooks",
    "ConfigurationError",
    "ConstructsRustError",
    "DEFAULT_DOCKER_IMAGE",
    "DockerVolume",
    "ExtraFile",
    "FunctionOptions",
    "GitSource",
    "LayerOptions",
    "Libc",
    "RustFunction",
    "ToolchainError",
    "UrlOptions",
]
