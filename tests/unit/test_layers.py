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


#: Leaf modules of a room that the vocabulary (rank 0) may import: they import nothing of the
#: package but ``errors``.
LEAVES = {"constructs_rust._support.env_file": 0, "constructs_rust._support.paths": 0}


def rank(module: str) -> int:
    return LEAVES.get(module, RANKS.get(room_of(module), TOP))


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
    bad.write_text("from .._build.queue import queue_for\nimport aws_cdk\n")
    found = imports_of("constructs_rust._support.bad", bad)
    assert (1, "constructs_rust._build.queue") in found
    assert (2, "aws_cdk") in found
    bad.write_text("from aws_cdk import aws_s3\n")
    assert (1, "aws_cdk.aws_s3") in imports_of("constructs_rust._cargo.bad", bad)
    assert rank("constructs_rust._build.queue") > rank("constructs_rust._support.bad")


def test_architecture_page_lists_every_module() -> None:
    """docs/architecture.md's tree names every module file, so the map cannot drift."""
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    missing = [
        str(path.relative_to(PACKAGE))
        for _, path in modules()
        if path.name != "__init__.py" and path.name not in page
    ]
    assert not missing, f"docs/architecture.md does not mention: {missing}"


# -- The ratchet: rules the tree does not keep yet, with today's exceptions. A slice of the
# house removes its entries when it fixes them; nothing is ever added.

#: Largest a module may be; options.py (the option types and their docs, one concern) may be 500.
MAX_LINES = 450
MAX_LINES_OPTIONS = 500
#: module -> its size when the ratchet started; a module listed here may shrink, never grow.
OVERSIZE_ALLOWED: dict[str, int] = {}
#: "module imports name" pairs of private names crossing a module line.
PRIVATE_IMPORTS_ALLOWED: set[str] = set()
#: "module.name" of module-level mutable memos (dicts, sets, lists, weak maps) not yet in a session.
MEMOS_ALLOWED: set[str] = set()
#: Module-level state that is the process's by nature, not an app's: the excepthook's record of
#: validation errors, the command's children to stop on Ctrl-C, and the registry of sessions.
PROCESS_STATE = {
    "constructs_rust._support.reporting._validation_errors",
    "constructs_rust._support.session._sessions",
    "constructs_rust.local.synth._running",
}
#: "module: literal" spellings of a CONSTRUCTS_RUST_ variable or a constructs-rust path segment
#: outside _support/settings.py and _support/paths.py.
SPELLINGS_ALLOWED: set[str] = set()

_MUTABLE_CALLS = {
    "dict",
    "set",
    "list",
    "defaultdict",
    "OrderedDict",
    "WeakKeyDictionary",
    "WeakValueDictionary",
    "WeakSet",
    "Counter",
}


def oversize() -> dict[str, int]:
    out = {}
    for module, path in modules():
        size = len(path.read_text().splitlines())
        limit = MAX_LINES_OPTIONS if module == "constructs_rust.options" else MAX_LINES
        if size > limit:
            out[module] = size
    return out


def private_imports() -> set[str]:
    out = set()
    for module, path in modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if not (node.level or (node.module or "").startswith("constructs_rust")):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    out.add(f"{module} imports {alias.name}")
    return out


def _is_mutable(value: ast.expr | None) -> bool:
    if isinstance(value, (ast.Dict, ast.Set, ast.List, ast.DictComp, ast.SetComp, ast.ListComp)):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in _MUTABLE_CALLS
    return False


def memos() -> set[str]:
    """Module-level names bound to a mutable container (ALL_CAPS tables are constants)."""
    out = set()
    for module, path in modules():
        for stmt in ast.parse(path.read_text()).body:
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign):
                targets, value = [stmt.target], stmt.value
            else:
                continue
            for target in targets:
                if not isinstance(target, ast.Name) or target.id.startswith("__"):
                    continue
                if not target.id.isupper() and _is_mutable(value):
                    out.add(f"{module}.{target.id}")
    return out


def spellings() -> set[str]:
    """String literals (docstrings aside) naming a setting or a constructs-rust path, outside
    the one module that owns each."""
    out = set()
    for module, path in modules():
        tree = ast.parse(path.read_text())
        docstrings = {  # docstrings, attribute docstrings included
            id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)
        }
        divided = {
            id(side)
            for node in ast.walk(tree)
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
            for side in (node.left, node.right)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if id(node) in docstrings:
                continue
            text = node.value
            if any(c.isspace() for c in text):
                continue  # a message naming a path, not a path
            if "CONSTRUCTS_RUST_" in text and module != "constructs_rust._support.settings":
                out.add(f"{module}: {text}")
            pathlike = (
                "/constructs-rust" in text
                or "constructs-rust/" in text
                or (text == "constructs-rust" and id(node) in divided)
            )
            if pathlike and module != "constructs_rust._support.paths":
                out.add(f"{module}: {text}")
    return out


def test_no_module_grows_past_the_limit() -> None:
    found = oversize()
    new = {m: n for m, n in found.items() if m not in OVERSIZE_ALLOWED}
    grown = {m: n for m, n in found.items() if m in OVERSIZE_ALLOWED and n > OVERSIZE_ALLOWED[m]}
    assert not new and not grown, f"over {MAX_LINES} lines: {new or grown}"
    fixed = set(OVERSIZE_ALLOWED) - set(found)
    assert not fixed, f"now within the limit: delete {sorted(fixed)} from OVERSIZE_ALLOWED"


def test_no_private_name_crosses_a_module_line() -> None:
    found = private_imports()
    assert found <= PRIVATE_IMPORTS_ALLOWED, sorted(found - PRIVATE_IMPORTS_ALLOWED)
    stale = PRIVATE_IMPORTS_ALLOWED - found
    assert not stale, f"fixed: delete {sorted(stale)} from PRIVATE_IMPORTS_ALLOWED"


def test_no_new_module_level_memo() -> None:
    found = memos() - PROCESS_STATE
    assert found <= MEMOS_ALLOWED, f"module-level mutable state: {sorted(found - MEMOS_ALLOWED)}"
    stale = MEMOS_ALLOWED - found
    assert not stale, f"fixed: delete {sorted(stale)} from MEMOS_ALLOWED"


def test_settings_and_paths_are_spelled_in_one_place() -> None:
    found = spellings()
    assert found <= SPELLINGS_ALLOWED, sorted(found - SPELLINGS_ALLOWED)
    stale = SPELLINGS_ALLOWED - found
    assert not stale, f"fixed: delete {sorted(stale)} from SPELLINGS_ALLOWED"


def test_the_ratchet_sees_what_it_forbids(tmp_path: Path) -> None:
    """Each detector finds its violation in a module written to break it."""
    global PACKAGE
    saved = PACKAGE
    package = tmp_path / "constructs_rust"
    (package / "_support").mkdir(parents=True)
    (package / "_build").mkdir()
    (package / "_build" / "big.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (package / "_build" / "a.py").write_text(
        '"""CONSTRUCTS_RUST_EXPLAIN in a docstring is fine."""\n'
        "from .b import _helper\n_seen: set[str] = set()\n_memo = {}\nTABLE = {1: 2}\n"
        'NAME = "CONSTRUCTS_RUST_VERIFY"\nP = Path("t") / "constructs-rust"\n'
    )
    try:
        PACKAGE = package
        assert oversize() == {"constructs_rust._build.big": MAX_LINES + 1}
        assert private_imports() == {"constructs_rust._build.a imports _helper"}
        assert memos() == {"constructs_rust._build.a._seen", "constructs_rust._build.a._memo"}
        assert spellings() == {
            "constructs_rust._build.a: CONSTRUCTS_RUST_VERIFY",
            "constructs_rust._build.a: constructs-rust",
        }
    finally:
        PACKAGE = saved


def test_every_import_of_the_package_resolves() -> None:
    """Lazy imports inside functions are not checked by collection: every ``from
    constructs_rust... import x`` anywhere in the project (tests, bench, scripts, stacks, the
    library) names a module and a name that exist, so a move cannot leave a stale one."""
    import importlib

    root = PACKAGE.parent
    sources = [root / "app.py"]
    for folder in ("constructs_rust", "tests", "bench", "scripts", "stacks"):
        sources += sorted((root / folder).rglob("*.py"))
    broken = []
    for path in sources:
        if "extension_harness" in path.parts or "fixtures" in path.parts:
            continue
        parts = list(path.relative_to(root).with_suffix("").parts)
        package = parts[:-1]  # the package a relative import starts from
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level and parts[0] == "constructs_rust":
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif not node.level:
                target = node.module or ""
            else:
                continue
            if not target.startswith("constructs_rust"):
                continue
            where = f"{path.relative_to(root)}:{node.lineno}"
            try:
                imported = importlib.import_module(target)
            except ImportError:
                broken.append(f"{where} {target}")
                continue
            for alias in node.names:
                if alias.name == "*" or hasattr(imported, alias.name):
                    continue
                try:
                    importlib.import_module(f"{target}.{alias.name}")
                except ImportError:
                    broken.append(f"{where} {target}.{alias.name}")
    assert not broken, f"imports of names that do not exist: {broken}"
