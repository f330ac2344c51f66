from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_rust import RustBuildCache
from constructs_rust.build_cache import add_nag_suppression


class BuildCacheStack(Stack):
    """The team's shared Rust build cache (no Rust function: it serves every other stack).

    ``CiRole`` (assumed by CI on the main branch) may read and write the cache;
    ``DeveloperRole`` (laptops, pull-request builds) may only read it. Export the output
    ``RemoteCacheUrl`` as ``CONSTRUCTS_RUST_REMOTE_CACHE`` (docs/team-cache.md).
    """

    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        # DESTROY: a cache is disposable (an empty bucket is deleted on `cdk destroy`; a
        # non-empty one must be emptied first, CloudFormation never deletes objects).
        self.cache = RustBuildCache(self, "RustCache", removal_policy=RemovalPolicy.DESTROY)
        self.ci_role = iam.Role(
            self,
            "CiRole",
            assumed_by=iam.AccountPrincipal(self.account),
            description="CI on the main branch: CONSTRUCTS_RUST_REMOTE_CACHE_MODE=read-write",
        )
        self.developer_role = iam.Role(
            self,
            "DeveloperRole",
            assumed_by=iam.AccountPrincipal(self.account),
            description="Laptops and pull-request builds: CONSTRUCTS_RUST_REMOTE_CACHE_MODE=read",
        )
        self.cache.grant_read_write(self.ci_role)
        self.cache.grant_read(self.developer_role)
        for role in (self.ci_role, self.developer_role):
            policy = role.node.find_child("DefaultPolicy").node.default_child
            add_nag_suppression(
                policy,  # type: ignore[arg-type]
                "AwsSolutions-IAM5",
                "Artifacts are keyed by fingerprint under the cache prefix: the wildcard is "
                "limited to that prefix (<bucket>/<prefix>/*).",
                applies_to=[
                    {"regex": "/^Resource::<RustCacheBucket[0-9A-F]+\\.Arn>/.*\\*$/g"}  # type: ignore[list-item]
                ],
            )
        CfnOutput(self, "RemoteCacheUrl", value=self.cache.url)
        CfnOutput(self, "CiRoleArn", value=self.ci_role.role_arn)
