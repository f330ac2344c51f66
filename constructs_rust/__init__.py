"""constructs_rust: AWS CDK constructs for Rust on AWS Lambda."""

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
