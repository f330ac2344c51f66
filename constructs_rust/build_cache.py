"""``RustBuildCache``: the S3 bucket behind the shared build cache (see remote_cache.py).

The bucket holds code that will run in your Lambda functions, so it is locked down: SSE-S3
encryption, every non-TLS request denied (``aws:SecureTransport``) and TLS ≥ 1.2, all public
access blocked, ACLs disabled, versioned (an overwritten artifact stays recoverable and
visible for ``noncurrent_expiration``), objects expire after ``expiration`` (a later
synth rebuilds and re-uploads what is still used). The grants are scoped to the prefix:
``grant_read`` = ``s3:GetObject`` on ``<prefix>/*`` and ``s3:ListBucket`` for that prefix
only (so a missing artifact is a 404, not a 403), ``grant_read_write`` adds ``s3:PutObject``.
Nobody gets ``s3:DeleteObject``: the cache never deletes, lifecycle rules do.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .errors import ConfigurationError

DEFAULT_PREFIX = "constructs-rust"
"""The cache's key prefix unless ``prefix`` says otherwise."""
__all__ = ["RustBuildCache", "DEFAULT_PREFIX"]

_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$")


def add_nag_suppression(
    resource: cdk.CfnResource, rule: str, reason: str, applies_to: Optional[List[str]] = None
) -> None:
    """A cdk-nag suppression as metadata (what ``NagSuppressions`` writes), without cdk-nag."""
    metadata: Any = resource.get_metadata("cdk_nag") or {}
    rules = list(metadata.get("rules_to_suppress", []))
    entry: Dict[str, Any] = {"id": rule, "reason": reason}
    if applies_to:
        entry["applies_to"] = applies_to
    rules.append(entry)
    resource.add_metadata("cdk_nag", {**metadata, "rules_to_suppress": rules})


class RustBuildCache(Construct):
    """An S3 bucket for ``CONSTRUCTS_RUST_REMOTE_CACHE`` and the grants to use it.

    ``cache.url`` is the value for ``CONSTRUCTS_RUST_REMOTE_CACHE`` (``s3://<bucket>/<prefix>``).
    How the bucket is locked down and what each grant allows: the module's description above
    and [Team cache](../team-cache.md).

    Args:
        scope: The parent construct (a ``Stack`` or another construct).
        id: The construct's id, unique within ``scope``.
        prefix: Key prefix of the cache (the grants cover only it). Default:
            ``constructs-rust``.
        expiration: Objects are deleted this long after upload (whole days). Default: 30 days.
        noncurrent_expiration: Overwritten (noncurrent) versions are kept this long (whole
            days). Default: 7 days.
        access_logs_bucket: Where S3 server access logs go (who read and wrote which
            artifact). Default: none (cdk-nag AwsSolutions-S1 is suppressed with that reason).
        access_logs_prefix: Prefix of the access logs. Default: ``rust-build-cache/``.
        removal_policy: What ``cdk destroy`` does with the bucket. Default: RETAIN.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        expiration: Optional[cdk.Duration] = None,
        noncurrent_expiration: Optional[cdk.Duration] = None,
        access_logs_bucket: Optional[s3.IBucket] = None,
        access_logs_prefix: str = "rust-build-cache/",
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        path = f"{scope.node.path}/{id}" if scope.node.path else id
        if not _PREFIX.match(prefix) or any(p in (".", "..") for p in prefix.split("/")):
            raise ConfigurationError(
                "the prefix must be a relative S3 key prefix without leading or trailing '/', "
                "empty segments, '.' or '..'",
                prop="prefix",
                value=prefix,
                fix=f"use something like {DEFAULT_PREFIX!r}",
                construct_path=path,
            )
        expiration = expiration or cdk.Duration.days(30)
        noncurrent_expiration = noncurrent_expiration or cdk.Duration.days(7)
        for prop, value in (
            ("expiration", expiration),
            ("noncurrent_expiration", noncurrent_expiration),
        ):
            hours = value.to_hours(integral=False)
            if not value.is_unresolved() and (hours < 24 or hours % 24):
                raise ConfigurationError(
                    "S3 lifecycle rules count in whole days",
                    prop=prop,
                    value=value.to_human_string(),
                    fix="use cdk.Duration.days(n) with n ≥ 1",
                    construct_path=path,
                )
        super().__init__(scope, id)
        self.prefix: str = prefix
        """The cache's key prefix in the bucket."""
        self.bucket: s3.Bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireArtifacts",
                    expiration=expiration,
                    noncurrent_version_expiration=noncurrent_expiration,
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                ),
                s3.LifecycleRule(id="DropDeleteMarkers", expired_object_delete_marker=True),
            ],
            server_access_logs_bucket=access_logs_bucket,
            server_access_logs_prefix=access_logs_prefix if access_logs_bucket else None,
            removal_policy=removal_policy,
        )
        """The cache's bucket (SSE-S3, TLS only, versioned, no public access, no ACLs)."""
        if access_logs_bucket is None:
            add_nag_suppression(
                self.bucket.node.default_child,  # type: ignore[arg-type]
                "AwsSolutions-S1",
                "Build cache: artifacts are content-addressed and verified against their "
                "manifest on every read; versioning keeps overwritten objects. Pass "
                "access_logs_bucket to RustBuildCache to record every read and write.",
            )

    @property
    def url(self) -> str:
        """``s3://<bucket>/<prefix>``: the value of ``CONSTRUCTS_RUST_REMOTE_CACHE``."""
        return f"s3://{self.bucket.bucket_name}/{self.prefix}"

    def _objects(self) -> str:
        return self.bucket.arn_for_objects(f"{self.prefix}/*")

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """``s3:GetObject`` on ``<prefix>/*`` and ``s3:ListBucket`` restricted to that prefix:
        what ``CONSTRUCTS_RUST_REMOTE_CACHE_MODE=read`` needs (pull requests, laptops)."""
        get = iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:GetObject"], resource_arns=[self._objects()]
        )
        listing = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:ListBucket"],
            resource_arns=[self.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{self.prefix}/*"]}},
        )
        return get.combine(listing)

    def grant_read_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """``grant_read`` plus ``s3:PutObject`` on ``<prefix>/*``: for the trusted writer only
        (CI on the main branch). Whoever can write can put code into every consumer's build."""
        put = iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:PutObject"], resource_arns=[self._objects()]
        )
        return self.grant_read(grantee).combine(put)
