from aws_cdk import CfnOutput, Stack
from constructs import Construct

from constructs_rust import RustFunction, UrlOptions

from .paths import crate


class HelloHttpStack(Stack):
    """hello_http (lambda_http) behind a function URL, with the URL as an output."""

    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        self.function = RustFunction(
            self,
            "HelloHttp",
            manifest_path=crate(),  # the workspace root: binary_name picks the member
            binary_name="hello_http",
            description="Greets ?name= over HTTP (Rust, lambda_http)",
            # AWS_IAM: callers sign requests with SigV4. Use FunctionUrlAuthType.NONE (and
            # acknowledge_public=True) for a public endpoint.
            url=UrlOptions(),
        )
        assert self.function.url is not None
        CfnOutput(
            self,
            "HelloHttpUrl",
            value=self.function.url.url,
            description="Function URL of hello_http",
        )
        CfnOutput(self, "HelloHttpFunctionName", value=self.function.function_name)
