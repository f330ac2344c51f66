"""Griffe extension of the docs site's API reference (mkdocs.yml loads it after griffe's own
``dataclasses`` extension): the reference shows what a user of the library imports and calls,
laid out like the CDK's (a signature, then a Parameters table of name, type, description and
default).

- Option dataclasses (``BundlingOptions``, ``UrlOptions``, ...) document each field with a
  docstring under it. The class gets a Parameters table built from those fields (type and
  default from the generated ``__init__``, description from the field's docstring), and the
  fields are not listed a second time as attributes.
- Any other class whose docstrings document no parameter gets the table too, from its
  ``__init__`` signature (types and defaults, no description).
- TypedDicts of keyword options (``FunctionOptions``, ``LayerOptions``) get a table of their
  keys and types (``Keys:``; none is required): they are the ``**`` keywords of a construct.
- Members whose name starts with ``_`` (dunders included) are not public, and bases from a
  private module (``constructs_rust._construct.wiring.RustFunctionWiring``) are not shown:
  ``Bases:`` then names only what a user can import (``aws_lambda.Function``).
- ``hidden``: members of public classes that are internal to the library (called by its own
  modules, so they keep their names), given as dotted paths.
- A class a public function or method returns (or a field of such a class holds) is public
  too when its module defines it under a public name, even if ``__all__`` leaves it out: a
  user handles it (``LambdaEmulator.invoke_streaming`` returns a ``StreamResult`` of
  ``StreamedChunk``). Computed before the fields are folded into the tables.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Iterator, List, Optional

import griffe


def _classes(obj: griffe.Object) -> Iterator[griffe.Class]:
    for member in obj.members.values():
        if member.is_alias:
            continue
        if isinstance(member, griffe.Class):
            yield member
            yield from _classes(member)
        elif isinstance(member, griffe.Module):
            yield from _classes(member)


def _private_base(base: Any) -> bool:
    path = getattr(base, "canonical_path", None) or str(base)
    return any(part.startswith("_") for part in path.split("."))


def _drop(cls: griffe.Class, name: str) -> None:
    """Leave a member out of the reference. (Deleted rather than marked ``public = False``: a
    class re-exported by another module, like ``testing.HttpResponse``, is rendered through an
    alias whose members do not see that mark.)"""
    del cls.members[name]


def _private_value(attribute: griffe.Attribute) -> bool:
    """An instance attribute's value is the code that computes it; a value naming a private
    name is no help to a reader either."""
    if attribute.value is None:
        return False
    if "instance-attribute" in attribute.labels:
        return True
    return any(part.startswith("_") for part in re.findall(r"[A-Za-z_]\w*", str(attribute.value)))


def _modules(module: griffe.Module) -> Iterator[griffe.Module]:
    yield module
    for member in module.members.values():
        if not member.is_alias and isinstance(member, griffe.Module):
            yield from _modules(member)


def _named_paths(annotation: Any) -> Iterator[str]:
    if isinstance(annotation, griffe.Expr):
        for part in annotation.iterate(flat=True):
            if isinstance(part, griffe.ExprName):
                yield part.canonical_path


def _handled_types(obj: griffe.Object) -> Iterator[str]:
    """Paths of the types a user gets from ``obj``: what its public functions and methods
    return, what its public attributes hold."""
    members = [obj] if isinstance(obj, griffe.Function) else []
    if isinstance(obj, griffe.Class):
        members += [m for n, m in obj.members.items() if not n.startswith("_") and not m.is_alias]
    for member in members:
        if isinstance(member, griffe.Function):
            yield from _named_paths(member.returns)
        elif isinstance(member, griffe.Attribute):
            yield from _named_paths(member.annotation)


def _target(obj: Optional[griffe.Object | griffe.Alias]) -> Optional[griffe.Object]:
    """The object itself, or what an alias of the package points at (None outside it)."""
    if obj is None or not obj.is_alias:
        return obj  # type: ignore[return-value]
    try:
        return obj.final_target  # type: ignore[union-attr,return-value]
    except griffe.AliasResolutionError:
        return None


def _publish_returned_classes(pkg: griffe.Module) -> None:
    for module in _modules(pkg):
        if not module.exports:
            continue
        work = [_target(module.members.get(name)) for name in module.exports]
        seen = {obj.path for obj in work if obj is not None}
        while work:
            obj = work.pop()
            if obj is None:
                continue
            for path in _handled_types(obj):
                name = path.rpartition(".")[2]
                owner = module.members.get(name)
                # defined here (not imported), under a public name, and that very class
                if owner is None or owner.is_alias or name.startswith("_") or owner.path in seen:
                    continue
                if isinstance(owner, griffe.Class) and owner.path == path:
                    seen.add(owner.path)
                    owner.public = True
                    work.append(owner)


def _has_section(docstring: griffe.Docstring, kind: griffe.DocstringSectionKind) -> bool:
    return any(section.kind is kind for section in docstring.parsed)


class PublicApi(griffe.Extension):
    def __init__(self, hidden: Optional[Iterable[str]] = None) -> None:
        super().__init__()
        self.hidden = set(hidden or ())

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        _publish_returned_classes(pkg)
        unused = set(self.hidden)
        for cls in _classes(pkg):
            cls.bases = [base for base in cls.bases if not _private_base(base)]
            for name, member in list(cls.members.items()):
                if name == "__init__":
                    member.public = False  # merged into the class's signature and table
                elif name.startswith("_") or member.path in self.hidden:
                    unused.discard(member.path)
                    _drop(cls, name)
                elif isinstance(member, griffe.Attribute) and _private_value(member):
                    member.value = None  # ``= plan.binary``, ``f"{_NAME}"``: code, not a value
            if "dataclass" in cls.labels:
                self._dataclass_parameters(cls)
            elif any(str(base).endswith("TypedDict") for base in cls.bases):
                self._typeddict_keys(cls)
            else:
                self._signature_parameters(cls)
        if pkg.name == "constructs_rust" and unused:
            raise ValueError(f"hidden names no member of a class: {sorted(unused)}")

    @staticmethod
    def _dataclass_parameters(cls: griffe.Class) -> None:
        init = cls.members.get("__init__")
        if not isinstance(init, griffe.Function):
            return
        if cls.docstring is None:  # the table is then the class's whole description
            cls.docstring = griffe.Docstring("", parent=cls, parser="google")
        if _has_section(cls.docstring, griffe.DocstringSectionKind.parameters):
            return
        parameters: List[griffe.DocstringParameter] = []
        for parameter in init.parameters:
            if parameter.name == "self":
                continue
            field = cls.members.get(parameter.name)
            description = field.docstring.value if field and field.docstring else ""
            parameters.append(
                griffe.DocstringParameter(
                    parameter.name,
                    description=description,
                    annotation=parameter.annotation,
                    value=parameter.default,
                )
            )
            if field is not None:
                _drop(cls, field.name)  # documented in the table, not again as an attribute
        cls.docstring.parsed.append(griffe.DocstringSectionParameters(parameters))

    @staticmethod
    def _signature_parameters(cls: griffe.Class) -> None:
        """A class whose docstring documents no parameter (none of ``Args:``) still gets the
        table, with the type and default of each parameter."""
        init = cls.members.get("__init__")
        if not isinstance(init, griffe.Function) or "__init__" not in cls.members:
            return
        if init.docstring is not None and _has_section(
            init.docstring, griffe.DocstringSectionKind.parameters
        ):
            return
        if cls.docstring is None:
            cls.docstring = griffe.Docstring("", parent=cls, parser="google")
        if _has_section(cls.docstring, griffe.DocstringSectionKind.parameters):
            return
        parameters = [
            griffe.DocstringParameter(
                ("**" if p.kind is griffe.ParameterKind.var_keyword else "")
                + ("*" if p.kind is griffe.ParameterKind.var_positional else "")
                + p.name,
                description="",
                annotation=p.annotation,
                value=p.default,
            )
            for p in init.parameters
            if p.name != "self"
        ]
        if parameters:
            cls.docstring.parsed.append(griffe.DocstringSectionParameters(parameters))

    @staticmethod
    def _typeddict_keys(cls: griffe.Class) -> None:
        if cls.docstring is None:
            cls.docstring = griffe.Docstring("", parent=cls, parser="google")
        keys = [m for m in cls.members.values() if isinstance(m, griffe.Attribute)]
        attributes = [
            griffe.DocstringAttribute(
                key.name,
                description=key.docstring.value if key.docstring else "",
                annotation=key.annotation,
            )
            for key in keys
        ]
        for key in keys:
            _drop(cls, key.name)
        cls.docstring.parsed.append(griffe.DocstringSectionAttributes(attributes, title="Keys:"))
