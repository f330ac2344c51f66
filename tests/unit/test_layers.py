"""The package's tree is its architecture: each room imports only rooms below it.

Rank 0 is the vocabulary every layer may speak (`errors`, `options`); the private rooms follow
in the order a function's pipeline depends on them; the public constructs, `testing` and
`local` sit on top. A lower room importing a higher one, or a private room importing
aws_cdk.aws_* construct modules, fails here with the offending import named.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "constructs_rust"

RANKS = {
    "errors": 0,
    "options": 0,
    "_support": 1,
    "_cargo": 2,
    "_fingerprint": 3,
    "_store": 4,
    "_build": 5,
    "_construct": 6,
}
TOP = 7  # function, container, extension, build_cache, testing, local, __init__, __main__
PRIVATE_ROOMS = ("_support", "_cargo", "_fingerprint", "_store", "_build")
#: CDK value types a lower room may read (Architecture/Runtime names); no construct classes.
CDK_VALUES = {"constructs_rust._cargo.targets": {"aws_cdk.aws_lambda"}}


def room_of(module: str) -> str:
    """`constructs_rust._cargo.metadata` -> `_cargo`; `constructs_rust.options` -> `options`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def rank(module: str) -> int:
    return RANKS.get(room_of(module), TOP)


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "extension_harness" in path.parts:
            continue
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(parts), path))
    return found


def imports_of(module: str, path: Path) -> list[tuple[int, str]]:
    """Every package module `module` imports (absolute names), with the line it does it on."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("constructs_rust"):
                if target.startswith("aws_cdk") or target.startswith("constructs"):
                    out.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
                continue
            if node.module is None or target.count(".") == 0:
                # `from . import x` / `from constructs_rust import x`: x are modules or names
                out.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
            else:
                out.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            out.extend(
                (node.lineno, alias.name)
                for alias in node.names
                if alias.name.startswith(("constructs_rust", "aws_cdk", "constructs"))
            )
    return out


@pytest.mark.parametrize("module,path", modules(), ids=[m for m, _ in modules()])
def test_no_room_imports_a_room_above_it(module: str, path: Path) -> None:
    upward = []
    for line, target in imports_of(module, path):
        if not target.startswith("constructs_rust"):
            continue
        if rank(target) > rank(module) and room_of(target) != room_of(module):
            upward.append(f"{path.name}:{line} imports {target}")
    assert not upward, f"{module} (rank {rank(module)}) imports upward: {upward}"


@pytest.mark.parametrize(
    "module,path",
    [(m, p) for m, p in modules() if room_of(m) in PRIVATE_ROOMS],
    ids=[m for m, _ in modules() if room_of(m) in PRIVATE_ROOMS],
)
def test_lower_rooms_never_create_constructs(module: str, path: Path) -> None:
    cdk = [
        f"{path.name}:{line} imports {target}"
        for line, target in imports_of(module, path)
        if target.startswith(("aws_cdk", "constructs"))
        and not target.startswith("constructs_rust")
        and target not in CDK_VALUES.get(module, set())
    ]
    assert not cdk, f"{module} is below _construct and must not touch CDK: {cdk}"


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The rule bites: a support module importing the engine is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("from .._build.engine import queue_for\nimport aws_cdk\n")
    found = imports_of("constructs_rust._support.bad", bad)
    assert (1, "constructs_rust._build.engine") in found
    assert (2, "aws_cdk") in found
    bad.write_text("from aws_cdk import aws_s3\n")
    assert (1, "aws_cdk.aws_s3") in imports_of("constructs_rust._cargo.bad", bad)
    assert rank("constructs_rust._build.engine") > rank("constructs_rust._support.bad")


def test_architecture_page_lists_every_module() -> None:
    """docs/architecture.md's tree names every module file, so the map cannot drift."""
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    missing = [
        str(path.relative_to(PACKAGE))
        for _, path in modules()
        if path.name != "__init__.py" and path.name not in page
    ]
    assert not missing, f"docs/architecture.md does not mention: {missing}"
