"""Use it from another app, as the README says: build the wheel, install it into a fresh venv
outside the repository and synthesize a minimal app there (bundling skipped, no sys.path tricks).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from ..conftest import FIXTURES, ROOT

pytestmark = pytest.mark.wheel

APP = """\
import sys

import aws_cdk as cdk

import constructs_rust
from constructs_rust import BundlingOptions, RustFunction, UrlOptions

app = cdk.App(outdir="cdk.out", context={"aws:cdk:bundling-stacks": []})  # no build
stack = cdk.Stack(app, "UserStack")
RustFunction(
    stack,
    "Api",
    manifest_path="crate",
    binary_name="fx_single",
    bundling=BundlingOptions(profile="release"),
    url=UrlOptions(),
)
app.synth()
print(constructs_rust.__file__)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("stacks", "tests", "app")))
"""

_COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "cdk.out",
    "target",
    "build",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".setup",
    "tests",
    "bench",
    "lambdas",
)


def _run(argv: list, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{argv}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _declared_minor() -> int:
    """The oldest Python 3 minor version pyproject.toml declares (``requires-python``)."""
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'requires-python = ">=3\.(\d+)"', text)
    assert match, "requires-python must be a >=3.N floor"
    return int(match.group(1))


def _pyenv_pythons() -> dict:
    """minor version → interpreter, from pyenv (the machine's 3.9–3.13) and PATH."""
    found = {}
    for exe in sorted(Path(os.path.expanduser("~/.pyenv/versions")).glob("3.*/bin/python3")):
        minor = int(exe.parent.parent.name.split(".")[1])
        found[minor] = exe
    for minor in range(8, 20):
        on_path = shutil.which(f"python3.{minor}")
        if on_path and minor not in found:
            found[minor] = Path(on_path)
    return found


def _pythons() -> list:
    """The oldest declared Python and the newest one available here."""
    found = _pyenv_pythons()
    oldest = _declared_minor()
    newest = max(found) if found else sys.version_info.minor
    return [
        pytest.param(oldest, id=f"py3.{oldest}-oldest"),
        pytest.param(newest, id=f"py3.{newest}-newest"),
    ]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A pristine copy of the checkout (what a user's clone holds), so the check below sees
    # exactly what building from a path writes into it.
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=_COPY_IGNORE)
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)])
    left = sorted(p.name for p in source.iterdir() if p.name == "build" or "egg-info" in p.name)
    assert left == [], f"building from a path wrote {left} into the checkout (build_backend/)"
    (built,) = dist.glob("constructs_rust-*.whl")
    return built


@pytest.mark.parametrize("minor", _pythons())
def test_the_wheel_installs_and_synthesizes_in_a_fresh_venv(
    tmp_path: Path, wheel: Path, minor: int
) -> None:
    interpreter = _pyenv_pythons().get(minor)
    assert interpreter is not None, (
        f"Python 3.{minor} is not installed: `pyenv install 3.{minor}` (the wheel is tested on "
        "the oldest declared Python and the newest one here)"
    )

    names = zipfile.ZipFile(wheel).namelist()
    assert "constructs_rust/py.typed" in names
    # Every module of the package, in every room (pyproject lists the subpackages by name: one
    # left out there would be missing only from the wheel).
    package = Path(__file__).resolve().parents[2] / "constructs_rust"
    modules = {
        p.relative_to(package.parent).as_posix()
        for p in package.rglob("*.py")
        if "extension_harness" not in p.parts
    }
    assert "constructs_rust/testing/__init__.py" in modules and len(modules) > 60
    assert not modules - set(names), sorted(modules - set(names))
    assert "constructs_rust/local/cli.py" in names and "constructs_rust/__main__.py" in names
    for harness_file in ("Cargo.toml", "Cargo.lock", "src/main.rs"):  # ExtensionSimulator's
        assert f"constructs_rust/extension_harness/{harness_file}" in names
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"constructs_rust"}, tops  # no stacks/, tests/, app.py

    # A fresh venv outside the repository, with the dependency versions this repo tests.
    env_dir = tmp_path / "venv"
    _run([str(interpreter), "-m", "venv", str(env_dir)])
    python = env_dir / "bin" / "python"
    version_line = _run([str(python), "--version"]).stdout
    assert f"Python 3.{minor}." in version_line, version_line
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(
        "".join(f"{p}=={version(p)}\n" for p in ("aws-cdk-lib", "constructs", "jsii"))
    )
    # --no-compile: byte-compiling all of aws-cdk-lib at install is ~30 CPU-seconds; the app
    # compiles only the modules it imports.
    pip_install = [str(python), "-m", "pip", "install", "-q", "--no-compile"]
    _run([*pip_install, "-c", str(constraints), str(wheel)])

    app_dir = tmp_path / "user-app"
    app_dir.mkdir()
    shutil.copytree(FIXTURES / "single", app_dir / "crate", ignore=shutil.ignore_patterns("target"))
    (app_dir / "app.py").write_text(APP)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = _run([str(python), "app.py"], cwd=app_dir, env=env)

    module_file, leaked = proc.stdout.strip().splitlines()[-2:]
    assert Path(module_file).is_relative_to(env_dir), module_file  # the installed copy
    assert leaked == "[]"
    template = json.loads((app_dir / "cdk.out" / "UserStack.template.json").read_text())
    (function,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
    ]
    assert function["Properties"]["Handler"] == "bootstrap"
    assert function["Properties"]["Runtime"] == "provided.al2023"
    assert function["Properties"]["Architectures"] == ["arm64"]
    assert any(r["Type"] == "AWS::Lambda::Url" for r in template["Resources"].values())

    # The console script the wheel installs, reading the app's assembly (#30).
    (app_dir / "cdk.json").write_text('{"app": "python app.py"}')
    command = subprocess.run(
        [
            str(env_dir / "bin" / "constructs-rust"),
            "local",
            "invoke",
            "UserStack/Nope",
            "--no-synth",
        ],
        cwd=app_dir,
        env=env,
        capture_output=True,
        text=True,
    )
    assert command.returncode == 2, command.stderr
    assert "known functions: UserStack/Api (not built)" in command.stderr, command.stderr
