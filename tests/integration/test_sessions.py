"""Two CDK apps built one after the other in one Python process give the templates each gives
when built alone (in a process of its own): no memo, notice or queue leaks from one app to the
next, even when a crate changes between them (a user's pytest run of several stacks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ROOT

pytestmark = [pytest.mark.build]

APP = """
import json, sys
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from constructs_rust import RustFunction


def template(outdir, crates):
    app = cdk.App(outdir=outdir)
    stack = cdk.Stack(app, "S")
    for i, crate in enumerate(crates):
        RustFunction(stack, f"Fn{i}", manifest_path=crate,
                     architecture=lambda_.Architecture.X86_64)
    return Template.from_stack(stack).to_json()


if __name__ == "__main__":
    print(json.dumps(template(sys.argv[1], sys.argv[2:])))
"""


def _alone(app: Path, outdir: Path, crates: list) -> dict:
    proc = subprocess.run(
        [sys.executable, str(app), str(outdir), *map(str, crates)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_two_apps_in_one_process_give_what_each_gives_alone(copy_fixture, tmp_path):
    single = copy_fixture("single")
    other = copy_fixture("single", "other")
    app = tmp_path / "user_app.py"
    app.write_text(APP)
    sys.path.insert(0, str(tmp_path))
    try:
        import user_app  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))

    first_alone = _alone(app, tmp_path / "a1", [single])
    first = user_app.template(str(tmp_path / "i1"), [str(single)])
    main = single / "src" / "main.rs"
    main.write_text(main.read_text() + "\n// edited between the two apps\n")
    second = user_app.template(str(tmp_path / "i2"), [str(single), str(other)])
    second_alone = _alone(app, tmp_path / "a2", [single, other])

    assert first == first_alone
    assert second == second_alone

    def code_of(template: dict, logical_prefix: str) -> str:
        (fn,) = [
            r
            for k, r in template["Resources"].items()
            if k.startswith(logical_prefix) and r["Type"] == "AWS::Lambda::Function"
        ]
        return json.dumps(fn["Properties"]["Code"])

    assert code_of(first, "Fn0") != code_of(second, "Fn0"), "the edit reached the second app"
