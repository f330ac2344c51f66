"""ExtensionStack (a RustExtension layer on echo) deployed to moto with the pinned CDK CLI, as
`make deploy-local` does: the LayerVersion exists and its zip is the synthesized layer
(`extensions/telemetry_summary`, executable). moto does not attach it to the function (a gap,
asserted below so the test fails when moto fixes it)."""

from __future__ import annotations

import io
import stat
import time
import zipfile
from pathlib import Path

import pytest

import deploy_local

from .conftest import ROOT, require_tools

pytestmark = [pytest.mark.deploy, pytest.mark.build]

STACK = "ExtensionStack"


def test_extension_stack_deploys_its_layer(tmp_path: Path) -> None:
    require_tools("cdk", "moto_server", "cargo-lambda")
    import boto3

    log_path = tmp_path / "cdk.log"
    out = tmp_path / "cdk.out"
    started = time.monotonic()
    with (
        deploy_local.MotoServer(log_path=tmp_path / "moto.log") as moto,
        open(log_path, "w") as log,
    ):
        env = deploy_local.local_aws_env(moto.endpoint)
        try:
            deploy_local.bootstrap(env=env, cwd=ROOT, log=log)
            deploy_local.synth([STACK], env=env, cwd=ROOT, outdir=out, log=log)
            deploy_local.deploy([STACK], env=env, cwd=ROOT, outdir=out, log=log)
        except BaseException:
            log.flush()
            print("\n".join(log_path.read_text(errors="replace").splitlines()[-60:]))
            print(moto.log_tail())
            raise
        session = boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=deploy_local.REGION,
        )
        cf = session.client("cloudformation", endpoint_url=moto.endpoint)
        lam = session.client("lambda", endpoint_url=moto.endpoint)
        s3 = session.client("s3", endpoint_url=moto.endpoint)

        template = deploy_local.template_of(out, STACK)
        (layer_logical,) = [
            k for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::LayerVersion"
        ]
        layer = template["Resources"][layer_logical]
        # The function's template attaches exactly this layer.
        (fn_logical,) = [
            k for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"
        ]
        assert template["Resources"][fn_logical]["Properties"]["Layers"] == [{"Ref": layer_logical}]

        # The layer version exists, named after the stack's resource, with the OS-only runtimes.
        (listed,) = lam.list_layers()["Layers"]
        assert listed["LayerName"].startswith(f"{STACK}-{layer_logical}")
        assert listed["LatestMatchingVersion"]["CompatibleRuntimes"] == [
            "provided.al2023",
            "provided.al2",
        ]

        # moto gap (fails when moto fixes it; then assert the attachment instead): its
        # CloudFormation gives a LayerVersion no physical id, so `Ref` resolves to nothing and the
        # deployed function has no layers. Real CloudFormation attaches the layer.
        physical = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId")
            for r in cf.describe_stack_resources(StackName=STACK)["StackResources"]
            if "LogicalResourceId" in r
        }
        assert physical[layer_logical] is None
        config = lam.get_function_configuration(FunctionName=physical[fn_logical])
        assert config.get("Layers", []) == []

        # The zip in the staging bucket is the synthesized layer: one executable under extensions/.
        key = layer["Properties"]["Content"]["S3Key"]
        bucket = f"cdk-hnb659fds-assets-{deploy_local.ACCOUNT}-{deploy_local.REGION}"
        zipped = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            assert names == ["extensions/telemetry_summary"]
            mode = archive.getinfo(names[0]).external_attr >> 16
            assert mode & stat.S_IXUSR and mode & stat.S_IXOTH, oct(mode)
            deployed = archive.read(names[0])
        staged = out / layer["Metadata"]["aws:asset:path"] / "extensions" / "telemetry_summary"
        assert deployed == staged.read_bytes()

        print(f"ExtensionStack create through moto: {time.monotonic() - started:.1f} s")
