"""RustBuildCache: the bucket's protections and the exact grants (template level)."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from constructs_rust import ConfigurationError, RustBuildCache

from ..conftest import skip_bundling_app


def _stack():
    return cdk.Stack(skip_bundling_app(), "Cache")


def _statements(template: Template, role_prefix: str) -> list:
    policies = template.find_resources("AWS::IAM::Policy")
    (policy,) = [p for k, p in policies.items() if k.startswith(role_prefix)]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_bucket_is_encrypted_private_tls_only_versioned_and_expires():
    stack = _stack()
    RustBuildCache(stack, "Cache")
    t = Template.from_stack(stack)
    t.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "ExpirationInDays": 30,
                                "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
                                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                                "Status": "Enabled",
                            }
                        )
                    ]
                )
            },
        },
    )
    t.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Retain"})
    t.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Principal": {"AWS": "*"},
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ),
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}},
                            }
                        ),
                    ]
                )
            }
        },
    )


def _object_arn(prefix: str) -> dict:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [Match.any_value(), "Arn"]}, f"/{prefix}/*"]]}


def test_grants_are_exactly_get_list_for_read_and_put_for_read_write_on_the_prefix():
    stack = _stack()
    cache = RustBuildCache(stack, "Cache", prefix="team/rust")
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    writer = iam.Role(stack, "Writer", assumed_by=iam.AccountRootPrincipal())
    cache.grant_read(reader)
    cache.grant_read_write(writer)
    t = Template.from_stack(stack)
    listing = {
        "Action": "s3:ListBucket",
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [Match.any_value(), "Arn"]},
        "Condition": {"StringLike": {"s3:prefix": ["team/rust/*"]}},
    }
    get = {"Action": "s3:GetObject", "Effect": "Allow", "Resource": _object_arn("team/rust")}
    put = {"Action": "s3:PutObject", "Effect": "Allow", "Resource": _object_arn("team/rust")}
    read = _statements(t, "ReaderDefaultPolicy")
    write = _statements(t, "WriterDefaultPolicy")
    assert sorted(s["Action"] for s in read) == ["s3:GetObject", "s3:ListBucket"]
    assert sorted(s["Action"] for s in write) == ["s3:GetObject", "s3:ListBucket", "s3:PutObject"]
    for statements, expected in ((read, [get, listing]), (write, [get, listing, put])):
        as_template = Template.from_json(
            {"Resources": {"P": {"Type": "X", "Properties": {"Statement": statements}}}}
        )
        for statement in expected:
            as_template.has_resource_properties("X", {"Statement": Match.array_with([statement])})
    assert not any("Delete" in s["Action"] for s in write)
    assert cache.prefix == "team/rust"


@pytest.mark.parametrize("prefix", ["", "/lead", "trail/", "a//b", "a/../b", "..", "sp ace"])
def test_bad_prefix_is_rejected_with_the_fix(prefix):
    with pytest.raises(ConfigurationError, match=r"(?s)\[Cache/Bad\] prefix=.*Fix:"):
        RustBuildCache(_stack(), "Bad", prefix=prefix)


def test_sub_day_expiration_is_rejected():
    with pytest.raises(ConfigurationError, match="expiration"):
        RustBuildCache(_stack(), "Bad", expiration=cdk.Duration.hours(3))


def test_cdk_nag_s1_is_suppressed_only_without_an_access_log_bucket():
    app = skip_bundling_app()
    stack = cdk.Stack(app, "Nag")
    logs = s3.Bucket(
        stack,
        "Logs",
        enforce_ssl=True,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
    )
    RustBuildCache(stack, "Logged", access_logs_bucket=logs, prefix="p")
    RustBuildCache(stack, "Unlogged")
    s3.Bucket(  # the control: as locked down, but no access logs and no suppression
        stack,
        "Plain",
        enforce_ssl=True,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
    )
    cdk.Aspects.of(app).add(AwsSolutionsChecks())
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions"))
    assert [e.id for e in errors] == ["/Nag/Plain/Resource"], [e.entry.data for e in errors]
    assert "AwsSolutions-S1" in str(errors[0].entry.data)
    t = Template.from_stack(stack)
    t.has_resource_properties(
        "AWS::S3::Bucket",
        {"LoggingConfiguration": {"LogFilePrefix": "rust-build-cache/"}},
    )
    suppressed = [
        r
        for r in t.find_resources("AWS::S3::Bucket").values()
        if r.get("Metadata", {}).get("cdk_nag")
    ]
    assert len(suppressed) == 1
    assert "LoggingConfiguration" not in suppressed[0]["Properties"]
