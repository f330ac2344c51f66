"""Move modules and split them by top-level definition, rewriting every importer.

A restructuring tool for the house issues (#37-#40); it is deleted when the last one lands.
Stdlib only (``ast`` + ``tokenize``). Usage::

    python scripts/move.py PLAN [--dry-run]

PLAN is a text file, one operation per line (``#`` starts a comment), applied in order:

    rename  OLD.MODULE  _old_name  new_name      a top-level name, its uses and importers
    split   OLD.MODULE  NEW.MODULE  name ...     cut those definitions into NEW (appended); a
                                                 package's __init__ re-exports its __all__
    move    OLD.MODULE  NEW.MODULE               the whole module (git mv)

A split carries each definition's decorators and the comment lines right above it, copies the
imports the moved code uses, and adds ``from .x import name`` between OLD and NEW where each
needs the other's names. A circle (OLD needs NEW and NEW needs OLD) stops the run and names the
names on each side. OLD is deleted when nothing but imports is left in it.

Importers (the package, tests, bench, scripts, stacks, app.py; lazy imports included):
``from OLD import a, b`` is regrouped by where each name now lives; ``from PKG import OLD as
alias`` keeps the module-attribute style: every ``alias.name`` whose name moved is rewritten to
the new module's alias, imported beside it, so ``monkeypatch.setattr(module, ...)`` keeps
patching the module the code reads. No shim is written. Afterwards ``ruff --fix`` (imports) and
``ruff format`` run on every file touched; run mypy, ``pytest --collect-only`` and the layer
test yourself.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "constructs_rust"
SCAN = ("constructs_rust", "tests", "bench", "scripts", "stacks", "app.py")


def module_path(module: str) -> Path:
    base = ROOT / Path(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def files() -> List[Path]:
    out: List[Path] = []
    for entry in SCAN:
        path = ROOT / entry
        out.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return [p for p in out if "extension_harness" not in p.parts and p.name != "move.py"]


def absolute(importer: str, is_package: bool, level: int, name: Optional[str]) -> str:
    """The absolute module a (possibly relative) ``from`` import names."""
    if not level:
        return name or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def relative(importer: str, is_package: bool, target: str) -> str:
    """``target`` spelled relative to ``importer`` (``.x``, ``..pkg.x``)."""
    here = importer.split(".") if is_package else importer.split(".")[:-1]
    there = target.split(".")
    common = 0
    while common < min(len(here), len(there)) and here[common] == there[common]:
        common += 1
    return "." * (len(here) - common + 1) + ".".join(there[common:])


@dataclass
class Source:
    path: Path
    text: str
    edits: List[Tuple[int, int, str]] = field(default_factory=list)  # (start, end, new)

    @property
    def lines(self) -> List[str]:
        return self.text.splitlines(keepends=True)

    def offset(self, line: int, col: int) -> int:
        return sum(len(x) for x in self.lines[: line - 1]) + col

    def span(self, node: ast.AST) -> Tuple[int, int]:
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        return start, self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]

    def apply(self) -> str:
        text = self.text
        for start, end, new in sorted(self.edits, reverse=True):
            text = text[:start] + new + text[end:]
        return text


def defined_names(stmt: ast.stmt) -> List[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    return []


def used_names(nodes: Iterable[ast.AST]) -> Set[str]:
    found: Set[str] = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                found.add(sub.id)
            elif (
                isinstance(sub, ast.Constant)
                and isinstance(sub.value, str)
                and re.fullmatch(r"[A-Za-z_][\w\[\], .|]*", sub.value)
            ):
                # string annotations ("BuildRequest", "Optional[Record]"), not prose
                found.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sub.value))
    return found


def statement_lines(source: Source, stmt: ast.stmt) -> Tuple[int, int]:
    """1-based first/last line of a statement with its decorators and the comments above it."""
    first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
    lines = source.lines
    while first > 1 and lines[first - 2].lstrip().startswith("#"):
        first -= 1
    return first, stmt.end_lineno or stmt.lineno


def import_bindings(tree: ast.Module, module: str, is_package: bool) -> Dict[str, str]:
    """Local name -> an import line (absolute ``from`` form) binding it, for top-level imports."""
    out: Dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module != "__future__":
            target = absolute(module, is_package, stmt.level, stmt.module)
            for alias in stmt.names:
                bound = alias.asname or alias.name
                spelled = alias.name + (f" as {alias.asname}" if alias.asname else "")
                out[bound] = f"from {target} import {spelled}"
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".")[0]
                spelled = alias.name + (f" as {alias.asname}" if alias.asname else "")
                out[bound] = f"import {spelled}"
    return out


def spell(line: str, importer: str, is_package: bool) -> str:
    """An absolute ``from constructs_rust.x import y`` line, relative when inside the package."""
    match = re.match(r"from (\S+) import (.+)", line)
    if match and match.group(1).startswith(PACKAGE) and importer.startswith(PACKAGE):
        return f"from {relative(importer, is_package, match.group(1))} import {match.group(2)}"
    return line


class Mover:
    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.touched: Set[Path] = set()
        #: what each written file holds now (None: deleted), so a dry run sees its own edits
        self.overlay: Dict[Path, Optional[str]] = {}
        self.report: List[str] = []

    # -- writing -------------------------------------------------------------------------
    def read(self, path: Path) -> str:
        text = self.overlay.get(path, "") if path in self.overlay else path.read_text()
        if text is None:
            raise FileNotFoundError(path)
        return text

    def exists(self, path: Path) -> bool:
        return self.overlay[path] is not None if path in self.overlay else path.exists()

    def write(self, path: Path, text: str) -> None:
        self.overlay[path] = text
        if not self.dry_run:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.touched.add(path)

    # -- rename --------------------------------------------------------------------------
    def rename(self, module: str, old: str, new: str) -> None:
        path = module_path(module)
        text = self.read(path)
        if re.search(rf"\b{re.escape(new)}\b", text):
            sys.exit(f"rename: {new} already appears in {path}")
        self.write(path, replace_names(text, {old: new}))
        self.rewrite_importers(module, {old: (module, new)})
        self.report.append(f"renamed {module}.{old} -> {new}")

    # -- split ---------------------------------------------------------------------------
    def split(self, old: str, new: str, names: List[str]) -> None:
        path = module_path(old)
        source = Source(path, self.read(path))
        tree = ast.parse(source.text)
        is_package = path.name == "__init__.py"
        owner: Dict[str, ast.stmt] = {}
        for stmt in tree.body:
            for name in defined_names(stmt):
                owner[name] = stmt
        missing = [n for n in names if n not in owner]
        if missing:
            sys.exit(f"split {old}: no top-level definition of {missing}")
        moving = [s for s in tree.body if any(n in names for n in defined_names(s))]
        for stmt in moving:
            stray = [n for n in defined_names(stmt) if n not in names]
            if stray:
                sys.exit(f"split {old}: {names} names only part of a statement defining {stray}")
        staying = [
            s
            for s in tree.body
            if s not in moving
            and not isinstance(s, (ast.Import, ast.ImportFrom))
            and not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        ]
        stay_defs = {n for s in staying for n in defined_names(s)}
        need_new = sorted(used_names(moving) & stay_defs)  # NEW imports these from OLD
        need_old = sorted(used_names(staying) & set(names))  # OLD imports these from NEW
        # A package's __init__ keeps re-exporting the names of its __all__ that move (importers
        # go on importing them from the package).
        exported = [n for n in names if is_package and n in dunder_all(tree)]
        need_old = sorted(set(need_old) | set(exported))
        if need_new and need_old:
            sys.exit(
                f"split {old} -> {new}: circle; {new} would need {need_new} from {old} and "
                f"{old} would need {need_old} from {new}. Move more names or fewer."
            )
        bindings = import_bindings(tree, old, is_package)
        new_path = (
            module_path(new)
            if self.exists(module_path(new))
            else (ROOT / Path(*new.split("."))).with_suffix(".py")
        )
        new_is_package = new_path.name == "__init__.py"
        lines = [bindings[n] for n in sorted(used_names(moving)) if n in bindings]
        if need_new:
            lines.append(f"from {old} import {', '.join(need_new)}")
        imports = sorted({spell(x, new, new_is_package) for x in lines})
        chunks = []
        for stmt in moving:
            first, last = statement_lines(source, stmt)
            chunks.append("".join(source.lines[first - 1 : last]))
        if self.exists(new_path):
            existing = self.read(new_path)
            body = existing.rstrip("\n") + "\n\n\n" + "\n\n\n".join(c.rstrip("\n") for c in chunks)
            body = add_imports(body, imports)
        else:
            doc = f'"""{new.rsplit(".", 1)[1]}: cut from {old.rsplit(".", 1)[1]}.py."""\n\n'
            head = "from __future__ import annotations\n\n" + "\n".join(imports) + "\n\n\n"
            body = doc + head + "\n\n\n".join(c.rstrip("\n") for c in chunks)
        self.write(new_path, body.rstrip("\n") + "\n")
        # OLD loses the moved statements (whole lines) and gains imports of what it still uses.
        keep = source.lines[:]
        for stmt in moving:
            first, last = statement_lines(source, stmt)
            for i in range(first - 1, last):
                keep[i] = ""
        remaining = re.sub(r"\n{4,}", "\n\n\n", "".join(keep))
        if need_old:
            remaining = add_imports(
                remaining, [spell(f"from {new} import {', '.join(need_old)}", old, is_package)]
            )
        if not staying:
            self.overlay[path] = None
            if not self.dry_run:
                subprocess.run(["git", "rm", "-q", "-f", str(path)], cwd=ROOT, check=True)
            self.report.append(f"deleted {old} (everything moved)")
        else:
            self.write(path, remaining)
        moved = {n: (new, n) for n in names if n not in exported}
        self.rewrite_importers(old, moved, skip={path, new_path})
        self.report.append(
            f"split {old} -> {new}: {len(names)} names, {sum(c.count(chr(10)) for c in chunks)}"
            " lines"
        )

    # -- move ----------------------------------------------------------------------------
    def move(self, old: str, new: str) -> None:
        path = module_path(old)
        new_path = (ROOT / Path(*new.split("."))).with_suffix(".py")
        text = self.read(path)
        tree = ast.parse(text)
        source = Source(path, text)
        for node in ast.walk(tree):  # re-base the module's own relative imports
            if isinstance(node, ast.ImportFrom) and node.level:
                target = absolute(old, False, node.level, node.module)
                listed = ", ".join(
                    a.name + (f" as {a.asname}" if a.asname else "") for a in node.names
                )
                line = spell(f"from {target} import {listed}", new, False)
                source.edits.append((*source.span(node), line))
        if not self.dry_run:
            new_path.parent.mkdir(parents=True, exist_ok=True)
            init = new_path.parent / "__init__.py"
            if not init.exists():
                init.write_text(f'"""{new.rsplit(".", 1)[0]}."""\n')
            subprocess.run(["git", "mv", str(path), str(new_path)], cwd=ROOT, check=True)
        self.write(new_path, source.apply())
        names = {n for s in tree.body for n in defined_names(s)}
        self.rewrite_importers(old, {n: (new, n) for n in names}, whole=new, skip={new_path})
        self.report.append(f"moved {old} -> {new}")

    # -- importers -----------------------------------------------------------------------
    def rewrite_importers(
        self,
        old: str,
        moved: Dict[str, Tuple[str, str]],
        *,
        whole: Optional[str] = None,
        skip: Iterable[Path] = (),
    ) -> None:
        """Point every importer of ``old`` at where each name now lives."""
        old_pkg, old_base = old.rsplit(".", 1)
        written = [p for p, text in self.overlay.items() if text is not None]
        for path in sorted(set(files()) | set(written)):
            if path in set(skip) or not self.exists(path):
                continue
            text = self.read(path)
            if old_base not in text:
                continue
            importer = module_of(path)
            is_package = path.name == "__init__.py"
            source = Source(path, text)
            tree = ast.parse(text)
            local_names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
            aliases: Dict[str, ast.ImportFrom] = {}
            extra: List[Tuple[ast.stmt, str]] = []  # imports to add beside a statement
            for node in ast.walk(tree):
                if not isinstance(node, ast.ImportFrom):
                    continue
                target = absolute(importer, is_package, node.level, node.module)
                rel = bool(node.level)
                if target == old:  # from OLD import a, b
                    groups: Dict[str, List[str]] = {}
                    for alias in node.names:
                        dest, name = moved.get(alias.name, (whole or old, alias.name))
                        as_ = alias.asname
                        if name != alias.name and not as_:  # renamed: rename the uses too
                            for use in ast.walk(tree):
                                if isinstance(use, ast.Name) and use.id == alias.name:
                                    source.edits.append((*source.span(use), name))
                        groups.setdefault(dest, []).append(name + (f" as {as_}" if as_ else ""))
                    out = []
                    for dest, group in groups.items():
                        line = f"from {dest} import {', '.join(group)}"
                        out.append(spell(line, importer, is_package) if rel else line)
                    indent = " " * node.col_offset
                    new = ("\n" + indent).join(out)
                    source.edits.append((*source.span(node), keep_comments(source, node, new)))
                elif target == old_pkg and any(a.name == old_base for a in node.names):
                    for alias in node.names:
                        if alias.name == old_base:
                            aliases[alias.asname or alias.name] = node
                            if whole:
                                extra.append((node, whole))
            for bound, node in aliases.items():
                wanted: Dict[str, str] = {}
                for sub in ast.walk(tree):
                    if (
                        isinstance(sub, ast.Attribute)
                        and isinstance(sub.value, ast.Name)
                        and sub.value.id == bound
                        and sub.attr in moved
                    ):
                        dest, name = moved[sub.attr]
                        if whole or dest == old:
                            if name != sub.attr:
                                start, end = source.span(sub)
                                source.edits.append((start, end, f"{bound}.{name}"))
                            continue
                        dest_base = dest.rsplit(".", 1)[1]
                        local = dest_base
                        if local in local_names - {bound} or local == bound:
                            local = f"{dest.split('.')[-2].lstrip('_')}_{dest_base}"
                        wanted[dest] = local
                        start, end = source.span(sub)
                        source.edits.append((start, end, f"{local}.{name}"))
                for dest, local in wanted.items():
                    dest_pkg, dest_base = dest.rsplit(".", 1)
                    spelled = dest_base + (f" as {local}" if local != dest_base else "")
                    line = f"from {dest_pkg} import {spelled}"
                    extra.append((node, spell(line, importer, is_package) if node.level else line))
            if whole:
                for node, _ in [e for e in extra if e[1] == whole]:
                    assert isinstance(node, ast.ImportFrom)
                    names = []
                    for alias in node.names:
                        if alias.name == old_base:
                            names.append(f"{whole.rsplit('.', 1)[1]} as {alias.asname or old_base}")
                        else:
                            names.append(
                                alias.name + (f" as {alias.asname}" if alias.asname else "")
                            )
                    line = f"from {whole.rsplit('.', 1)[0]} import {', '.join(names)}"
                    if node.level:
                        line = spell(line, importer, is_package)
                    source.edits.append((*source.span(node), keep_comments(source, node, line)))
                extra = [e for e in extra if e[1] != whole]
            for node, line in extra:
                start, end = source.span(node)
                indent = " " * node.col_offset
                source.edits.append((end, end, "\n" + indent + line))
            if source.edits:
                self.write(path, source.apply())
                for sub in ast.walk(tree):
                    if isinstance(sub, ast.Name) and sub.id in aliases and not whole:
                        # a bare module object passed on: a patch of it may miss moved names
                        if _bare_use(tree, sub):
                            self.report.append(
                                f"CHECK {path.relative_to(ROOT)}:{sub.lineno}: `{sub.id}` used "
                                "as a bare module (monkeypatch target?)"
                            )

    def finish(self) -> None:
        changed = sorted(str(p) for p in self.touched if self.exists(p))
        if changed and not self.dry_run:
            subprocess.run(
                ["ruff", "check", "--fix", "--select", "I,F401", "-q", *changed],
                cwd=ROOT,
                check=False,
            )
            subprocess.run(["ruff", "format", "-q", *changed], cwd=ROOT, check=False)
        for line in self.report:
            print(line)
        print(f"{len(changed)} files written" + (" (dry run: none)" if self.dry_run else ""))
        crossing = private_imports()
        for line in crossing:
            print("private name crosses a module line:", line)


def _bare_use(tree: ast.Module, name: ast.Name) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and any(a is name for a in node.args):
            return True
    return False


def dunder_all(tree: ast.Module) -> List[str]:
    """The names a module's literal ``__all__`` lists."""
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets
        ):
            return [e.value for e in getattr(stmt.value, "elts", []) if isinstance(e, ast.Constant)]
    return []


def keep_comments(source: Source, node: ast.stmt, new: str) -> str:
    """``new`` with the comments the replaced statement carried (``# noqa: E402``) on its first
    line."""
    start, end = source.span(node)
    comments = re.findall(r"#[^\n]*", source.text[start:end])
    if not comments:
        return new
    first, _, rest = new.partition("\n")
    return f"{first}  {'  '.join(comments)}" + (f"\n{rest}" if rest else "")


def add_imports(text: str, lines: List[str]) -> str:
    """Insert import lines after the module's last top-level import (ruff sorts them later)."""
    tree = ast.parse(text)
    last = max(
        (s.end_lineno or 0 for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))),
        default=0,
    )
    if last == 0:
        doc = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) else None
        last = doc.end_lineno or 0 if doc else 0
    parts = text.splitlines(keepends=True)
    return "".join(parts[:last]) + "".join(x + "\n" for x in lines) + "".join(parts[last:])


def replace_names(text: str, mapping: Dict[str, str]) -> str:
    """Replace NAME tokens, and the names inside f-string fields and string annotations
    (``"Optional[Name]"``), never prose in strings or comments; every other byte is kept."""
    source = Source(Path("."), text)
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        start = source.offset(*tok.start)
        if tok.type == tokenize.NAME and tok.string in mapping:
            source.edits.append((start, start + len(tok.string), mapping[tok.string]))
        elif tok.type == tokenize.STRING:
            prefix = re.match(r"[A-Za-z]*", tok.string).group(0).lower()  # type: ignore[union-attr]
            body = tok.string[len(prefix) :].strip("\"'")
            annotation = bool(re.fullmatch(r"[A-Za-z_][\w\[\], .|]*", body)) and not re.search(
                r"\w \w", body
            )  # "Optional[Name]", not "Name is prose"
            if "f" not in prefix and not annotation:
                continue
            for old, new in mapping.items():
                pattern = rf"(?<![\w.]){re.escape(old)}\b"
                for match in re.finditer(pattern, tok.string):
                    inside = tok.string[: match.start()]
                    if annotation or inside.count("{") > inside.count("}"):
                        at = start + match.start()
                        source.edits.append((at, at + len(old), new))
    return source.apply()


def private_imports() -> List[str]:
    found = []
    for path in files():
        if not path.is_relative_to(ROOT / PACKAGE):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (
                node.level or "constructs_rust" in (node.module or "")
            ):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} {alias.name}")
    return found


def main(argv: List[str]) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        sys.exit(__doc__)
    mover = Mover(dry_run="--dry-run" in argv)
    for number, raw in enumerate(Path(argv[0]).read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].split()
        if not line:
            continue
        op, args = line[0], line[1:]
        if op == "rename" and len(args) == 3:
            mover.rename(*args)
        elif op == "split" and len(args) >= 3:
            mover.split(args[0], args[1], args[2:])
        elif op == "move" and len(args) == 2:
            mover.move(*args)
        else:
            sys.exit(f"{argv[0]}:{number}: cannot read {raw!r}")
    mover.finish()


if __name__ == "__main__":
    main(sys.argv[1:])
