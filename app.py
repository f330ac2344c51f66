#!/usr/bin/env python3
"""The example app: every stack of stacks/, built from the Rust lambdas in lambdas/.

make synth                      # or: npx cdk synth
npx cdk synth -e PiStack        # builds only pi_digits (both architectures)
"""

import os

import aws_cdk as cdk

from stacks import (
    BuildCacheStack,
    ContainerStack,
    EchoStack,
    ExtensionStack,
    HelloHttpStack,
    ManagedInstancesStack,
    MultiFunctionStack,
    PiStack,
    StaticPiStack,
    StreamingStack,
)


def build_app(app: cdk.App) -> cdk.App:
    # Deploy-local mode (make deploy-local) targets moto's fixed account; otherwise the stacks
    # stay environment-agnostic.
    env = None
    if os.environ.get("CONSTRUCTS_RUST_ENV_ACCOUNT"):
        env = cdk.Environment(
            account=os.environ["CONSTRUCTS_RUST_ENV_ACCOUNT"],
            region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        )
    HelloHttpStack(app, "HelloHttpStack", env=env)
    EchoStack(app, "EchoStack", env=env)
    PiStack(app, "PiStack", env=env)
    MultiFunctionStack(app, "MultiFunctionStack", env=env)
    ContainerStack(app, "ContainerStack", env=env)
    BuildCacheStack(app, "BuildCacheStack", env=env)
    ExtensionStack(app, "ExtensionStack", env=env)
    StreamingStack(app, "StreamingStack", env=env)
    # Environment-agnostic even in deploy-local mode: moto cannot create it (no
    # AWS::Lambda::CapacityProvider), and an account-bound VPC would look up availability zones
    # (writing cdk.context.json) on every local deploy of the other stacks.
    ManagedInstancesStack(app, "ManagedInstancesStack")
    StaticPiStack(app, "StaticPiStack", env=env)
    return app


if __name__ == "__main__":
    build_app(cdk.App()).synth()
