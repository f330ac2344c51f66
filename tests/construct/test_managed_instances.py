"""RustFunction on a capacity provider (Lambda Managed Instances): memory default, synth errors,
and the concurrency warning from the binary's resolved dependency graph.

Bundling is skipped for the templates (no cargo build); the graphs come from ``cargo tree``
over the example workspace (resolution only, offline, no compilation)."""

from __future__ import annotations

import shutil
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Annotations, Match, Template

from constructs_rust import RustDockerImageFunction, RustFunction
from constructs_rust._cargo import depgraph
from constructs_rust._cargo import metadata as cargo
from constructs_rust._cargo.depgraph import Graph, Node
from constructs_rust._construct.managed_instances import (
    SEQUENTIAL_WARNING,
    check_capacity_provider,
    concurrent_runtime,
    minimum_memory_mb,
    sequential_warning,
)

from ..conftest import LAMBDAS, skip_bundling_app

TRIPLE = "aarch64-unknown-linux-gnu"


def _stack():
    return cdk.Stack(skip_bundling_app(), "S")


def _provider(stack, id="Provider", **props):
    vpc = stack.node.try_find_child("Vpc") or ec2.Vpc(
        stack,
        "Vpc",
        max_azs=1,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="I", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    group = ec2.SecurityGroup(stack, f"{id}Sg", vpc=vpc)
    return lambda_.CapacityProvider(
        stack, id, subnets=vpc.isolated_subnets, security_groups=[group], **props
    )


def _function(stack, id="Fn", **props):
    return RustFunction(stack, id, manifest_path=str(LAMBDAS / "sleeper"), **props)


def _memory(stack, fn):
    resources = Template.from_stack(stack).to_json()["Resources"]
    return resources[stack.get_logical_id(fn.node.default_child)]["Properties"]["MemorySize"]


def _synth_errors(stack) -> str:
    with pytest.raises(Exception) as info:
        Template.from_stack(stack)
    return str(info.value)


# --- memory ---------------------------------------------------------------------------------


def test_memory_default_is_the_smallest_managed_instances_size_once_attached():
    stack = _stack()
    provider = _provider(stack, architectures=[lambda_.Architecture.ARM_64])
    attached, alone = _function(stack), _function(stack, "Alone")
    provider.add_function(attached)
    assert _memory(stack, attached) == 2048, "2 GB and one vCPU at the default 2 GiB per vCPU"
    assert _memory(stack, alone) == 256, "classic Lambda keeps the construct's default"


@pytest.mark.parametrize(("ratio", "expected"), [(2, 2048), (4, 4096), (8, 8192), (2.5, 2560)])
def test_memory_default_follows_memory_per_vcpu(ratio, expected):
    stack = _stack()
    provider = _provider(stack, architectures=[lambda_.Architecture.ARM_64])
    fn = _function(stack)
    provider.add_function(fn, execution_environment_memory_gib_per_v_cpu=ratio)
    assert _memory(stack, fn) == expected
    assert minimum_memory_mb(ratio) == expected


def test_memory_given_too_small_is_a_synth_error_naming_the_minimum():
    stack = _stack()
    provider = _provider(stack, architectures=[lambda_.Architecture.ARM_64])
    fn = _function(stack, memory_size=1024)
    provider.add_function(fn, execution_environment_memory_gib_per_v_cpu=4)
    message = _synth_errors(stack)
    assert "[S/Fn] memory_size=1024" in message
    assert "set memory_size to 4096 or more" in message


def test_memory_given_large_enough_is_kept():
    stack = _stack()
    provider = _provider(stack, architectures=[lambda_.Architecture.ARM_64])
    fn = _function(stack, memory_size=6144)
    provider.add_function(fn, execution_environment_memory_gib_per_v_cpu=2)
    assert _memory(stack, fn) == 6144


# --- architecture and runtime ---------------------------------------------------------------


def test_provider_of_another_architecture_is_a_synth_error():
    stack = _stack()
    provider = _provider(stack)  # x86_64: the provider's default
    provider.add_function(_function(stack))  # arm64: the construct's default
    message = _synth_errors(stack)
    assert "[S/Fn] architecture='arm64'" in message
    assert "runs x86_64 instances" in message
    assert "architectures=[lambda_.Architecture.ARM_64]" in message


def test_x86_function_on_a_default_provider_synthesizes():
    stack = _stack()
    provider = _provider(stack)
    fn = _function(stack, architecture=lambda_.Architecture.X86_64)
    provider.add_function(fn)
    assert _memory(stack, fn) == 2048


def test_imported_provider_has_no_architecture_to_check():
    stack = _stack()
    fn = _function(stack)
    # A provider from outside the app, attached through the escape hatch (a plain dict).
    fn.node.default_child.capacity_provider_config = {
        "lambdaManagedInstancesCapacityProviderConfig": {
            "capacityProviderArn": "arn:aws:lambda:us-east-1:123456789012:capacity-provider:x",
            "executionEnvironmentMemoryGiBPerVCpu": 4,
        }
    }
    assert _memory(stack, fn) == 4096


def test_provided_al2_is_a_synth_error_on_a_capacity_provider():
    stack = _stack()
    provider = _provider(stack, architectures=[lambda_.Architecture.ARM_64])
    fn = _function(stack, runtime=lambda_.Runtime.PROVIDED_AL2, acknowledge_deprecated_runtime=True)
    provider.add_function(fn)
    message = _synth_errors(stack)
    assert "runtime='provided.al2'" in message and "provided.al2023 only" in message


def test_container_function_gets_the_memory_default_too():
    stack = _stack()
    provider = _provider(stack, architectures=[lambda_.Architecture.ARM_64])
    fn = RustDockerImageFunction(stack, "Image", manifest_path=str(LAMBDAS / "sleeper"))
    provider.add_function(fn)
    assert _memory(stack, fn) == 2048


# --- the concurrency warning ----------------------------------------------------------------


def _graph(name="lambda_runtime", features="default,tracing") -> Graph:
    return Graph(
        nodes=(
            Node("tokio", "1.54.1", "crates.io", "rt", False, None),
            Node(name, "1.5.0", "crates.io", features, False, None),
        )
    )


def test_concurrent_runtime_reads_lambda_runtime_features():
    assert concurrent_runtime(_graph(features="concurrency-tokio,default,tracing")) is True
    assert concurrent_runtime(_graph(features="default,tracing")) is False
    assert concurrent_runtime(_graph(name="some_other_runtime")) is None


def test_warning_names_the_feature_and_the_api():
    message = sequential_warning("S/Fn", _graph())
    assert message is not None
    assert "`concurrency-tokio`" in message and "lambda_runtime 1.5.0" in message
    assert "run_concurrent" in message and "S/Fn" in message
    assert sequential_warning("S/Fn", _graph(features="concurrency-tokio")) is None


def _warnings(stack):
    return Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp(SEQUENTIAL_WARNING)
    )


def _attached_function(graph, *, attach=True):
    stack = _stack()
    provider = _provider(stack)
    fn = lambda_.Function(
        stack,
        "Plain",
        code=lambda_.Code.from_inline("x"),
        handler="index.handler",
        runtime=lambda_.Runtime.PYTHON_3_13,  # any function: the check reads only the graph
        memory_size=2048,
    )
    check_capacity_provider(fn, memory_given=True, graph=graph)
    if attach:
        provider.add_function(fn)
    return stack


def _workspace_graph(root: Path, package: str, features=()):
    workspace = cargo.load_workspace(root / "Cargo.toml")
    (pkg,) = [p for p in workspace.packages if p.name == package]
    return depgraph.dependency_graph(workspace, pkg, triple=TRIPLE, features=features)


def test_warning_from_the_example_crates_resolved_graph():
    """sleeper without its `concurrent` feature: warned; with it: not (cargo tree, no build)."""
    plain = _workspace_graph(LAMBDAS, "sleeper")
    concurrent = _workspace_graph(LAMBDAS, "sleeper", features=("concurrent",))
    warned = _warnings(_attached_function(plain))
    assert len(warned) == 1
    assert "concurrency-tokio" in warned[0].entry.data
    assert _warnings(_attached_function(concurrent)) == []
    assert _warnings(_attached_function(plain, attach=False)) == [], "only when attached"
    assert _warnings(_attached_function(None)) == [], "no graph (bundling skipped): silent"


def test_lambda_http_feature_enables_the_runtime_feature_in_the_graph(tmp_path):
    """A user crate turning on lambda_http's `concurrency-tokio` (not lambda_runtime's by
    name): cargo unifies it into lambda_runtime, and the graph shows it."""
    root = tmp_path / "lambdas"
    shutil.copytree(LAMBDAS, root, ignore=shutil.ignore_patterns("target"))
    manifest = root / "hello_http" / "Cargo.toml"
    manifest.write_text(
        manifest.read_text().replace(
            "lambda_http.workspace = true",
            'lambda_http = { workspace = true, features = ["concurrency-tokio"] }',
        )
    )
    graph = _workspace_graph(root, "hello_http")
    assert concurrent_runtime(graph) is True
    assert concurrent_runtime(_workspace_graph(LAMBDAS, "hello_http")) is False


def test_rust_function_with_bundling_skipped_says_nothing():
    stack = _stack()
    provider = _provider(stack, architectures=[lambda_.Architecture.ARM_64])
    provider.add_function(_function(stack))
    assert _warnings(stack) == []
