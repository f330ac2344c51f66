from aws_cdk import CfnOutput, Stack
from constructs import Construct

from constructs_rust import RustFunction

from .paths import crate


class MultiFunctionStack(Stack):
    """function_a and function_b: two [[bin]] targets of ONE package (SAM's layout).

    Both binaries are compiled by a single cargo-lambda run.
    """

    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        self.functions = {}
        for binary in ("function_a", "function_b"):
            fn = RustFunction(
                self,
                "FunctionA" if binary == "function_a" else "FunctionB",
                manifest_path=crate("multi"),
                binary_name=binary,
                description=f"{binary} of the multi package",
            )
            self.functions[binary] = fn
            CfnOutput(self, f"{fn.node.id}Name", value=fn.function_name)
