"""setuptools' PEP 517 backend, run on a copy of the files a wheel needs.

``pip install /path/to/constructs_rust`` (and ``pip wheel``) would otherwise write ``build/``
and ``constructs_rust.egg-info/`` into the checkout it installs from. The wheel and sdist hooks
here build in a temporary copy (``pyproject.toml``, ``README.md``, ``constructs_rust/``), so the
checkout stays as it was. Editable installs (``pip install -e .``, what ``make setup`` does) use
setuptools' hooks unchanged: they must point at the checkout itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Any, Dict, Iterator, List, Optional

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401  (re-exported PEP 517/660 hooks)
    build_editable,
    get_requires_for_build_editable,
    prepare_metadata_for_build_editable,
)

#: What a wheel or sdist is made of (see pyproject.toml: packages, package-data, readme).
_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "constructs_rust")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "target", "*.egg-info", "build")

ConfigSettings = Optional[Dict[str, Any]]


@contextlib.contextmanager
def _in_a_copy() -> Iterator[None]:
    source = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="constructs-rust-build-") as tmp:
        copy = os.path.join(tmp, "src")
        os.mkdir(copy)
        for name in _SOURCES:
            path = os.path.join(source, name)
            if os.path.isdir(path):
                shutil.copytree(path, os.path.join(copy, name), ignore=_SKIP)
            elif os.path.isfile(path):
                shutil.copy2(path, os.path.join(copy, name))
        os.chdir(copy)
        try:
            yield
        finally:
            os.chdir(source)


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> List[str]:
    with _in_a_copy():  # setuptools runs egg_info here, which writes *.egg-info
        return list(_setuptools.get_requires_for_build_wheel(config_settings))


def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> List[str]:
    with _in_a_copy():
        return list(_setuptools.get_requires_for_build_sdist(config_settings))


def build_wheel(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: Optional[str] = None,
) -> str:
    target = os.path.abspath(wheel_directory)
    meta = os.path.abspath(metadata_directory) if metadata_directory else None
    with _in_a_copy():
        name: str = _setuptools.build_wheel(target, config_settings, meta)
        return name


def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    target = os.path.abspath(sdist_directory)
    with _in_a_copy():
        name: str = _setuptools.build_sdist(target, config_settings)
        return name


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: ConfigSettings = None
) -> str:
    target = os.path.abspath(metadata_directory)
    with _in_a_copy():
        name: str = _setuptools.prepare_metadata_for_build_wheel(target, config_settings)
        return name


__all__: List[str] = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]
