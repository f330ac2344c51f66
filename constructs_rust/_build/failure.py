"""What went wrong in a cargo-lambda run, told the user's way: the packages cargo could not
compile, Docker's own exit codes, files read from outside the workspace, and why two requests
could not share a run."""

from __future__ import annotations

import re
from typing import Any, FrozenSet, Sequence

from .._support import paths
from ..errors import ConstructsRustError
from .request import BuildRequest

_ERROR_LINES = 20


#: ``docker run`` exits with these when the container could not run at all (the engine, the
#: image or its entrypoint failed), never with the build's own status.
_DOCKER_RUN_FAILURES = {
    125: "the Docker engine could not create or start the container (image missing and not "
    "pullable, a refused pull, an invalid option or an engine error)",
    126: "the container's command could not be invoked",
    127: "the container's command was not found in the image",
}


_OUTSIDE_FILE_ERRORS = ("couldn't read", "couldn't find file", "file not found for module")


class BuildFailed(ConstructsRustError):
    """A cargo-lambda run failed; ``packages`` are those cargo could not compile."""

    def __init__(
        self,
        problem: str,
        *,
        packages: FrozenSet[str] = frozenset(),
        code: int = 0,
        lines: Sequence[str] = (),
        **kw: Any,
    ) -> None:
        super().__init__(problem, **kw)
        self.packages = packages
        self.code, self.lines = code, tuple(lines)


_COULD_NOT_COMPILE = re.compile(r"could not compile `([^`]+)`")


def build_failure(
    batch: Sequence[BuildRequest], code: int, lines: Sequence[str]
) -> ConstructsRustError:
    """The error of a failed build run: Docker's own failures told apart from cargo's."""
    first = batch[0]
    binaries = ", ".join(sorted({r.binary for r in batch}))
    if first.use_docker and code in _DOCKER_RUN_FAILURES:
        tail = "\n".join(line.rstrip() for line in lines[-_ERROR_LINES:])
        return ConstructsRustError(
            f"`docker run` failed (exit {code}) before building {binaries}: "
            f"{_DOCKER_RUN_FAILURES[code]}:\n{tail}",
            prop="bundling.docker_image",
            value=first.options.docker_image,
            fix="check that the image exists or can be pulled (`docker pull "
            f"{first.options.docker_image}`) and that the engine works (`docker run --rm "
            f"{first.options.docker_image} cargo lambda --version`); nothing was compiled",
        )
    fix = "fix the error cargo printed above this message"
    if first.use_docker and any(m in line for line in lines for m in _OUTSIDE_FILE_ERRORS):
        fix += (
            f". In Docker only the workspace root is visible (at {paths.CONTAINER_WORKSPACE}): "
            "a #[path], include!() or include_str!() reaching outside it cannot be read; move "
            "the file under the workspace root, or build locally with cargo-lambda"
        )
    # cargo's diagnostic was streamed to stderr as it came: the error holds a summary only,
    # so the compile log is not printed again (by CDK's validation, then by jsii and Python).
    # Workspace siblings built along at plan time have no construct path (shown as "(…)").
    where = ", ".join(sorted({r.construct_path for r in batch if r.construct_path[:1] != "("}))
    return BuildFailed(
        f"cargo lambda build failed (exit {code}) for {binaries} (of {where}); cargo's error "
        "is printed above",
        fix=fix,
        packages=frozenset(m.group(1) for line in lines for m in _COULD_NOT_COMPILE.finditer(line)),
        code=code,
        lines=lines,
    )


def split_reason(a: BuildRequest, b: BuildRequest) -> str:
    """Why two requests of one workspace were not built by one cargo run (one line)."""
    ka, kb = a.group_key, b.group_key
    if ka[1] != kb[1]:
        return "bundling.features/no_default_features apply to one package (built per package)"
    if ka[2] != kb[2]:
        names = sorted({x.split("=", 1)[0] for x in set(ka[2]) ^ set(kb[2])} - {"host_env"}) or [
            "host environment"
        ]
        return f"their bundling settings differ ({', '.join(names)})"
    if ka[3] != kb[3]:
        return "their Docker run options differ (network, user, volumes, security options)"
    if ka[4] != kb[4]:
        return "extensions are built with --extension, functions without"
    if a.binary == b.binary:
        return f"the binary name {a.binary} repeats (cargo-lambda's outputs are per name)"
    return "their packages enable different features of a shared dependency"
