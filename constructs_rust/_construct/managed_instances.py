"""Lambda Managed Instances: a Rust function attached to a capacity provider.

aws-cdk-lib attaches a function with ``CapacityProvider.add_function(fn, ...)``, after the
function exists: it sets the function's ``CapacityProviderConfig`` (and nothing else). So the
construct checks at synth, when every ``add_function`` has run, through an aspect (memory
default, warning) and a validation (errors) on the function:

- memory: Managed Instances run functions of at least 2 GB and one vCPU, memory per vCPU
  being ``execution_environment_memory_gib_per_v_cpu`` (2 to 8 GiB, default 2). A function
  whose ``memory_size`` the user left to the construct gets the smallest valid size
  (``max(2048, ratio × 1024)`` MB) instead of the construct's 256 MB; one the user set too
  small is a synth error naming the minimum.
- runtime and architecture: Rust runs there on ``provided.al2023`` only, on instances of the
  provider's one architecture (``x86_64`` unless the provider's ``architectures`` says
  otherwise), while RustFunction builds for ``ARM_64`` by default: a mismatch is a synth error
  (the binary could not run on the provider's instances).
- concurrency: Lambda sends up to ``PerExecutionEnvironmentMaxConcurrency`` requests at once to
  each execution environment and sets ``AWS_LAMBDA_MAX_CONCURRENCY``; a Rust binary serves
  them concurrently only through ``lambda_runtime::run_concurrent`` (or lambda_http's), which
  exists when lambda_runtime's ``concurrency-tokio`` feature is compiled in. The binary's
  resolved dependency graph says whether it is: when not, a ``constructs_rust:
  managed-instances-sequential`` warning names the feature. The feature is necessary, not
  sufficient (a binary with it can still call ``run``); the graph cannot see which function
  ``main`` calls. With bundling skipped (``cdk synth -e OtherStack``, the
  ``aws:cdk:bundling-stacks`` context ``[]``) there is no graph and nothing is said: the
  synth that bundles the stack checks it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Optional

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct, IValidation

from .._cargo.depgraph import Graph

#: The crate whose feature enables concurrent request handling, and that feature.
CONCURRENT_RUNTIME_CRATE = "lambda_runtime"
CONCURRENT_RUNTIME_FEATURE = "concurrency-tokio"

#: Smallest function Managed Instances run: 2 GB and one vCPU.
MIN_MEMORY_MB = 2048
#: ``execution_environment_memory_gib_per_v_cpu`` when the attachment does not say.
DEFAULT_GIB_PER_VCPU = 2.0
#: Architecture of a capacity provider whose ``InstanceRequirements`` name none.
DEFAULT_PROVIDER_ARCHITECTURE = "x86_64"
#: The only runtime on which Managed Instances run Rust.
SUPPORTED_RUNTIME = "provided.al2023"

SEQUENTIAL_WARNING = "constructs_rust:managed-instances-sequential"


@dataclass(frozen=True)
class Attachment:
    """What ``CapacityProvider.add_function`` (or an escape hatch) put on the function."""

    arn: Any
    """The provider's ARN (a token for a provider of the app)."""
    gib_per_vcpu: Optional[float]
    """``ExecutionEnvironmentMemoryGiBPerVCpu``; None when unset or a token."""
    max_concurrency: Optional[int]
    """``PerExecutionEnvironmentMaxConcurrency``; None when unset or a token."""


def _field(value: Any, *names: str) -> Any:
    """A field of a jsii struct or of the equivalent dict (either spelling)."""
    for name in names:
        if isinstance(value, dict):
            if name in value:
                return value[name]
        elif hasattr(value, name):
            return getattr(value, name)
    return None


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if cdk.Token.is_unresolved(value) else float(value)


def attachment(fn: lambda_.Function) -> Optional[Attachment]:
    """The function's capacity provider attachment; None when it has none."""
    resource = fn.node.default_child
    if not isinstance(resource, lambda_.CfnFunction):
        return None
    config = resource.capacity_provider_config
    if config is None:
        return None
    inner = _field(
        config,
        "lambda_managed_instances_capacity_provider_config",
        "lambdaManagedInstancesCapacityProviderConfig",
        "LambdaManagedInstancesCapacityProviderConfig",
    )
    if inner is None:
        return None
    ratio = _number(
        _field(
            inner,
            "execution_environment_memory_gib_per_v_cpu",
            "executionEnvironmentMemoryGiBPerVCpu",
            "ExecutionEnvironmentMemoryGiBPerVCpu",
        )
    )
    concurrency = _number(
        _field(
            inner,
            "per_execution_environment_max_concurrency",
            "perExecutionEnvironmentMaxConcurrency",
            "PerExecutionEnvironmentMaxConcurrency",
        )
    )
    return Attachment(
        arn=_field(inner, "capacity_provider_arn", "capacityProviderArn", "CapacityProviderArn"),
        gib_per_vcpu=ratio,
        max_concurrency=None if concurrency is None else int(concurrency),
    )


def minimum_memory_mb(gib_per_vcpu: Optional[float]) -> int:
    """The smallest ``memory_size`` Managed Instances run: one vCPU's worth, at least 2 GB."""
    ratio = DEFAULT_GIB_PER_VCPU if gib_per_vcpu is None else gib_per_vcpu
    return max(MIN_MEMORY_MB, math.ceil(ratio * 1024))


def concurrent_runtime(graph: Graph) -> Optional[bool]:
    """Whether the binary's lambda_runtime is compiled with ``concurrency-tokio``: True or
    False, or None when the graph has no lambda_runtime (another runtime crate; no verdict)."""
    found = [n for n in graph.nodes if n.name == CONCURRENT_RUNTIME_CRATE and not n.proc_macro]
    if not found:
        return None
    return any(CONCURRENT_RUNTIME_FEATURE in n.features.split(",") for n in found)


def sequential_warning(construct_path: str, graph: Graph) -> Optional[str]:
    """The warning for a binary attached to a capacity provider that cannot serve requests
    concurrently (None when it can, or when the graph gives no verdict)."""
    if concurrent_runtime(graph) is not False:
        return None
    versions = sorted({n.version for n in graph.nodes if n.name == CONCURRENT_RUNTIME_CRATE})
    return (
        f"{construct_path} is attached to a capacity provider (Lambda Managed Instances), which "
        "sends it several requests at once, but its binary is built without "
        f"{CONCURRENT_RUNTIME_CRATE}'s `{CONCURRENT_RUNTIME_FEATURE}` feature "
        f"({CONCURRENT_RUNTIME_CRATE} {', '.join(versions)}): it serves one request at a time "
        "on an environment sized for many. Enable it (Cargo.toml: lambda_runtime = { version = "
        f'"1", features = ["{CONCURRENT_RUNTIME_FEATURE}"] }}, or lambda_http\'s feature of the '
        "same name, or a feature of your crate passed as BundlingOptions(features=[...])) and "
        "serve with lambda_runtime::run_concurrent (lambda_http::run_concurrent); handlers "
        "must be Clone + Send."
    )


def provider_architecture(scope: IConstruct, arn: Any) -> Optional[str]:
    """The architecture of the app's capacity provider whose ARN is ``arn`` (``x86_64`` when
    it names none); None for a provider from outside the app (imported by ARN or name)."""
    for node in scope.node.root.node.find_all():
        if not isinstance(node, lambda_.CapacityProvider):
            continue
        if node.capacity_provider_arn != arn:
            continue
        resource = node.node.default_child
        if not isinstance(resource, lambda_.CfnCapacityProvider):
            return None
        requirements = resource.instance_requirements
        names = _field(requirements, "architectures", "Architectures") if requirements else None
        if isinstance(names, list) and names and isinstance(names[0], str):
            return str(names[0])
        return DEFAULT_PROVIDER_ARCHITECTURE
    return None


@jsii.implements(cdk.IAspect)
class _ManagedInstancesDefaults:
    """Before the template is written: the memory default and the concurrency warning."""

    def __init__(self, fn: lambda_.Function, *, memory_given: bool, graph: Optional[Graph]) -> None:
        self._fn = fn
        self._memory_given = memory_given
        self._graph = graph
        self._done = False

    def visit(self, node: IConstruct) -> None:
        if node is not self._fn or self._done:
            return
        found = attachment(self._fn)
        if found is None:
            return
        self._done = True
        resource = self._fn.node.default_child
        assert isinstance(resource, lambda_.CfnFunction)
        if not self._memory_given:
            resource.memory_size = minimum_memory_mb(found.gib_per_vcpu)
        if self._graph is not None:
            message = sequential_warning(self._fn.node.path, self._graph)
            if message is not None:
                cdk.Annotations.of(self._fn).add_warning_v2(SEQUENTIAL_WARNING, message)


@jsii.implements(IValidation)
class _ManagedInstancesValidation:
    """At synth: what would make the attached function undeployable or unrunnable."""

    def __init__(self, fn: lambda_.Function) -> None:
        self._fn = fn

    def validate(self) -> List[str]:
        fn = self._fn
        found = attachment(fn)
        if found is None:
            return []
        resource = fn.node.default_child
        assert isinstance(resource, lambda_.CfnFunction)
        errors: List[str] = []
        path = fn.node.path
        memory = _number(resource.memory_size)
        minimum = minimum_memory_mb(found.gib_per_vcpu)
        if memory is not None and memory < minimum:
            ratio = found.gib_per_vcpu or DEFAULT_GIB_PER_VCPU
            errors.append(
                f"[{path}] memory_size={int(memory)}: Lambda Managed Instances run functions "
                f"of at least {MIN_MEMORY_MB} MB and one vCPU ({ratio:g} GiB per vCPU here)"
                f"\n  Fix: set memory_size to {minimum} or more, or leave it unset (the "
                "construct then picks the smallest valid size)"
            )
        runtime = resource.runtime
        if (
            isinstance(runtime, str)
            and runtime.startswith("provided")
            and (runtime != SUPPORTED_RUNTIME)
        ):
            errors.append(
                f"[{path}] runtime={runtime!r}: Lambda Managed Instances run Rust on "
                f"{SUPPORTED_RUNTIME} only\n  Fix: drop runtime (the default is "
                f"{SUPPORTED_RUNTIME})"
            )
        wanted = provider_architecture(fn, found.arn)
        own = fn.architecture.name
        if wanted is not None and wanted != own:
            errors.append(
                f"[{path}] architecture={own!r}: the capacity provider runs {wanted} instances "
                "(x86_64 unless its `architectures` names another), so this binary could not "
                "run there\n  Fix: give the CapacityProvider architectures=["
                f"lambda_.Architecture.{'ARM_64' if own == 'arm64' else 'X86_64'}], or the "
                f"function architecture=lambda_.Architecture."
                f"{'ARM_64' if wanted == 'arm64' else 'X86_64'}"
            )
        return errors


def check_capacity_provider(
    fn: lambda_.Function, *, memory_given: bool, graph: Optional[Graph]
) -> None:
    """Check ``fn`` at synth if it is attached to a capacity provider by then.

    ``memory_given``: the user passed ``memory_size`` (else the construct may raise it).
    ``graph``: the binary's resolved dependency graph, None when bundling was skipped."""
    cdk.Aspects.of(fn).add(_ManagedInstancesDefaults(fn, memory_given=memory_given, graph=graph))
    fn.node.add_validation(_ManagedInstancesValidation(fn))
