from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from constructs_rust import SCRATCH, BundlingOptions, Libc, RustFunction
from constructs_rust.container import RustDockerImageFunction

from .paths import crate


class StaticPiStack(Stack):
    """pi_digits as a static musl binary, the way the classic Rust-on-Lambda guides ship it:
    ``PiMusl`` zipped on provided.al2023, ``PiScratch`` in a FROM-scratch image holding only
    ``/bootstrap`` and a CA bundle. Compare with PiStack's glibc functions (bench/static_musl.py
    has the local numbers). Not deployed by ``make deploy-local`` by default: the image asset
    needs a Docker engine to build and push (as ContainerStack's)."""

    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        musl = BundlingOptions(libc=Libc.MUSL)
        common = dict(memory_size=1024, timeout=Duration.seconds(30))
        self.zip_function = RustFunction(
            self,
            "PiMusl",
            manifest_path=crate("pi_digits"),
            bundling=musl,
            description="First N digits of pi, static musl binary (arm64, zip)",
            **common,
        )
        self.image_function = RustDockerImageFunction(
            self,
            "PiScratch",
            manifest_path=crate("pi_digits"),
            bundling=musl,
            base_image=SCRATCH,
            description="First N digits of pi, static musl binary (arm64, FROM-scratch image)",
            **common,
        )
        CfnOutput(self, "PiMuslFunctionName", value=self.zip_function.function_name)
        CfnOutput(self, "PiScratchFunctionName", value=self.image_function.function_name)
