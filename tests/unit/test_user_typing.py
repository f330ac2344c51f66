"""A user's type checker sees the API: mypy --strict accepts a typical app and rejects bad calls.

The files are checked with the project's mypy settings and cache (`make lint` fills the cache
with aws-cdk-lib's types, so this takes seconds after the first run).
"""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

from ..conftest import ROOT

GOOD = textwrap.dedent(
    """
    from typing import Optional

    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from constructs import Construct

    from constructs_rust import (
        BundlingOptions,
        CommandHooks,
        ContainerBuild,
        FunctionOptions,
        RustDockerImageFunction,
        RustFunction,
        UrlOptions,
    )


    class UserStack(cdk.Stack):
        def __init__(self, scope: Construct, construct_id: str) -> None:
            super().__init__(scope, construct_id)
            api = RustFunction(
                self,
                "Api",
                manifest_path="lambdas/Cargo.toml",
                binary_name="api",
                architecture=lambda_.Architecture.X86_64,
                memory_size=512,
                timeout=cdk.Duration.seconds(5),
                environment={"RUST_LOG": "info"},
                log_retention=logs.RetentionDays.ONE_WEEK,
                bundling=BundlingOptions(
                    features=["json-logs"],
                    cargo_lambda_flags=["--locked"],
                    command_hooks=CommandHooks(before_build=["true"]),
                ),
                url=UrlOptions(invoke_mode=lambda_.InvokeMode.RESPONSE_STREAM),
            )
            url: Optional[lambda_.FunctionUrl] = api.url
            name: Optional[str] = api.binary_name
            shared: FunctionOptions = {"memory_size": 1024, "tracing": lambda_.Tracing.ACTIVE}
            RustDockerImageFunction(
                self,
                "Image",
                manifest_path="lambdas/hello_http",
                build=ContainerBuild.IN_DOCKER,
                url=UrlOptions(),
                **shared,
            )
            del url, name
    """
)

# Each line marked `# E` must be reported, and nothing else.
BAD = textwrap.dedent(
    """
    import aws_cdk as cdk
    from constructs import Construct

    from constructs_rust import BundlingOptions, RustDockerImageFunction, RustFunction


    class UserStack(cdk.Stack):
        def __init__(self, scope: Construct, construct_id: str) -> None:
            super().__init__(scope, construct_id)
            RustFunction(self, "A", manifest_path="x", memory_size="big")  # E
            RustFunction(self, "B", manifest_path="x", memroy_size=256)  # E
            RustFunction(self, "C", manifest_path="x", bundling=BundlingOptions(feature=["a"]))  # E
            RustFunction(self, "D")  # E
            RustDockerImageFunction(self, "E", manifest_path="x", timeout=30)  # E
            RustFunction(self, "F", "x")  # E
    """
)


def _mypy(tmp_path: Path, name: str, source: str) -> subprocess.CompletedProcess:
    path = tmp_path / name
    path.write_text(source)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "--no-error-summary",
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_a_typical_user_app_type_checks_strictly(tmp_path: Path) -> None:
    proc = _mypy(tmp_path, "good_app.py", GOOD)
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stdout + proc.stderr


def test_wrong_calls_are_each_reported(tmp_path: Path) -> None:
    proc = _mypy(tmp_path, "bad_app.py", BAD)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    expected = {n for n, line in enumerate(BAD.splitlines(), 1) if line.endswith("# E")}
    reported = {int(m) for m in re.findall(r"^\S*bad_app\.py:(\d+): error", proc.stdout, re.M)}
    assert reported == expected, proc.stdout
    assert 'Argument "memory_size" to "RustFunction" has incompatible type "str"' in proc.stdout
    assert 'Unexpected keyword argument "memroy_size" for "RustFunction"' in proc.stdout
