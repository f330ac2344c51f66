"""``constructs-rust local invoke`` / ``local serve``: the synthesized app's functions run on
this machine (see docs/local.md)."""

from .cli import main

__all__ = ["main"]
