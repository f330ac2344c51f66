from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from constructs_rust import RustExtension, RustFunction

from .paths import crate


class ExtensionStack(Stack):
    """telemetry_summary (an external extension, lambda-extension crate) layered onto echo.

    The layer holds ``extensions/telemetry_summary``; Lambda starts it next to echo's runtime.
    It counts invokes, echo's log lines and platform reports, and logs a JSON summary at
    SHUTDOWN (in echo's log group). Both are arm64: another architecture is a synth error.
    """

    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        self.extension = RustExtension(
            self,
            "TelemetrySummary",
            manifest_path=crate(),  # the workspace root, plus the binary's name
            binary_name="telemetry_summary",
            description="Counts invokes, log lines and reports; logs a summary at SHUTDOWN",
        )
        self.function = RustFunction(
            self,
            "Echo",
            manifest_path=crate("echo"),
            description="Echoes {message} three times, with the telemetry_summary extension",
            memory_size=128,
            timeout=Duration.seconds(3),
            environment={"RUST_LOG": "info"},
            layers=[self.extension],
        )
        CfnOutput(self, "ExtensionLayerArn", value=self.extension.layer_version_arn)
        CfnOutput(self, "EchoWithExtensionName", value=self.function.function_name)
