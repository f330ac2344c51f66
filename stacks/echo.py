from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from constructs_rust import RustFunction

from .paths import crate


class EchoStack(Stack):
    """echo (lambda_runtime + serde + tracing): small and quick, logs through tracing."""

    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        self.function = RustFunction(
            self,
            "Echo",
            manifest_path=crate("echo"),  # a member crate's directory
            description="Echoes {message} three times (Rust, lambda_runtime)",
            memory_size=128,
            timeout=Duration.seconds(3),
            environment={"RUST_LOG": "info", "RUST_BACKTRACE": "1"},
        )
        CfnOutput(self, "EchoFunctionName", value=self.function.function_name)
