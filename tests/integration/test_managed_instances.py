"""Lambda Managed Instances and response streaming, proven locally on the example app's builds.

- sleeper built with its ``concurrent`` feature (lambda_runtime's ``run_concurrent``) overlaps N
  requests sent at once to ONE process started with ``AWS_LAMBDA_MAX_CONCURRENCY=N``, as Lambda
  runs it on a capacity provider: the wall time of N sleeping invokes is about one sleep. The
  same crate without the feature serves them one after another: N sleeps.
- stream_chunks' body reaches the caller in pieces, each when the function wrote it.
- the concurrency warning, from the graphs of real builds.

Timings print with ``-s``; the machine may be shared, so bounds are loose where loose is enough
to tell overlap (≈1 sleep) from serialisation (N sleeps)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Annotations, Match

from constructs_rust import BundlingOptions, RustFunction
from constructs_rust._construct.managed_instances import SEQUENTIAL_WARNING
from constructs_rust.testing import EmulationUnavailable, bootstrap_path

from ..conftest import LAMBDAS

pytestmark = [pytest.mark.build, pytest.mark.invoke]

N = 8
SLEEP_MS = 500


def _concurrently(emulator, fn, n=N, ms=SLEEP_MS):
    try:
        return emulator.invoke_concurrently(
            bootstrap_path(fn),
            [{"ms": ms}] * n,
            max_concurrency=n,
            architecture=fn.architecture.name,
        )
    except EmulationUnavailable as exc:
        pytest.skip(str(exc))


def test_concurrent_build_overlaps_n_requests_and_plain_build_serialises_them(stack_of, emulator):
    stack = stack_of("ManagedInstancesStack")
    concurrent = _concurrently(emulator, stack.concurrent)
    sequential = _concurrently(emulator, stack.sequential)
    sleep = SLEEP_MS / 1000
    print(
        f"\nN={N} invokes of {SLEEP_MS} ms at once, AWS_LAMBDA_MAX_CONCURRENCY={N}: "
        f"concurrent build wall {concurrent.wall_seconds:.3f} s, "
        f"plain build wall {sequential.wall_seconds:.3f} s"
    )
    assert [r.payload for r in concurrent.results] == [
        {"slept_ms": SLEEP_MS, "concurrent": True}
    ] * N
    assert [r.payload for r in sequential.results] == [
        {"slept_ms": SLEEP_MS, "concurrent": False}
    ] * N
    # Overlap: about one sleep (well under two) for N requests.
    assert sleep <= concurrent.wall_seconds < 2 * sleep
    assert all(r.invoke_seconds < 2 * sleep for r in concurrent.results)
    # Serialised: N sleeps, the i-th answer after i sleeps.
    assert sequential.wall_seconds >= N * sleep * 0.95
    waits = sorted(r.invoke_seconds for r in sequential.results)
    assert waits[-1] >= N * sleep * 0.95 and waits[0] < 2 * sleep


def test_concurrent_build_without_max_concurrency_falls_back_to_one_at_a_time(stack_of, emulator):
    """run_concurrent with AWS_LAMBDA_MAX_CONCURRENCY=1 (classic Lambda's one request per
    environment) is sequential: the same binary runs on both."""
    fn = stack_of("ManagedInstancesStack").concurrent
    result = _concurrently(emulator, fn, n=3, ms=300)
    result_one = emulator.invoke_concurrently(
        bootstrap_path(fn),
        [{"ms": 300}] * 3,
        max_concurrency=1,
        architecture=fn.architecture.name,
    )
    print(
        f"\nN=3 x 300 ms: max_concurrency=3 wall {result.wall_seconds:.3f} s, "
        f"max_concurrency=1 wall {result_one.wall_seconds:.3f} s"
    )
    assert result.wall_seconds < 0.6
    assert result_one.wall_seconds >= 0.85


def test_stream_chunks_arrive_one_by_one_as_written(stack_of, emulator):
    fn = stack_of("StreamingStack").function
    try:
        result = emulator.invoke_streaming(
            bootstrap_path(fn),
            {"chunks": 5, "interval_ms": 300},
            architecture=fn.architecture.name,
        )
    except EmulationUnavailable as exc:
        pytest.skip(str(exc))
    print("\nstream_chunks pieces:", [(round(c.seconds, 3), c.data) for c in result.chunks])
    assert result.streamed
    assert result.body == b"".join(f"chunk {i} of 5\n".encode() for i in range(1, 6))
    assert [c.data for c in result.chunks] == [f"chunk {i} of 5\n".encode() for i in range(1, 6)]
    gaps = [
        b.seconds - a.seconds for a, b in zip(result.chunks[:-1], result.chunks[1:], strict=True)
    ]
    # Written 300 ms apart; a buffered body would come in one piece (or pieces µs apart).
    assert all(gap >= 0.15 for gap in gaps), gaps
    assert result.chunks[0].seconds < result.chunks[-1].seconds - 1.0


def test_a_buffered_function_arrives_whole(stack_of, emulator):
    fn = stack_of("EchoStack").function
    result = emulator.invoke_streaming(
        bootstrap_path(fn), {"message": "hi"}, architecture=fn.architecture.name
    )
    assert not result.streamed
    assert result.body == b'{"echo":"hi hi hi"}'


def _warnings(stack):
    return Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp(SEQUENTIAL_WARNING)
    )


def test_example_stack_has_no_concurrency_warning(stack_of):
    assert _warnings(stack_of("ManagedInstancesStack")) == []


def test_plain_build_attached_to_a_capacity_provider_is_warned(stack_of, tmp_path):
    """Real bundling (the example app's builds are reused: no compile): the warning comes from
    the graph of the build each function gets."""
    stack_of("ManagedInstancesStack")  # the example builds exist
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path / "cdk.out")), "Attached")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=1,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="I", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    provider = lambda_.CapacityProvider(
        stack,
        "Provider",
        subnets=vpc.isolated_subnets,
        security_groups=[ec2.SecurityGroup(stack, "Sg", vpc=vpc)],
        architectures=[lambda_.Architecture.ARM_64],
    )
    sleeper = str(LAMBDAS / "sleeper")
    plain = RustFunction(stack, "Plain", manifest_path=sleeper)
    concurrent = RustFunction(
        stack,
        "Concurrent",
        manifest_path=sleeper,
        bundling=BundlingOptions(features=["concurrent"]),
    )
    provider.add_function(plain)
    provider.add_function(concurrent)
    warned = _warnings(stack)
    assert [w.id for w in warned] == ["/Attached/Plain"]
    assert "`concurrency-tokio`" in warned[0].entry.data
