"""An uncaught error of this library reaches the person once: its message and the user's line,
without jsii's JavaScript stack, the chained Python traceback or the message repeated; other
exceptions are reported by Python as always."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from constructs_rust import ConfigurationError
from constructs_rust._support import reporting

from ..conftest import LAMBDAS, ROOT

APP = """
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs_rust import RustExtension, RustFunction

app = cdk.App(context={{"aws:cdk:bundling-stacks": []}})
stack = cdk.Stack(app, "S")
PY = lambda_.Runtime.PYTHON_3_12
{body}
"""


def _run(tmp_path: Path, body: str, **env: str) -> subprocess.CompletedProcess[str]:
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(APP).format(body=textwrap.dedent(body)))
    environ = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        **env,
    }
    return subprocess.run(
        [sys.executable, str(app)], capture_output=True, text=True, env=environ, timeout=300
    )


def test_a_configuration_error_prints_its_message_and_the_users_line_only(tmp_path):
    call = f"RustFunction(stack, 'Fn', manifest_path={str(LAMBDAS / 'echo')!r}, runtime=PY)"
    run = _run(tmp_path, call)
    assert run.returncode == 1
    err = run.stderr
    assert err.startswith("Error: [S/Fn] runtime="), err
    assert err.count("OS-only runtime") == 1
    assert "Traceback" not in err and "jsii" not in err
    assert f'raised at File "{tmp_path / "app.py"}", line 9: {call}' in err, err
    assert "end-of-life" not in err, "our tests name the Node major in the silencing variable"
    full = _run(tmp_path, call, CONSTRUCTS_RUST_TRACEBACK="1")
    assert "Traceback (most recent call last)" in full.stderr, (
        "the opt-out restores Python's report"
    )


def test_a_validation_error_from_synth_is_printed_once_without_the_javascript_stack(tmp_path):
    run = _run(
        tmp_path,
        f"""
        ext = RustExtension(stack, "Ext", manifest_path={str(LAMBDAS / "Cargo.toml")!r},
                            binary_name="telemetry_summary")
        RustFunction(stack, "Fn", manifest_path={str(LAMBDAS / "echo")!r},
                     architecture=lambda_.Architecture.X86_64, layers=[ext])
        app.synth()
        """,
    )
    assert run.returncode == 1
    err = run.stderr
    assert err.count("S/Ext is built for arm64") == 1, err
    assert err.startswith("Error: Validation failed with the following errors:"), err
    assert "JavaScriptError" not in err and "Traceback" not in err and "program.js" not in err


def test_other_exceptions_keep_pythons_report(tmp_path):
    run = _run(tmp_path, "raise ValueError('not ours')")
    assert (
        "Traceback (most recent call last)" in run.stderr and "ValueError: not ours" in run.stderr
    )


class JavaScriptError(Exception):
    """Stands in for jsii.errors.JavaScriptError (matched by name)."""


def test_only_jsii_errors_carrying_our_validation_text_are_ours():
    ours = reporting.note_validation_error("[S/Fn] cargo lambda build failed (exit 101) for x")
    wrapped = RuntimeError(f"ValidationFailedWithErrors: Validation failed:\n  {ours}")
    wrapped.__cause__ = JavaScriptError("stack")
    assert reporting.is_ours(wrapped)
    foreign = RuntimeError("ValidationFailedWithErrors: Validation failed:\n  [S/B] bucket")
    foreign.__cause__ = JavaScriptError("stack")
    assert not reporting.is_ours(foreign), "another construct's validation error keeps its stacks"
    unchained = RuntimeError(f"ValidationFailedWithErrors: {ours}")
    assert not reporting.is_ours(unchained)
    assert reporting.is_ours(ConfigurationError("bad", prop="x", value=1))
    assert not reporting.is_ours(ValueError("x"))


def test_the_users_line_in_the_short_report_is_redacted(tmp_path):
    """The quoted source line is the user's, and it can hold a remote with a token."""
    token_url = "https://ci-bot:ghp_SeCrEt123@git.example.com/team/fns.git"
    call = (
        f"RustFunction(stack, 'Fn', manifest_path={str(LAMBDAS / 'echo')!r}, runtime=PY)"
        f"  # {token_url}"
    )
    run = _run(tmp_path, call)
    assert run.returncode == 1
    assert "raised at" in run.stderr, run.stderr
    assert "ghp_SeCrEt123" not in run.stderr and "ci-bot" not in run.stderr, run.stderr
    assert "https://***@git.example.com/team/fns.git" in run.stderr, run.stderr
