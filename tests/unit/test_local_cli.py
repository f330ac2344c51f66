"""The ``constructs-rust`` command's entry points and what ``local serve`` watches (#30)."""

import subprocess
import sys
import time

from constructs_rust.local import main
from constructs_rust.local.watcher import Watcher

from ..conftest import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def test_console_script_and_python_m_are_the_same_command():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"constructs-rust": "constructs_rust.local:main"}
    proc = subprocess.run(
        [sys.executable, "-m", "constructs_rust", "local", "invoke", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and "usage: constructs-rust local invoke" in proc.stdout


def test_reading_an_assembly_loads_no_aws_cdk_and_the_public_api_still_does():
    """``local invoke --no-synth`` and ``local serve --no-synth`` start without aws-cdk-lib and
    jsii (#43: a warm invoke costs a process start); ``import constructs_rust`` is lazy, and
    every public name, of the package and of ``constructs_rust.testing``, still imports."""
    check = (
        "import sys\n"
        "import constructs_rust, constructs_rust.testing\n"
        "from constructs_rust.local import cli, invoke, serve\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii'))\n"
        "assert not loaded, loaded\n"
        "from constructs_rust import *\n"
        "from constructs_rust.testing import *\n"
        "from constructs_rust import RustFunction, BundlingOptions\n"
        "from constructs_rust.testing import ExtensionSimulator, no_bundling_app\n"
        "import aws_cdk\n"
        "assert RustFunction.__module__ == 'constructs_rust.function'\n"
        "assert set(constructs_rust.__all__) <= set(dir(constructs_rust))\n"
        "assert set(constructs_rust.testing.__all__) <= set(dir(constructs_rust.testing))\n"
        "print('ok')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


def test_bad_env_value_is_one_line(capsys, tmp_path):
    assert main(["local", "invoke", "X", "--env", "NOVALUE", "--app-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "constructs-rust: error: --env 'NOVALUE': give NAME=VALUE\n"


def test_no_cdk_json_is_one_line(capsys, tmp_path):
    assert main(["local", "serve", "--app-dir", str(tmp_path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("constructs-rust: error: no cdk.json in ") and err.count("\n") == 1


#: One file the watch settings below cover, then one in each place never watched.
FILES = (
    "lambdas/a/src/main.rs",
    "lambdas/target/x",
    "cdk.out/m.json",
    "README.md",
    "lambdas/.git/HEAD",
    "lambdas/node_modules/p",
)


def test_the_watcher_sees_what_cdk_json_watches_and_never_builds_or_the_assembly(tmp_path):
    for rel in FILES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("1")
    watcher = Watcher(tmp_path, {"include": ["lambdas/**"]}, exclude=[tmp_path / "cdk.out"])
    assert watcher.changed() == []
    time.sleep(0.01)
    for rel in FILES:
        (tmp_path / rel).write_text("22")
    (tmp_path / "lambdas" / "a" / "src" / "new.rs").write_text("")
    assert watcher.changed() == ["lambdas/a/src/main.rs", "lambdas/a/src/new.rs"]
    (tmp_path / "lambdas" / "a" / "src" / "new.rs").unlink()
    assert watcher.changed() == ["lambdas/a/src/new.rs"]
    excluded = Watcher(tmp_path, {"exclude": ["lambdas/a"]})
    (tmp_path / "lambdas" / "a" / "src" / "main.rs").write_text("333")
    assert excluded.changed() == []
