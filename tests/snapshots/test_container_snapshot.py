"""Snapshot of the example ContainerStack (bundling skipped, asset hashes normalised)."""

import pytest
from aws_cdk.assertions import Template
from syrupy.extensions.json import JSONSnapshotExtension

from stacks.container import KEEP_IMAGES, ContainerStack

from ..conftest import normalize_template, skip_bundling_app


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_container_stack_snapshot(json_snapshot):
    stack = ContainerStack(skip_bundling_app(), "ContainerStack")
    assert normalize_template(Template.from_stack(stack).to_json()) == json_snapshot


def test_container_stack_shape():
    stack = ContainerStack(skip_bundling_app(), "ContainerStack")
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::Lambda::Function", 1)
    t.has_resource_properties(
        "AWS::Lambda::Function", {"PackageType": "Image", "Architectures": ["arm64"]}
    )
    t.has_resource_properties("AWS::Lambda::Url", {"AuthType": "AWS_IAM"})
    t.has_output("HelloHttpImageUrl", {})
    t.has_output("ImagesRepositoryUri", {})
    rules = t.find_resources("AWS::ECR::Repository")
    (repo,) = rules.values()
    policy = repo["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"]
    assert f'"countNumber":{KEEP_IMAGES}' in policy and '"countType":"imageCountMoreThan"' in policy


def test_container_stack_uses_the_repository_when_a_tag_is_given():
    stack = ContainerStack(skip_bundling_app(image_tag="v7"), "ContainerStack")
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::Lambda::Function", 2)
    (repo_id,) = t.find_resources("AWS::ECR::Repository")
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {"PackageType": "Image", "Description": "hello_http from Images:v7"},
    )
    fn = stack.ecr_function
    assert fn is not None and fn.image_asset is None
    uri = str(stack.resolve(fn.node.default_child.code)["imageUri"])
    assert repo_id in uri and ":v7" in uri
