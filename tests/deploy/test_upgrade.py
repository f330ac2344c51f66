"""Upgrading a deployed stack from the previous release to this checkout, on moto.

The previous release created a function's log group and role as SIBLINGS in the parent scope
(``<id>LogGroup``, ``<id>ServiceRole``); this one makes them children (``<id>/LogGroup``,
``<id>/ServiceRole``), so their logical ids change. CloudFormation then creates the new ones,
points the function at them and removes the old: the old RETAIN log group is kept as an orphan
with its logs, the new one is unnamed (CloudFormation names it), so the two cannot collide, and
the old role is deleted. This test deploys the stack as the previous release synthesizes it,
writes a log event into its log group, updates it with this checkout's library, and checks all
of that through CloudFormation, Logs and IAM.

The previous release's library is taken from git (``git archive``), so it needs the
repository's history (a clean clone has it).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import textwrap
import time
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Dict

import pytest

import deploy_local
import moto_gaps

from .conftest import ROOT, require_tools

pytestmark = pytest.mark.deploy

#: The last release before log group and role became children (main as it was deployed).
PREVIOUS_RELEASE = "4bbfbeb96e3b8d34b248c5abb2be6c474f749b98"
STACK = "UpgradeTest"

APP = textwrap.dedent(
    """
    import os

    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from constructs_rust import RustFunction

    HERE = os.path.dirname(os.path.abspath(__file__))
    app = cdk.App()
    stack = cdk.Stack(app, "UpgradeTest", env=cdk.Environment(
        account=os.environ["CONSTRUCTS_RUST_ENV_ACCOUNT"], region=os.environ["AWS_DEFAULT_REGION"]))
    # As EchoStack: the library's defaults (a one-month log group kept on delete, its own role).
    fn = RustFunction(stack, "Echo", manifest_path=os.path.join(HERE, "crates", "single"),
                      architecture=lambda_.Architecture.X86_64)
    cdk.CfnOutput(stack, "EchoName", value=fn.function_name)
    app.synth()
    """
)

#: What a `cdk init` app carries: with this flag aws-cdk itself would add a NAMED log group.
CDK_JSON = {
    "app": "python3 app.py",
    "context": {"@aws-cdk/aws-lambda:useCdkManagedLogGroup": True},
}


def _previous_library(dest: Path) -> Path:
    """The previous release's ``constructs_rust`` package, extracted under ``dest``."""
    try:
        archive = subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "archive",
                "--format=tar",
                PREVIOUS_RELEASE,
                "constructs_rust",
            ],
            check=True,
            capture_output=True,
        ).stdout
    except subprocess.CalledProcessError as exc:
        pytest.fail(
            f"the previous release {PREVIOUS_RELEASE[:12]} is not in this clone's history "
            f"(a shallow clone?): {exc.stderr.decode(errors='replace').strip()}"
        )
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def _by_path(template: dict, kind: str) -> Dict[str, str]:
    """``aws:cdk:path`` (without the stack and ``/Resource``) -> logical id, for one type."""
    return {
        r["Metadata"]["aws:cdk:path"].split("/", 1)[1].removesuffix("/Resource"): logical
        for logical, r in template["Resources"].items()
        if r["Type"] == kind
    }


def test_update_from_previous_release_keeps_old_logs_and_moves_to_children(
    tmp_path: Path, copy_fixture: Callable[..., Path]
) -> None:
    require_tools("cdk", "moto_server", "cargo-lambda")
    import boto3

    app_dir = tmp_path / "app"
    copy_fixture("single", "app/crates")
    (app_dir / "app.py").write_text(APP)
    (app_dir / "cdk.json").write_text(json.dumps(CDK_JSON))
    previous = _previous_library(tmp_path / "previous")
    log_path = tmp_path / "cdk.log"

    with (
        deploy_local.MotoServer(log_path=tmp_path / "moto.log") as moto,
        open(log_path, "w") as log,
    ):
        env = deploy_local.local_aws_env(moto.endpoint)
        old_env = {**env, "PYTHONPATH": str(previous)}

        def clients(service: str):  # noqa: ANN202
            return boto3.client(
                service,
                endpoint_url=moto.endpoint,
                region_name=deploy_local.REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )

        cf, logs, iam = clients("cloudformation"), clients("logs"), clients("iam")

        def resources() -> Dict[str, str]:
            return {
                r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cf.describe_stack_resources(StackName=STACK)["StackResources"]
                if "LogicalResourceId" in r  # moto also lists the CDKMetadata-less entries
            }

        def run(step: Callable[..., None], environment: Dict[str, str], **kwargs: object) -> None:
            try:
                step(env=environment, cwd=app_dir, log=log, **kwargs)
            except BaseException:
                log.flush()
                print("\n".join(log_path.read_text(errors="replace").splitlines()[-60:]))
                raise

        run(deploy_local.bootstrap, env, timeout=300)

        # --- the previous release ----------------------------------------------------------
        out1 = tmp_path / "cdk.out.previous"
        run(deploy_local.synth, old_env, stacks=[STACK], outdir=out1, timeout=600)
        template1 = deploy_local.template_of(out1, STACK)
        groups1 = _by_path(template1, "AWS::Logs::LogGroup")
        roles1 = _by_path(template1, "AWS::IAM::Role")
        assert set(groups1) == {"EchoLogGroup"} and set(roles1) == {"EchoServiceRole"}, (
            "the previous release made siblings; is PREVIOUS_RELEASE right?"
        )
        run(deploy_local.deploy, env, stacks=[STACK], outdir=out1, timeout=300)
        physical1 = resources()
        old_group = physical1[groups1["EchoLogGroup"]]
        old_role = physical1[roles1["EchoServiceRole"]]
        function_logical = _by_path(template1, "AWS::Lambda::Function")["Echo"]
        function_name = physical1[function_logical]
        # What the function wrote while the previous release was deployed.
        logs.create_log_stream(logGroupName=old_group, logStreamName="before-upgrade")
        logs.put_log_events(
            logGroupName=old_group,
            logStreamName="before-upgrade",
            logEvents=[{"timestamp": int(time.time() * 1000), "message": "served by v-previous"}],
        )

        # --- this checkout -------------------------------------------------------------------
        out2 = tmp_path / "cdk.out.new"
        run(deploy_local.synth, env, stacks=[STACK], outdir=out2, timeout=600)
        template2 = deploy_local.template_of(out2, STACK)
        groups2 = _by_path(template2, "AWS::Logs::LogGroup")
        roles2 = _by_path(template2, "AWS::IAM::Role")
        assert set(groups2) == {"Echo/LogGroup"} and set(roles2) == {"Echo/ServiceRole"}
        new_group_resource = template2["Resources"][groups2["Echo/LogGroup"]]
        assert "LogGroupName" not in new_group_resource["Properties"], "unnamed: no collision"
        assert new_group_resource["DeletionPolicy"] == "Retain"
        # moto drops LoggingConfig (moto_gaps LAMBDA_LOGGING_CONFIG_IGNORED): the template says it.
        assert template2["Resources"][function_logical]["Properties"]["LoggingConfig"] == {
            "LogGroup": {"Ref": groups2["Echo/LogGroup"]}
        }, "same function logical id, pointed at its new child log group"

        run(deploy_local.deploy, env, stacks=[STACK], outdir=out2, timeout=300)
        (stack,) = cf.describe_stacks(StackName=STACK)["Stacks"]
        assert stack["StackStatus"] == "UPDATE_COMPLETE"
        physical2 = resources()
        assert physical2[function_logical] == function_name, "the function is updated in place"
        new_group = physical2[groups2["Echo/LogGroup"]]
        new_role = physical2[roles2["Echo/ServiceRole"]]
        assert new_group != old_group and new_role != old_role
        assert groups1["EchoLogGroup"] not in physical2, "the old group left the stack"

        all_groups = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}
        assert all_groups[new_group].get("retentionInDays") == 30
        # AWS keeps a Retain resource an update removes, with its logs. moto deletes it
        # (moto_gaps UPDATE_REMOVAL_IGNORES_RETAIN, asserted in test_moto_gaps.py), so what is
        # checked here is that the old group carried the policy AWS honours.
        assert template1["Resources"][groups1["EchoLogGroup"]]["DeletionPolicy"] == "Retain"
        assert template1["Resources"][groups1["EchoLogGroup"]]["UpdateReplacePolicy"] == "Retain"
        if not moto_gaps.probe_update_removal_ignores_retain(SimpleNamespace(client=clients)):
            assert old_group in all_groups, "RETAIN: the previous release's log group is kept"
            kept = logs.get_log_events(logGroupName=old_group, logStreamName="before-upgrade")
            assert [e["message"] for e in kept["events"]] == ["served by v-previous"]
        assert not any(name.startswith("/aws/lambda/") for name in all_groups), (
            "no named /aws/lambda/<fn> group from the feature flag"
        )
        assert (
            iam.get_role(RoleName=new_role)["Role"]["Arn"]
            == (clients("lambda").get_function_configuration(FunctionName=function_name)["Role"])
        )
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            iam.get_role(RoleName=old_role)

        # A second deploy of the same assembly is a no-op, not a failure.
        run(deploy_local.deploy, env, stacks=[STACK], outdir=out2, timeout=300)
        assert resources() == physical2
