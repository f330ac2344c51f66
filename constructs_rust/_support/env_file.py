"""Docker's ``--env-file`` format, read for ``BundlingOptions.docker_env_files`` (a leaf:
``options.py`` may import it)."""

from __future__ import annotations

import re
from typing import Dict

from ..errors import ConfigurationError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_env_file(path: str) -> Dict[str, str]:
    """Docker's ``--env-file`` format: ``NAME=VALUE`` lines (the value verbatim, no quote
    processing), ``NAME`` alone takes the synthesizing environment's value (skipped when
    unset), blank lines and ``#`` comments ignored. Errors name the file and line, never a
    value."""
    import os

    values: Dict[str, str] = {}
    try:
        text = open(path, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"cannot be read ({exc.__class__.__name__})",
            prop="bundling.docker_env_files",
            value=path,
            fix="give a readable UTF-8 file of NAME=VALUE lines, relative to where you run cdk",
        ) from None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        name, has_value, value = line.partition("=")
        if not _ENV_NAME.fullmatch(name):
            raise ConfigurationError(
                f"line {number} does not start with a variable name",
                prop="bundling.docker_env_files",
                value=path,
                fix="write NAME=VALUE lines (letters, digits and underscores in NAME)",
            )
        if has_value:
            values[name] = value
        elif name in os.environ:
            values[name] = os.environ[name]
    return values
