from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from constructs_rust import RustFunction

from .paths import crate


class PiStack(Stack):
    """pi_digits twice, x86_64 and arm64 side by side: the CPU-bound comparison users ask for."""

    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        self.functions = {}
        for arch in (lambda_.Architecture.X86_64, lambda_.Architecture.ARM_64):
            label = "X86" if arch.name == "x86_64" else "Arm64"
            fn = RustFunction(
                self,
                f"Pi{label}",
                manifest_path=crate("pi_digits"),
                architecture=arch,
                description=f"First N digits of pi, spigot algorithm ({arch.name})",
                memory_size=1024,
                timeout=Duration.seconds(30),
            )
            self.functions[arch.name] = fn
            CfnOutput(self, f"Pi{label}FunctionName", value=fn.function_name)
