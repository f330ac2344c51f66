"""The whole deploy cycle against a local AWS emulator (moto server): bootstrap, create, update,
destroy, with the pinned CDK CLI and real cargo-lambda builds of two std-only fixture crates.

What is checked through boto3 is only what moto really models (see scripts/moto_gaps.py):
function handler/runtime/role/code, the asset zip in the CDK staging bucket, log groups and
their retention, IAM roles, S3 objects, stack outputs and deletion.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Callable, Dict

import pytest

import deploy_local

from .conftest import require_tools

pytestmark = pytest.mark.deploy

STACK = "DeployLocalTest"
#: The whole test must finish within this; each CLI step gets what is left (capped).
BUDGET_SECONDS = 900

APP = textwrap.dedent(
    """
    import os

    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs

    from constructs_rust import RustFunction

    HERE = os.path.dirname(os.path.abspath(__file__))
    app = cdk.App()
    stack = cdk.Stack(app, "DeployLocalTest", env=cdk.Environment(
        account=os.environ["CONSTRUCTS_RUST_ENV_ACCOUNT"], region=os.environ["AWS_DEFAULT_REGION"]))
    # x86_64: the host's arch, no cross-compilation needed (moto ignores Architectures anyway).
    single = RustFunction(stack, "Single", manifest_path=os.path.join(HERE, "crates", "single"),
                          architecture=lambda_.Architecture.X86_64,
                          log_retention=logs.RetentionDays.ONE_WEEK,
                          log_removal_policy=cdk.RemovalPolicy.DESTROY)
    # The library defaults: one month retention, RETAIN on delete.
    api = RustFunction(stack, "Api", manifest_path=os.path.join(HERE, "crates", "workspace"),
                       binary_name="fx_api", architecture=lambda_.Architecture.X86_64)
    cdk.CfnOutput(stack, "SingleName", value=single.function_name)
    cdk.CfnOutput(stack, "ApiName", value=api.function_name)
    app.synth()
    """
)


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self, cap: float) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"deploy test exceeded its {BUDGET_SECONDS}s budget")
        return min(cap, remaining)


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _functions(template: dict) -> Dict[str, str]:
    """Construct id (Single/Api) -> logical id of its AWS::Lambda::Function."""
    out = {}
    for logical, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            path = resource["Metadata"]["aws:cdk:path"]  # DeployLocalTest/Single/Resource
            out[path.split("/")[1]] = logical
    return out


def _of_type(template: dict, resource_type: str, name: str) -> str:
    matches = [
        logical
        for logical, r in template["Resources"].items()
        if r["Type"] == resource_type
        and r["Metadata"]["aws:cdk:path"].split("/", 1)[1].startswith(name)
    ]
    assert len(matches) == 1, (resource_type, name, matches)
    return matches[0]


class Cloud:
    """boto3 clients on the emulator plus the helpers the checks share."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        session = boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=deploy_local.REGION,
        )
        self.cf = session.client("cloudformation", endpoint_url=endpoint)
        self.lambda_ = session.client("lambda", endpoint_url=endpoint)
        self.logs = session.client("logs", endpoint_url=endpoint)
        self.iam = session.client("iam", endpoint_url=endpoint)
        self.s3 = session.client("s3", endpoint_url=endpoint)
        self.bucket = f"cdk-hnb659fds-assets-{deploy_local.ACCOUNT}-{deploy_local.REGION}"

    def physical_ids(self) -> Dict[str, str]:
        return {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in self.cf.describe_stack_resources(StackName=STACK)["StackResources"]
            if "LogicalResourceId" in r
        }

    def objects(self) -> Dict[str, object]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return {o["Key"]: o["LastModified"] for o in listing}


def _check_function_code(
    cloud: Cloud, template: dict, outdir: Path, logical: str, name: str
) -> str:
    """The function's code is the staged zip, and that zip holds the synthesized bootstrap.

    Returns the zip's S3 key.
    """
    resource = template["Resources"][logical]
    key = resource["Properties"]["Code"]["S3Key"]
    zipped = cloud.s3.get_object(Bucket=cloud.bucket, Key=key)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert archive.namelist() == ["bootstrap"]
        info = archive.getinfo("bootstrap")
        mode = info.external_attr >> 16
        assert mode & stat.S_IXUSR and mode & stat.S_IXOTH, oct(mode)
        deployed = archive.read("bootstrap")
    synthesized = (outdir / resource["Metadata"]["aws:asset:path"] / "bootstrap").read_bytes()
    assert deployed == synthesized, "the bootstrap in the staging bucket differs from cdk.out's"
    assert deployed[:4] == b"\x7fELF" and int.from_bytes(deployed[18:20], "little") == 0x3E, (
        "x86_64 ELF"
    )
    # moto computes CodeSha256 from the zip CloudFormation handed it: the function runs this zip.
    config = cloud.lambda_.get_function_configuration(FunctionName=name)
    assert config["CodeSha256"] == _sha256_b64(zipped)
    return key


def test_deploy_update_destroy(tmp_path: Path, copy_fixture: Callable[..., Path]) -> None:
    require_tools("cdk", "moto_server", "cargo-lambda")
    deadline = Deadline(BUDGET_SECONDS)
    app_dir = tmp_path / "app"
    copy_fixture("single", "app/crates")
    copy_fixture("workspace", "app/crates")
    (app_dir / "app.py").write_text(APP)
    (app_dir / "cdk.json").write_text(json.dumps({"app": "python3 app.py"}))
    times: Dict[str, float] = {}
    log_path = tmp_path / "cdk.log"

    with (
        deploy_local.MotoServer(log_path=tmp_path / "moto.log") as moto,
        open(log_path, "w") as log,
    ):
        env = deploy_local.local_aws_env(moto.endpoint)
        cloud = Cloud(moto.endpoint)

        def step(label: str, fn: Callable[..., None], *, cap: float, **kwargs: object) -> None:
            started = time.monotonic()
            try:
                fn(env=env, cwd=app_dir, timeout=deadline.left(cap), log=log, **kwargs)
            except BaseException:
                log.flush()
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-60:])
                print(
                    f"--- {label} failed; cdk log tail:\n{tail}\n--- moto log "
                    f"tail:\n{moto.log_tail()}"
                )
                raise
            times[label] = time.monotonic() - started

        step("bootstrap", deploy_local.bootstrap, cap=300)
        # moto_gaps TOOLKIT_OUTPUTS_LOST: bootstrap goes through a change set, so CDKToolkit has
        # no outputs; harmless (the CLI reads the bootstrap version from SSM), but if moto
        # changes this, revisit moto_gaps.py.
        toolkit = cloud.cf.describe_stacks(StackName="CDKToolkit")["Stacks"][0]
        assert toolkit["StackStatus"] == "CREATE_COMPLETE" and not toolkit.get("Outputs")

        # --- create -------------------------------------------------------------------------
        out1 = tmp_path / "cdk.out.1"
        step("synth (build)", deploy_local.synth, stacks=[STACK], outdir=out1, cap=600)
        step("deploy", deploy_local.deploy, stacks=[STACK], outdir=out1, cap=300)
        template1 = json.loads((out1 / f"{STACK}.template.json").read_text())
        functions = _functions(template1)
        physical = cloud.physical_ids()
        names = {fn: physical[logical] for fn, logical in functions.items()}

        outputs = {
            o["OutputKey"]: o["OutputValue"]
            for o in cloud.cf.describe_stacks(StackName=STACK)["Stacks"][0].get("Outputs", [])
        }
        assert outputs == {"SingleName": names["Single"], "ApiName": names["Api"]}

        for fn in ("Single", "Api"):
            config = cloud.lambda_.get_function_configuration(FunctionName=names[fn])
            assert config["Handler"] == "bootstrap"
            assert config["Runtime"] == "provided.al2023"
            role_name = physical[_of_type(template1, "AWS::IAM::Role", f"{fn}/ServiceRole")]
            role = cloud.iam.get_role(RoleName=role_name)["Role"]
            assert config["Role"] == role["Arn"]
            principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
            assert principal == {"Service": "lambda.amazonaws.com"}
        keys1 = {
            fn: _check_function_code(cloud, template1, out1, functions[fn], names[fn])
            for fn in functions
        }

        log_groups = {
            fn: physical[_of_type(template1, "AWS::Logs::LogGroup", f"{fn}/LogGroup")]
            for fn in functions
        }
        for fn, days in (("Single", 7), ("Api", 30)):
            groups = cloud.logs.describe_log_groups(logGroupNamePrefix=log_groups[fn])["logGroups"]
            assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [
                (log_groups[fn], days)
            ]

        objects1 = cloud.objects()
        sha1 = {
            fn: cloud.lambda_.get_function_configuration(FunctionName=names[fn])["CodeSha256"]
            for fn in names
        }
        time.sleep(1.1)  # S3 LastModified has one-second resolution

        # --- update: change the Rust code of Single only -------------------------------------
        main_rs = app_dir / "crates" / "single" / "src" / "main.rs"
        source = main_rs.read_text()
        assert '"layout":"single"' in source
        main_rs.write_text(source.replace('"layout":"single"', '"layout":"single-v2"'))
        out2 = tmp_path / "cdk.out.2"
        step("synth (rebuild)", deploy_local.synth, stacks=[STACK], outdir=out2, cap=600)
        step("update", deploy_local.deploy, stacks=[STACK], outdir=out2, cap=300)
        template2 = json.loads((out2 / f"{STACK}.template.json").read_text())
        assert (
            cloud.cf.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
            == "UPDATE_COMPLETE"
        )
        assert cloud.physical_ids()[functions["Single"]] == names["Single"]  # updated in place

        keys2 = {
            fn: _check_function_code(cloud, template2, out2, functions[fn], names[fn])
            for fn in functions
        }
        sha2 = {
            fn: cloud.lambda_.get_function_configuration(FunctionName=names[fn])["CodeSha256"]
            for fn in names
        }
        assert keys2["Single"] != keys1["Single"] and sha2["Single"] != sha1["Single"]
        assert keys2["Api"] == keys1["Api"] and sha2["Api"] == sha1["Api"]
        objects2 = cloud.objects()
        new_zips = {k for k in objects2 if k.endswith(".zip") and k not in objects1}
        assert new_zips == {keys2["Single"]}
        # The unchanged function's zip was not uploaded again (same object, same LastModified).
        assert objects2[keys1["Api"]] == objects1[keys1["Api"]]

        # --- destroy ---------------------------------------------------------------------------
        roles = [
            physical[_of_type(template1, "AWS::IAM::Role", f"{fn}/ServiceRole")] for fn in functions
        ]
        step("destroy", deploy_local.destroy, stacks=[STACK], outdir=out2, cap=300)
        live = [s["StackName"] for s in cloud.cf.describe_stacks()["Stacks"]]
        assert STACK not in live
        remaining = {f["FunctionName"] for f in cloud.lambda_.list_functions()["Functions"]}
        assert not remaining & set(names.values())
        for role_name in roles:
            with pytest.raises(cloud.iam.exceptions.NoSuchEntityException):
                cloud.iam.get_role(RoleName=role_name)
        all_groups = {g["logGroupName"] for g in cloud.logs.describe_log_groups()["logGroups"]}
        assert log_groups["Single"] not in all_groups, (
            "log group with RemovalPolicy.DESTROY survived"
        )
        assert log_groups["Api"] in all_groups, (
            "the default RETAIN log group should survive destroy"
        )

    assert moto.proc is None  # stopped by its own PID
    summary = ", ".join(f"{k} {v:.1f}s" for k, v in times.items())
    print(f"\nlocal deploy cycle times: {summary}")
