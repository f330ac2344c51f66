"""``local``'s concurrency model without processes (#43): a Managed Instances function's
``PerExecutionEnvironmentMaxConcurrency`` read from the template and given to the runtime, the
pool counting slots (N events per environment), reserved concurrency throttling, and the
``LogType=Tail`` log."""

from __future__ import annotations

import base64
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List

import pytest

from constructs_rust.local import pool as pool_module
from constructs_rust.local.logtail import TAIL_LIMIT, invocation_log, log_result
from constructs_rust.local.model import LocalFunction, max_concurrency_of
from constructs_rust.local.pool import FunctionPool, Throttled
from constructs_rust.local.process import environment_of


def _function(**settings) -> LocalFunction:
    values = dict(
        path="S/Fn",
        logical_id="Fn",
        stack="S",
        asset_dir=Path("/nonexistent"),
        architecture="x86_64",
        memory_size=2048,
        timeout=3,
        runtime="provided.al2023",
        environment={"A": "1"},
        unresolved={},
    )
    values.update(settings)
    return LocalFunction(**values)


def test_max_concurrency_from_the_capacity_provider_config():
    config = {
        "LambdaManagedInstancesCapacityProviderConfig": {
            "CapacityProviderArn": {"Fn::GetAtt": ["Provider", "Arn"]},
            "PerExecutionEnvironmentMaxConcurrency": 8,
        }
    }
    assert max_concurrency_of(config) == 8
    unset = {"LambdaManagedInstancesCapacityProviderConfig": {"CapacityProviderArn": "arn"}}
    assert max_concurrency_of(unset) == 1
    assert max_concurrency_of(None) is None
    assert (
        max_concurrency_of(
            {
                "LambdaManagedInstancesCapacityProviderConfig": {
                    "PerExecutionEnvironmentMaxConcurrency": {"Ref": "P"}
                }
            }
        )
        is None
    )


def test_the_runtime_is_told_its_max_concurrency_as_lambda_tells_it():
    assert "AWS_LAMBDA_MAX_CONCURRENCY" not in environment_of(_function(), {})
    env = environment_of(_function(max_concurrency=8), {})
    assert env == {"A": "1", "AWS_LAMBDA_MAX_CONCURRENCY": "8"}
    assert (
        environment_of(_function(max_concurrency=8), {"AWS_LAMBDA_MAX_CONCURRENCY": "2"})[
            "AWS_LAMBDA_MAX_CONCURRENCY"
        ]
        == "2"
    )


class _Fake:
    """A FunctionProcess that answers after ``hold`` is set, counting its events at once."""

    started: List["_Fake"] = []
    hold = threading.Event()

    def __init__(self, function, overrides, log) -> None:
        self.function = function
        self.now = 0
        self.most = 0
        self.stopped = False
        _Fake.started.append(self)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.stopped = True

    shutdown = stop

    @contextmanager
    def invoke(self, body: bytes) -> Iterator[str]:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            _Fake.hold.wait(5)
            yield "answer"
        finally:
            self.now -= 1


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(pool_module, "FunctionProcess", _Fake)
    _Fake.started = []
    _Fake.hold = threading.Event()
    return _Fake


def _burst(pool: FunctionPool, count: int, wait: bool = False) -> List[threading.Thread]:
    def one() -> None:
        try:
            with pool.invoke(b"{}", wait=wait):
                pass
        except Throttled:
            pass

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def _settle(pool: FunctionPool, events: int) -> None:
    deadline = time.monotonic() + 5
    while sum(p.now for p in _Fake.started) < events:
        assert time.monotonic() < deadline, [p.now for p in _Fake.started]
        time.sleep(0.01)


def test_a_managed_instances_environment_takes_n_events(fake):
    pool = FunctionPool(_function(max_concurrency=4), {}, lambda label: print, concurrency=1)
    pool.start()
    threads = _burst(pool, 5)
    _settle(pool, 4)
    time.sleep(0.1)
    # one environment (the limit), four events in it, the fifth waiting for a slot
    assert len(fake.started) == 1 and fake.started[0].now == 4
    fake.hold.set()
    for thread in threads:
        thread.join(5)
    assert fake.started[0].most == 4 and len(fake.started) == 1


def test_past_one_environments_slots_a_second_one_starts(fake):
    pool = FunctionPool(_function(max_concurrency=4), {}, lambda label: print)
    pool.start()
    threads = _burst(pool, 6)
    _settle(pool, 6)
    assert sorted(p.now for p in fake.started) == [2, 4]
    fake.hold.set()
    for thread in threads:
        thread.join(5)


def test_classic_functions_get_one_event_per_environment(fake):
    pool = FunctionPool(_function(), {}, lambda label: print, concurrency=3)
    threads = _burst(pool, 3)
    _settle(pool, 3)
    assert [p.now for p in fake.started] == [1, 1, 1]
    fake.hold.set()
    for thread in threads:
        thread.join(5)


def test_reserved_concurrency_throttles_and_event_invokes_wait(fake):
    pool = FunctionPool(_function(reserved_concurrency=2), {}, lambda label: print)
    threads = _burst(pool, 2)
    _settle(pool, 2)
    with pytest.raises(Throttled, match=r"reserved concurrency \(2\) is in use"):
        with pool.invoke(b"{}"):
            pass
    queued = _burst(pool, 1, wait=True)  # waits for a slot instead
    time.sleep(0.1)
    assert queued[0].is_alive() and len(fake.started) == 2
    fake.hold.set()
    for thread in threads + queued:
        thread.join(5)
        assert not thread.is_alive()


def test_reserved_concurrency_counts_events_on_managed_instances(fake):
    pool = FunctionPool(
        _function(reserved_concurrency=3, max_concurrency=2), {}, lambda label: print
    )
    assert (pool.limit, pool.slots) == (2, 3)
    threads = _burst(pool, 3)
    _settle(pool, 3)
    with pytest.raises(Throttled):
        with pool.invoke(b"{}"):
            pass
    fake.hold.set()
    for thread in threads:
        thread.join(5)


def test_log_tail_is_the_last_4_kb_between_start_and_report():
    log = invocation_log("r-1", ["one", "two"], 0.0123, 256)
    lines = log.splitlines()
    assert lines[0] == "START RequestId: r-1 Version: $LATEST"
    assert lines[1:3] == ["one", "two"] and lines[3] == "END RequestId: r-1"
    assert lines[4].startswith("REPORT RequestId: r-1\tDuration: 12.30 ms\tBilled Duration: 13 ms")
    assert base64.b64decode(log_result(log)).decode() == log
    long = invocation_log("r-2", ["x" * 100] * 100, 1.0, 128)
    tail = base64.b64decode(log_result(long))
    assert len(tail) == TAIL_LIMIT and long.encode().endswith(tail)
