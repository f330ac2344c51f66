from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from constructs_rust import RustFunction, UrlOptions

from .paths import crate


class StreamingStack(Stack):
    """stream_chunks (lambda_runtime's streaming response) behind a RESPONSE_STREAM function
    URL: the body reaches the caller chunk by chunk, as the function writes it."""

    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        self.function = RustFunction(
            self,
            "StreamChunks",
            manifest_path=crate(),
            binary_name="stream_chunks",
            description="Streams {chunks} lines, one every {interval_ms} ms (Rust, streaming)",
            timeout=Duration.seconds(30),
            url=UrlOptions(invoke_mode=lambda_.InvokeMode.RESPONSE_STREAM),
        )
        CfnOutput(self, "StreamChunksFunctionName", value=self.function.function_name)
