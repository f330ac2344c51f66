"""Errors raised by constructs_rust.

Every error names where it happened (the construct path), what was wrong (the prop and its
value) and how to fix it, so a failed ``cdk synth`` tells the user what to change without a
Python traceback hunt.
"""

from __future__ import annotations

import re
from typing import Any, Optional

__all__ = [
    "ConstructsRustError",
    "ConfigurationError",
    "CargoError",
    "ToolchainError",
    "BinaryError",
]

#: ``scheme://userinfo@``: the credentials part of a URL (a git remote with a token).
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def redact(text: str) -> str:
    """``https://user:token@host/…`` → ``https://***@host/…`` everywhere in ``text``."""
    return _USERINFO.sub(r"\1***@", text)


class ConstructsRustError(Exception):
    """Base class of every error this library raises.

    Its message reads ``[<construct path>] <prop>=<value>: <problem>`` and, on a line of its
    own, ``Fix: <fix>``; each part is also an attribute.

    Args:
        problem: What is wrong.
        prop: The prop or option at fault. Default: none.
        value: Its value. Default: none.
        fix: How to fix it. Default: none.
        construct_path: The construct's path in the app (``Stack/Api``). Default: none (set
            once the construct is known).
    """

    def __init__(
        self,
        problem: str,
        *,
        prop: Optional[str] = None,
        value: Any = None,
        fix: Optional[str] = None,
        construct_path: Optional[str] = None,
    ) -> None:
        self.problem: str = problem
        """What is wrong."""
        self.prop: Optional[str] = prop
        """The prop or option at fault, if any."""
        self.value: Any = value
        """Its value, if given."""
        self.fix: Optional[str] = fix
        """How to fix it, if known."""
        self.construct_path: Optional[str] = construct_path
        """The construct's path in the app, once known."""
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"[{self.construct_path}] " if self.construct_path else ""
        where = ""
        if self.prop is not None:
            where = f"{self.prop}={self.value!r}: " if self.value is not None else f"{self.prop}: "
        text = f"{head}{where}{self.problem}"
        if self.fix:
            text += f"\n  Fix: {self.fix}"
        return text

    def at(self, construct_path: str) -> "ConstructsRustError":
        """The same error attributed to a construct.

        Args:
            construct_path: The construct's path in the app.

        Returns:
            A copy with ``construct_path`` set; ``self`` when it already names one.
        """
        if self.construct_path:
            return self
        return type(self)(
            self.problem,
            prop=self.prop,
            value=self.value,
            fix=self.fix,
            construct_path=construct_path,
        )


class ConfigurationError(ConstructsRustError, ValueError):
    """A prop or option is invalid; raised while the construct is created."""


class CargoError(ConstructsRustError):
    """cargo (metadata or build) failed; the message carries cargo's own text."""


class ToolchainError(ConstructsRustError):
    """A tool needed for bundling (cargo-lambda, zig, a Rust std, Docker) is missing."""


class BinaryError(ConstructsRustError):
    """A built binary cannot run where it is deployed (another architecture, a glibc newer
    than the runtime's, a dynamic binary where only a static one starts, no executable bit,
    over Lambda's size quota); raised at synth, before the asset is staged."""
