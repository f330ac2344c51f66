"""RustBuildCache: the bucket's protections and the exact grants (template level)."""

import json

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


def _grants(template: Template, role_prefix: str) -> set:
    """(action, resource, condition) triples of a role's policy, however CDK merged them
    (cdk.json's @aws-cdk/aws-iam:minimizePolicies merges statements)."""
    policies = template.find_resources("AWS::IAM::Policy")
    (policy,) = [p for k, p in policies.items() if k.startswith(role_prefix)]
    triples = set()
    for st in policy["Properties"]["PolicyDocument"]["Statement"]:
        assert st["Effect"] == "Allow"
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for action in actions:
            for resource in resources:
                triples.add((action, json.dumps(resource), json.dumps(st.get("Condition"))))
    return triples


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


def _bucket_id(template: Template) -> str:
    (logical_id,) = template.find_resources("AWS::S3::Bucket")
    return logical_id


def test_grants_are_exactly_get_list_for_read_and_put_for_read_write_on_the_prefix():
    stack = _stack()
    cache = RustBuildCache(stack, "Cache", prefix="team/rust")
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    writer = iam.Role(stack, "Writer", assumed_by=iam.AccountRootPrincipal())
    cache.grant_read(reader)
    cache.grant_read_write(writer)
    t = Template.from_stack(stack)
    bucket_arn = json.dumps({"Fn::GetAtt": [_bucket_id(t), "Arn"]})
    objects = json.dumps(
        {"Fn::Join": ["", [{"Fn::GetAtt": [_bucket_id(t), "Arn"]}, "/team/rust/*"]]}
    )
    listing = (
        "s3:ListBucket",
        bucket_arn,
        json.dumps({"StringLike": {"s3:prefix": ["team/rust/*"]}}),
    )
    get = ("s3:GetObject", objects, "null")
    put = ("s3:PutObject", objects, "null")
    assert _grants(t, "ReaderDefaultPolicy") == {get, listing}
    assert _grants(t, "WriterDefaultPolicy") == {get, listing, put}
    assert cache.prefix == "team/rust"


@pytest.mark.parametrize("prefix", ["", "/lead", "trail/", "a//b", "a/../b", "..", "sp ace"])
def test_bad_prefix_is_rejected_with_the_fix(prefix):
    with pytest.raises(ConfigurationError, match=r"(?s)\[Cache/Bad\] prefix=.*Fix:"):
        RustBuildCache(_stack(), "Bad", prefix=prefix)


def test_sub_day_expiration_is_rejected():
    with pytest.raises(ConfigurationError, match="expiration"):
        RustBuildCache(_stack(), "Bad", expiration=cdk.Duration.hours(3))


def test_cdk_nag_s1_is_suppressed_only_without_an_access_log_bucket():
    # Errors as annotations to inspect (with cdk.json's flag they would fail the synth).
    app = skip_bundling_app(**{"@aws-cdk/core:annotationsInValidationReport": False})
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
