from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from constructs import Construct

from constructs_rust import UrlOptions
from constructs_rust.container import RustDockerImageFunction

from .paths import crate

#: Images the dedicated repository keeps; older ones are expired by ECR's lifecycle policy.
KEEP_IMAGES = 10


class ContainerStack(Stack):
    """hello_http shipped as a container image, behind a function URL.

    ``HelloHttpImage`` is built like any RustFunction (bootstrap compiled on this machine) and
    wrapped in a thin ``provided:al2023`` image; ``cdk deploy`` builds it and pushes it to the
    CDK bootstrap's asset repository.

    ``Images`` is a dedicated ECR repository for images you build and version yourself (CI
    pipelines, images shared between accounts). Its lifecycle rule keeps the last
    ``KEEP_IMAGES`` images, so repeated pushes never grow the bill. To deploy from it: push an
    image (e.g. ``docker build``/``docker push`` of the context CDK staged for HelloHttpImage,
    tagged ``v1``), then ``cdk deploy -c image_tag=v1``, which adds ``HelloHttpFromEcr`` using
    ``RustDockerImageFunction(repository=..., tag_or_digest=...)`` (nothing is built for it).
    """

    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        self.function = RustDockerImageFunction(
            self,
            "HelloHttpImage",
            manifest_path=crate(),  # the workspace root: binary_name picks the member
            binary_name="hello_http",
            description="Greets ?name= over HTTP (Rust, lambda_http, container image)",
            url=UrlOptions(),  # AWS_IAM: callers sign requests with SigV4
        )
        assert self.function.url is not None
        CfnOutput(
            self,
            "HelloHttpImageUrl",
            value=self.function.url.url,
            description="Function URL of the image function",
        )
        CfnOutput(self, "HelloHttpImageFunctionName", value=self.function.function_name)

        self.repository = ecr.Repository(
            self,
            "Images",
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    description=f"Keep only the last {KEEP_IMAGES} images",
                    max_image_count=KEEP_IMAGES,
                )
            ],
            removal_policy=RemovalPolicy.DESTROY,
            empty_on_delete=True,
        )
        CfnOutput(
            self,
            "ImagesRepositoryUri",
            value=self.repository.repository_uri,
            description="Push versioned images here",
        )

        self.ecr_function = None
        tag = self.node.try_get_context("image_tag")
        if tag:
            self.ecr_function = RustDockerImageFunction(
                self,
                "HelloHttpFromEcr",
                repository=self.repository,
                tag_or_digest=str(tag),
                description=f"hello_http from {self.repository.node.id}:{tag}",
            )
            CfnOutput(self, "HelloHttpFromEcrFunctionName", value=self.ecr_function.function_name)
