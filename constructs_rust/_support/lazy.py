"""Re-exports imported on first use (PEP 562), for a package ``__init__`` whose names live in
modules that load aws-cdk-lib: what never touches a construct (``constructs-rust local invoke
--no-synth``) starts without it. Imports nothing of the package itself."""

from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, List, Mapping, Tuple


def exports(
    package: str, where: Mapping[str, str], namespace: Dict[str, Any]
) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """The package's ``__getattr__`` and ``__dir__``: ``where`` maps each lazy name to the
    module of ``package`` that defines it; a name, once imported, is kept in ``namespace``."""

    def getattr_(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def dir_() -> List[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return getattr_, dir_
