"""``BundlingOptions(auditable=True)``: the dependency list embedded in the binary by
``cargo auditable``, composed with cargo-lambda's zig build.

``cargo auditable build`` does two things: it runs cargo with ``RUSTC_WORKSPACE_WRAPPER``
pointing at itself, and passes the cargo flags that matter to its ``cargo metadata``
(``--offline``, ``--locked``, ``--frozen``, ``--config``) as JSON in
``CARGO_AUDITABLE_ORIG_ARGS``. cargo-lambda runs ``cargo zigbuild``, which runs cargo, so the
same two variables in cargo-lambda's environment give the same result with zig as the linker:
the wrapper adds the ``.dep-v0`` section to each binary of the workspace's crates and cargo
rebuilds them (the workspace wrapper is part of cargo's fingerprint), nothing else.
"""

from __future__ import annotations

import json
import shutil
from typing import Dict, List, Sequence

from ..errors import ConfigurationError, ToolchainError
from ..options import BundlingOptions

#: The release the project's set-up installs (scripts/setup-system.sh).
CARGO_AUDITABLE_VERSION = "0.7.7"


def check_auditable(options: BundlingOptions, *, use_docker: bool) -> None:
    """Refuse ``auditable`` where it cannot be honoured (before anything is built)."""
    if not options.auditable:
        return
    if use_docker:
        raise ConfigurationError(
            "is not available with Docker bundling (the pinned cargo-lambda image has no "
            "cargo-auditable)",
            prop="bundling.auditable",
            value=True,
            fix="bundle locally (pip install 'constructs-rust[build]', without force_docker) "
            "with cargo-auditable installed, or leave auditable off",
        )
    if shutil.which("cargo-auditable") is None:
        raise ToolchainError(
            "needs cargo-auditable, which is not on PATH",
            prop="bundling.auditable",
            value=True,
            fix=f"cargo install cargo-auditable --version {CARGO_AUDITABLE_VERSION} --locked "
            "(`make setup` does it)",
        )


def _config_values(flags: Sequence[str]) -> List[str]:
    values: List[str] = []
    for index, flag in enumerate(flags):
        if flag == "--config" and index + 1 < len(flags):
            values.append(flags[index + 1])
        elif flag.startswith("--config="):
            values.append(flag.split("=", 1)[1])
    return values


def auditable_env(options: BundlingOptions) -> Dict[str, str]:
    """The variables that make cargo-lambda's cargo run embed the dependency list."""
    tool = shutil.which("cargo-auditable")
    if tool is None:  # checked at plan time; gone since
        check_auditable(options, use_docker=False)
        return {}
    flags = list(options.effective_flags())
    orig_args = {
        "offline": "--offline" in flags,
        "locked": "--locked" in flags,
        "frozen": "--frozen" in flags,
        "config": _config_values(flags),
    }
    return {
        "RUSTC_WORKSPACE_WRAPPER": tool,
        "CARGO_AUDITABLE_ORIG_ARGS": json.dumps(orig_args, separators=(",", ":")),
    }
