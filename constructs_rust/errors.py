"""Errors raised by constructs_rust.

Every error names where it happened (the construct path), what was wrong (the prop and its
value) and how to fix it, so a failed ``cdk synth`` tells the user what to change without a
Python traceback hunt.
"""

from __future__ import annotations

import re
from typing import Any, Optional

#: ``scheme://userinfo@``: the credentials part of a URL (a git remote with a token).
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def redact(text: str) -> str:
    """``https://user:token@host/…`` → ``https://***@host/…`` everywhere in ``text``."""
    return _USERINFO.sub(r"\1***@", text)


class ConstructsRustError(Exception):
    """Base class of every error this library raises."""

    def __init__(
        self,
        problem: str,
        *,
        prop: Optional[str] = None,
        value: Any = None,
        fix: Optional[str] = None,
        construct_path: Optional[str] = None,
    ) -> None:
        self.problem = problem
        self.prop = prop
        self.value = value
        self.fix = fix
        self.construct_path = construct_path
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
        """Return the same error attributed to ``construct_path`` (kept if already set)."""
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
