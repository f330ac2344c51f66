"""Example stacks: what a new user copies. Each builds real Rust lambdas from ../lambdas."""

from .build_cache import BuildCacheStack
from .container import ContainerStack
from .echo import EchoStack
from .extension import ExtensionStack
from .hello_http import HelloHttpStack
from .managed_instances import ManagedInstancesStack
from .multi_function import MultiFunctionStack
from .pi import PiStack
from .static_pi import StaticPiStack
from .streaming import StreamingStack

__all__ = [
    "BuildCacheStack",
    "ContainerStack",
    "EchoStack",
    "ExtensionStack",
    "HelloHttpStack",
    "ManagedInstancesStack",
    "MultiFunctionStack",
    "PiStack",
    "StreamingStack",
    "StaticPiStack",
]
