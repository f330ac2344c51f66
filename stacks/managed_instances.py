from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from constructs_rust import BundlingOptions, RustFunction
from constructs_rust.build_cache import add_nag_suppression

from .paths import crate


class ManagedInstancesStack(Stack):
    """sleeper on Lambda Managed Instances: a capacity provider runs many requests per
    execution environment, so the binary is built with lambda_runtime's concurrent mode.

    ``Concurrent`` is sleeper built with its ``concurrent`` feature (lambda_runtime's
    ``concurrency-tokio``, ``run_concurrent``), attached to the provider: it overlaps up to
    ``per_execution_environment_max_concurrency`` requests per environment. ``Sequential`` is
    the same crate without the feature on classic Lambda (one request per environment, where
    that is right); attached to the provider instead, the construct would warn at synth
    (``constructs_rust:managed-instances-sequential``).

    The provider's instances are arm64 like the functions (a provider runs x86_64 unless
    ``architectures`` says otherwise; a mismatch is a synth error). Its VPC has isolated
    subnets only: no NAT gateway (the example needs no internet access), and VPC flow logs to
    CloudWatch Logs.
    """

    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                )
            ],
            flow_logs={"All": ec2.FlowLogOptions()},
            # Nothing uses the default security group; no custom-resource Lambda to lock it.
            restrict_default_security_group=False,
        )
        security_group = ec2.SecurityGroup(
            self,
            "InstancesSecurityGroup",
            vpc=vpc,
            description="Lambda Managed Instances of the sleeper example (egress only)",
        )
        self.capacity_provider = lambda_.CapacityProvider(
            self,
            "CapacityProvider",
            subnets=vpc.isolated_subnets,
            security_groups=[security_group],
            architectures=[lambda_.Architecture.ARM_64],
            max_v_cpu_count=16,
        )
        operator_role = self.capacity_provider.node.find_child("OperatorRole").node.default_child
        add_nag_suppression(
            operator_role,  # type: ignore[arg-type]
            "AwsSolutions-IAM4",
            "The capacity provider's operator role (assumed by Lambda to run the instances) "
            "uses AWSLambdaManagedEC2ResourceOperator, the policy AWS documents for it.",
            applies_to=[
                "Policy::arn:<AWS::Partition>:iam::aws:policy/AWSLambdaManagedEC2ResourceOperator"
            ],
        )
        # memory_size is left to the construct: on a capacity provider it picks the smallest
        # size Managed Instances run (2048 MB at the default 2 GiB per vCPU), not 256 MB.
        self.concurrent = RustFunction(
            self,
            "Concurrent",
            manifest_path=crate("sleeper"),
            bundling=BundlingOptions(features=["concurrent"]),
            description="Sleeps {ms} ms per request, many requests at once (Managed Instances)",
            timeout=Duration.seconds(10),
        )
        self.capacity_provider.add_function(
            self.concurrent, per_execution_environment_max_concurrency=16
        )
        self.sequential = RustFunction(
            self,
            "Sequential",
            manifest_path=crate("sleeper"),
            description="Sleeps {ms} ms per request, one request at a time (classic Lambda)",
            timeout=Duration.seconds(10),
        )
        CfnOutput(self, "ConcurrentFunctionName", value=self.concurrent.function_name)
        CfnOutput(self, "SequentialFunctionName", value=self.sequential.function_name)
