"""The README's "Use it in your own app", run as a user pastes it: the doc test.

The shell and file blocks are EXTRACTED from README.md (fenced blocks whose info string says
``own-app``; ``file=<path>`` blocks are written to that path), so the README and this test
cannot drift. Only two clearly marked placeholders are replaced: ``/path/to/constructs_rust``
(this checkout) and ``MOTO_PORT=5000`` (a free port). The script runs with the machine's PATH
without this repository's venv and node_modules (so ``cdk`` is not on it, as for a new user),
without ``JSII_SILENCE_*`` (the README's own line must silence the Node banner) and without AWS
or remote-cache variables.

What the test adds around the script, none of it changing the commands:

- a fixed working directory and ``CARGO_TARGET_DIR`` under ``~/.cache`` (the build's
  ``--remap-path-prefix`` puts the app's path into every crate's flags, so only a fixed path
  lets the next run reuse the compiled dependencies), serialised by a file lock, and the fast
  release profile the other fixture crates use (no LTO, 16 codegen units);
- ``CDK_DISABLE_VERSION_CHECK=1`` and ``CI=true`` (no update notice, no prompt);
- where GitHub cannot be reached (``cargo lambda new`` downloads its template from there), a
  ``cargo`` wrapper that adds ``--template`` with the stand-in in
  ``tests/fixtures/cargo_lambda_template`` to ``cargo lambda new`` (said on stderr).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import pytest
from filelock import FileLock

from ..conftest import ROOT

pytestmark = [pytest.mark.build, pytest.mark.invoke, pytest.mark.cli, pytest.mark.deploy]

SECTION = "## Use it in your own app"
#: ```sh own-app / ```python own-app file=path/in/app.py ... ```
_BLOCK = re.compile(r"^```(\w+) own-app(?: file=(\S+))?\n(.*?)^```\s*$", re.M | re.S)
CHECKOUT_PLACEHOLDER = "/path/to/constructs_rust"
PORT_PLACEHOLDER = "MOTO_PORT=5000"
WORK = Path(os.path.expanduser("~/.cache/constructs-rust-tests/readme-own-app"))
TEMPLATE_STANDIN = ROOT / "tests" / "fixtures" / "cargo_lambda_template"


def readme_blocks(text: str) -> List[Tuple[str, Optional[str], str]]:
    """(language, file or None, body) of every ``own-app`` block of the section, in order."""
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else len(text)]
    return [(m.group(1), m.group(2), m.group(3)) for m in _BLOCK.finditer(section)]


def readme_script(text: str, *, checkout: str, port: int) -> str:
    """The section's blocks as one bash script: shell blocks as they are, file blocks as
    quoted here-documents."""
    lines = ["set -eo pipefail", "set -x"]
    for language, file, body in readme_blocks(text):
        if file is not None:
            lines += [f"mkdir -p \"$(dirname '{file}')\"", f"cat > '{file}' <<'OWN_APP_EOF'"]
            lines += [body.rstrip("\n"), "OWN_APP_EOF"]
        elif language == "sh":
            lines.append(body.rstrip("\n"))
        else:
            raise AssertionError(f"an own-app {language} block needs file=<path>")
    script = "\n".join(lines) + "\n"
    assert script.count(CHECKOUT_PLACEHOLDER) >= 1 and script.count(PORT_PLACEHOLDER) == 1
    return script.replace(CHECKOUT_PLACEHOLDER, checkout).replace(
        PORT_PLACEHOLDER, f"MOTO_PORT={port}"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _github_reachable() -> bool:
    try:
        with socket.create_connection(("github.com", 443), timeout=3):
            return True
    except OSError:
        return False


def _user_path() -> str:
    """PATH without this repository's venv and node_modules (a new user has neither)."""
    ours = {os.path.realpath(p) for p in (ROOT, sys.prefix, ROOT / "node_modules")}
    keep = []
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        real = os.path.realpath(entry) if entry else ""
        if entry and not any(real == o or real.startswith(o + os.sep) for o in ours):
            keep.append(entry)
    return os.pathsep.join(keep)


def _cargo_wrapper(directory: Path, real_cargo: str) -> None:
    """``cargo`` that adds the stand-in template to ``cargo lambda new``."""
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = directory / "cargo"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = lambda ] && [ "$2" = new ]; then\n'
        "  shift 2\n"
        f"  echo 'doc test: GitHub unreachable, cargo lambda new uses {TEMPLATE_STANDIN}' >&2\n"
        f'  exec "{real_cargo}" lambda new --template "{TEMPLATE_STANDIN}" "$@"\n'
        "fi\n"
        f'exec "{real_cargo}" "$@"\n'
    )
    wrapper.chmod(0o755)


def _checkout_state() -> set:
    return {p.name for p in ROOT.iterdir() if p.name == "build" or p.name.endswith(".egg-info")}


def test_the_readme_own_app_section_runs_as_written():
    text = (ROOT / "README.md").read_text()
    script = readme_script(text, checkout=str(ROOT), port=_free_port())
    WORK.mkdir(parents=True, exist_ok=True)
    with FileLock(str(WORK / ".lock")):
        app = WORK / "my-service"
        shutil.rmtree(app, ignore_errors=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("JSII_SILENCE", "AWS_", "CONSTRUCTS_RUST_", "CDK_", "CARGO_"))
            and k not in ("VIRTUAL_ENV", "PYTHONPATH", "RUSTC")
            or k == "CARGO_HOME"
        }
        env.update(
            PATH=_user_path(),
            CARGO_TARGET_DIR=str(WORK / "target"),
            CARGO_PROFILE_RELEASE_LTO="false",
            CARGO_PROFILE_RELEASE_CODEGEN_UNITS="16",
            CDK_DISABLE_VERSION_CHECK="1",
            CI="true",
        )
        if os.environ.get("RUSTC"):  # the Makefile's fallback to Debian's rustc (aarch64 std)
            env["RUSTC"] = os.environ["RUSTC"]
        if not _github_reachable():
            real_cargo = shutil.which("cargo", path=env["PATH"])
            assert real_cargo, "cargo (rustup) must be on PATH"
            _cargo_wrapper(WORK / "wrapper", real_cargo)
            env["PATH"] = f"{WORK / 'wrapper'}{os.pathsep}{env['PATH']}"
        (WORK / "own-app.sh").write_text(script)
        before = _checkout_state()
        proc = subprocess.Popen(
            ["bash", str(WORK / "own-app.sh")],
            cwd=WORK,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            output, _ = proc.communicate(timeout=1500)
        finally:
            try:  # the script's own group: moto_server when a step failed before `kill`
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            proc.wait()
        (WORK / "own-app.log").write_text(output)
        tail = output[-6000:]
        assert proc.returncode == 0, f"the README's own-app path failed:\n{tail}"
        assert "end-of-life" not in output, "the README's line silences jsii's Node banner"
        assert "2 passed" in output, tail
        assert re.search(r"MyServiceStack-Api[\w-]* provided\.al2023", output), tail
        assert re.search(r"MyServiceStack-Worker[\w-]* provided\.al2023", output), tail
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", "lambdas/target/release/api"], cwd=app, check=False
        )
        assert ignored.returncode == 0, "the README's .gitignore line keeps target/ out of git"
        assert _checkout_state() == before, "pip install <checkout> wrote into the checkout"
