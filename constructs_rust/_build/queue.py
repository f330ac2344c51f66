"""The build queue: one cargo-lambda run per workspace group, cached by fingerprint.

How it fits CDK. CDK stages an asset while the construct is created, before later functions
exist, so building there would mean one cargo run per function. Instead the asset's local
bundler only leaves a placeholder and the function registers a ``BuildRequest``; the build
runs when the app is synthesized (a construct validation, which CDK runs once every construct
exists). The first validation builds every pending request of the app: requests that share
(workspace, target, profile, features, flags, environment, hooks, local/Docker) are compiled
by ONE ``cargo lambda build`` with several ``--bin``. Only functions of stacks that need
bundling register requests, so ``cdk synth -e OneStack`` builds only that stack's binaries.

Outputs are stored in ``<target-dir>/constructs-rust/artifacts/<fingerprint>/`` (written to a
temp dir and renamed, under a file lock), so a later synth, or one after ``rm -rf cdk.out``,
copies the cached bootstrap and runs no cargo at all.

This module holds the queue (grouping, batching, the plan-time cold build, staging after a
build, the team cache's fetch and upload); one cargo run is ``run.build_batch``, its argv
``invoke``, its failure ``failure``, staging ``stage``.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from .._cargo.depgraph import conflicts
from .._fingerprint import record as fingerprint_record
from .._fingerprint.record import Record
from .._store import remote
from .._store.remote import RemoteCache
from .._support import log, session
from .._support.locks import locked
from ..errors import ConstructsRustError
from .failure import BuildFailed, build_failure
from .request import BuildRequest, GroupKey, artifact_dir, workspace_build_dir
from .run import build_batch


def _fits(request: BuildRequest, batch: Sequence[BuildRequest]) -> bool:
    """May ``request`` share one cargo run with ``batch``? Not when a binary name repeats
    (outputs are per name), and not when cargo would unify a dependency's features across
    their packages: each binary must get exactly the bytes it gets when built alone."""
    for other in batch:
        if other.binary == request.binary:
            return False
        if request.unified or other.package.name == request.package.name:
            continue  # one resolve for the whole workspace (or one package): nothing to unify
        if conflicts(request.graph, other.graph):
            return False
    return True


def split_batches(requests: Sequence[BuildRequest]) -> List[List[BuildRequest]]:
    """Split a group into as few cargo runs as ``_fits`` allows (first fit, in order)."""
    batches: List[List[BuildRequest]] = []
    for request in requests:
        for batch in batches:
            if _fits(request, batch):
                batch.append(request)
                break
        else:
            batches.append([request])
    return batches


class BuildQueue:
    """The build requests of one CDK app (and its remote build cache, when configured)."""

    def __init__(self, remote: Optional[RemoteCache] = None) -> None:
        self.requests: List[BuildRequest] = []
        self.remote = remote
        self._failed: Dict[str, str] = {}
        """Static key -> error of a plan-time run that failed in this synth (not run again)."""
        self._cold: Set[GroupKey] = set()
        """Groups that had a plan-time run in this synth (the next one takes the siblings)."""
        self._cold_failed: Dict[GroupKey, Tuple[BuildFailed, List[BuildRequest]]] = {}
        """Group -> the plan-time run of it that failed to compile, and the requests it fails."""

    def add(self, request: BuildRequest) -> None:
        self.requests.append(request)

    def error_of(self, request: BuildRequest) -> str:
        """The message to report for a failed request: the group's, when a later function
        failed the same way (``_fails_the_same_way``), else its own."""
        return self._failed.get(request.inputs.static_key, request.error or "")

    def record_for(self, request: BuildRequest) -> Optional[Record]:
        """The discovered inputs of ``request``'s static inputs: this machine's record, else
        the shared cache's (a new machine, a CI runner), else the binary's previous record."""
        ws, key = request.workspace, request.inputs.static_key
        found = fingerprint_record.read_record(ws, key)
        if found is None and self.remote is not None:
            found = self.remote.fetch_record(key)
        if found is None:
            found = fingerprint_record.previous_record(ws, request.slot)
        return found

    def build_now(
        self,
        request: BuildRequest,
        siblings: Callable[[], Sequence[BuildRequest]] = lambda: (),
    ) -> None:
        """Plan time, for a binary with no record of what it reads: build it now, so its asset
        hash covers every input from this synth on. A failure is reported by the construct's
        validation (as for any build), with the static inputs as its hash.

        The first such binary of a group (workspace, target, settings) builds ALONE: an app
        that deploys one binary of a workspace builds just that one. The second builds with
        ``siblings()`` (the workspace's other binaries without a record), so the app's further
        functions of the workspace find records and artifacts: at most two cargo runs per
        group on a new machine, and none for binaries the app cannot use when it uses one."""
        failed = self._failed.get(request.inputs.static_key)
        if failed is not None:  # it was in a run that failed earlier in this synth
            request.error, request.reports_error, request.done = failed, False, True
            return
        if self._fails_the_same_way(request):
            return
        first = request.group_key not in self._cold
        self._cold.add(request.group_key)
        others = [] if first else list(siblings())
        batch = [request, *others]
        ws = request.workspace
        try:
            with locked(workspace_build_dir(ws) / ".lock"):
                record = fingerprint_record.read_record(ws, request.inputs.static_key)
                if record is not None:  # another synth built it while this one waited
                    request.inputs = request.inputs.with_record(
                        ws, record, request.options, request.use_docker
                    )
                    return
                log.say(
                    f"{request.construct_path}: no record yet of the files and variables its "
                    "build reads: building it now"
                    + (f", with the workspace's {len(others)} other binaries" if others else "")
                )
                started = time.monotonic()
                try:
                    build_batch(batch)
                except BuildFailed as exc:
                    own = {node.name for node in request.graph.nodes}
                    if not others or (exc.packages and exc.packages <= own):
                        raise  # its own code failed: building it alone would fail the same way
                    log.say(
                        "the workspace-wide build failed (above); building "
                        f"{request.construct_path}'s binary {request.binary} alone"
                    )
                    batch = [request]
                    build_batch(batch)
                report_built(batch, started, "at plan time")
        except (ConstructsRustError, OSError) as exc:
            for failed_request in batch:
                self._failed[failed_request.inputs.static_key] = str(exc)
            if isinstance(exc, BuildFailed) and exc.packages:
                self._cold_failed[request.group_key] = (exc, [request])
            request.error = str(exc)
            request.done = True
            return
        if self.remote is not None:
            self.upload(batch)

    def _fails_the_same_way(self, request: BuildRequest) -> bool:
        """A later cold function of a group whose plan-time run could not compile a package
        this one depends on fails the same way: no second run, no second diagnostic; the
        first function's error names both (it is reported once, by the first)."""
        found = self._cold_failed.get(request.group_key)
        if found is None:
            return False
        exc, failed = found
        if not exc.packages & {node.name for node in request.graph.nodes}:
            return False
        failed.append(request)
        message = str(build_failure(failed, exc.code, exc.lines))
        for one in failed:  # the queued copies of the requests read it from here (``ensure``)
            self._failed[one.inputs.static_key] = message
        request.error, request.reports_error, request.done = message, False, True
        return True

    def upload(self, built: Sequence[BuildRequest]) -> None:
        """The last stage (read-write mode only): one concurrent upload of what was built."""
        assert self.remote is not None
        shared = [(r, r.shared_inputs) for r in built]
        self.remote.upload(
            [(i.fingerprint, artifact_dir(r.workspace, i.fingerprint), i.lines) for r, i in shared]
        )
        for r in built:
            record = fingerprint_record.read_record(r.workspace, r.inputs.static_key)
            if record is not None:
                self.remote.upload_record(r.inputs.static_key, record)


def report_built(batch: Sequence[BuildRequest], started: float, position: str) -> None:
    """The one line a finished cargo run gets (progress in a log: which binaries, how long,
    how far along the synth's groups)."""
    where = f" ({position})" if position else ""
    log.say(
        f"built {', '.join(sorted({r.binary for r in batch}))} for "
        f"{batch[0].target.cargo_lambda_target} in {time.monotonic() - started:.1f} s{where}"
    )


def fail_requests(failed: Sequence[BuildRequest], message: str) -> None:
    """Mark a failed build's requests; the first construct (by path) reports it for all."""
    ordered = sorted(failed, key=lambda r: r.construct_path)
    for request in ordered:
        request.error = message
        request.reports_error = request is ordered[0]


#: The build queue is one per app: a slot of the app's session.
QUEUE: session.SlotKey[BuildQueue] = session.SlotKey("build.queue")


def queue_for(root: object) -> BuildQueue:
    """The build queue of the app whose root construct is ``root``.

    Created with the first function that needs a build; the remote cache configuration is
    read then (environment first, then the app's context), so a bad value fails early.
    """
    node = getattr(root, "node", None)
    context = node.try_get_context if node is not None else (lambda key: None)
    return session.session_for(root).slot(
        QUEUE, lambda: BuildQueue(remote.from_environment(context))
    )
