"""The RUSTFLAGS and C flags a build runs with: the user's flags from every cargo config level,
``target-cpu=native`` and ``-march/-mcpu/-mtune=native`` replaced by the Lambda CPU (warned once),
and the ``--remap-path-prefix`` pairs that keep host paths out of the binary."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .._cargo import cargo_config, toolchain
from .._cargo.metadata import Workspace
from .._cargo.targets import Target
from .._support import log, paths, session
from ..options import BundlingOptions
from . import commands


def _warn_native_once(what: str, instead: str) -> None:
    """Say once per app that a host-tuning flag was replaced for the Lambda CPU."""
    if not session.current().once(("native", what)):
        return
    log.say(
        f"WARNING {what} would tune the Lambda binary to this build machine (SIGILL on Lambda "
        f"hosts with an older CPU): building with {instead} instead; name an explicit CPU to "
        "choose another"
    )


def tame_c_flags(environ: Dict[str, str], target: Target) -> Dict[str, str]:
    """The C/C++ flag variables of ``environ`` (those cc-rs reads for ``target``) whose
    ``-march/-mcpu/-mtune=native`` must become the Lambda CPU, with their new values."""
    changed: Dict[str, str] = {}
    for name in commands.c_flag_variables(target.triple):
        if name in environ:
            value, replaced = commands.without_native_c_flags(environ[name], target.rust_arch)
            if replaced:
                changed[name] = value
                _warn_native_once(f"-m…=native in {name}", "the Lambda CPU's -march/-mcpu")
    return changed


def rustflags_for(
    options: BundlingOptions,
    target: Target,
    remaps: Sequence[Tuple[str, str]],
    *,
    use_docker: bool,
    root: Path,
) -> str:
    """``CARGO_ENCODED_RUSTFLAGS`` of a build: the user's own rustflags first, resolved the way
    cargo would (a build in Docker sees only ``options.environment`` and the workspace's own
    config file), then the library's target-cpu and path remaps. Setting this variable makes
    cargo ignore every other rustflags source, so nothing the user configured may be left out."""
    environ = (
        options.container_environment() if use_docker else {**os.environ, **options.environment}
    )
    files = cargo_config.config_files(root, include_outside=not use_docker)
    cfgs = cargo_config.target_cfgs(toolchain.rustc_command(), target.triple)
    user = cargo_config.effective_rustflags(files, triple=target.triple, environ=environ, cfgs=cfgs)
    if commands.without_native_cpu(user, target.target_cpu)[1]:
        _warn_native_once(
            "target-cpu=native (in RUSTFLAGS, a CARGO_*RUSTFLAGS variable or a config file's "
            "rustflags)",
            f"-C target-cpu={target.target_cpu}",
        )
    return commands.encoded_rustflags(
        lambda_cpu=target.target_cpu,
        remaps=remaps,
        target_cpu=target.target_cpu if options.profile == "release" else "",
        user_flags=user,
    )


def local_remaps(ws: Workspace, target_dir: Optional[Path] = None) -> List[Tuple[str, str]]:
    """``--remap-path-prefix`` pairs for a local build: the cargo home, the workspace root,
    every path package outside it (``../../lambda-runtime`` → ``/workspace/../../lambda-runtime``)
    and the target dir (generated sources), so no host path ends up in the binary and a build in
    another target dir (``CONSTRUCTS_RUST_VERIFY``) gives the same bytes. rustc applies the LAST
    matching pair, so the most specific (longest) host paths come last."""
    pairs = [(str(cargo_config.cargo_home()), paths.CONTAINER_CARGO_HOME)]
    pairs.append((str(ws.root), paths.CONTAINER_WORKSPACE))
    for outside in ws.outside_roots():
        rel = Path(os.path.relpath(outside, ws.root)).as_posix()
        pairs.append((str(outside), f"{paths.CONTAINER_WORKSPACE}/{rel}"))
    pairs.append((str(target_dir or ws.target_dir), paths.CONTAINER_TARGET_DIR))
    return sorted(pairs, key=lambda pair: len(pair[0]))
