"""Every options type a public constructor's signature uses is importable from the package."""

import dataclasses
import typing

import typing_extensions

import constructs_rust
from constructs_rust import RustBuildCache, RustDockerImageFunction, RustExtension, RustFunction

CONSTRUCTS = (RustFunction, RustDockerImageFunction, RustExtension, RustBuildCache)


def _library_types(hint, seen):
    """The constructs_rust classes in ``hint``, and in their fields (dataclasses, TypedDicts)."""
    for arg in typing.get_args(hint):
        _library_types(arg, seen)
    if not isinstance(hint, type) or not hint.__module__.startswith("constructs_rust"):
        return seen
    if hint in seen:
        return seen
    seen.add(hint)
    if dataclasses.is_dataclass(hint) or typing_extensions.is_typeddict(hint):
        for field in typing.get_type_hints(hint).values():
            _library_types(field, seen)
    return seen


def test_every_options_type_of_a_public_signature_is_exported():
    used = set()
    for construct in CONSTRUCTS:
        hints = typing.get_type_hints(construct.__init__)
        for name, hint in hints.items():
            if name != "return":
                _library_types(hint, used)
    names = {t.__name__ for t in used}
    # The ones a signature uses today (the walk must find them, or it proves nothing).
    assert {
        "BundlingOptions",
        "CommandHooks",
        "ContainerBuild",
        "FunctionOptions",
        "LayerOptions",
        "UrlOptions",
    } <= names
    for t in used:
        assert t.__name__ in constructs_rust.__all__, f"{t.__module__}.{t.__name__} not exported"
        assert getattr(constructs_rust, t.__name__) is t


def test_the_package_only_re_exports():
    for name in constructs_rust.__all__:
        value = getattr(constructs_rust, name)
        module = getattr(value, "__module__", None)
        if module is not None and isinstance(value, type):
            assert module != "constructs_rust", f"{name} is defined in __init__.py"
