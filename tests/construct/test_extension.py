"""RustExtension templates and synth-time checks (bundling skipped: no cargo)."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from constructs_rust import RustExtension, RustFunction

from ..conftest import LAMBDAS, skip_bundling_app


def _ext(scope, id="Ext", **kwargs):
    return RustExtension(
        scope, id, manifest_path=str(LAMBDAS), binary_name="telemetry_summary", **kwargs
    )


def test_defaults_arm64_os_only_runtimes_and_no_cargo(monkeypatch):
    import subprocess

    def forbidden(*a, **k):
        raise AssertionError(f"subprocess run while bundling is skipped: {a}")

    monkeypatch.setattr(subprocess, "run", forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    stack = cdk.Stack(skip_bundling_app(), "S")
    ext = _ext(stack, description="d", removal_policy=cdk.RemovalPolicy.RETAIN)
    t = Template.from_stack(stack)
    t.has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {
            "CompatibleArchitectures": ["arm64"],
            "CompatibleRuntimes": ["provided.al2023", "provided.al2"],
            "Description": "d",
        },
    )
    t.has_resource("AWS::Lambda::LayerVersion", {"DeletionPolicy": "Retain"})
    assert ext.architecture.name == "arm64"
    assert ext.binary_name == "telemetry_summary"


def test_architecture_drives_compatible_architectures_and_the_asset_hash():
    stack = cdk.Stack(skip_bundling_app(), "S")
    arm = _ext(stack, "Arm")
    x86 = _ext(stack, "X86", architecture=lambda_.Architecture.X86_64)
    fn = RustFunction(stack, "Fn", manifest_path=str(LAMBDAS / "echo"))
    t = Template.from_stack(stack)
    layers = t.find_resources("AWS::Lambda::LayerVersion")
    archs = {k: v["Properties"]["CompatibleArchitectures"] for k, v in layers.items()}
    assert sorted(archs.values()) == [["arm64"], ["x86_64"]]
    keys = {stack.resolve(c.node.default_child.content)["s3Key"] for c in (arm, x86)}
    assert len(keys) == 2
    fn_key = stack.resolve(fn.node.default_child.code)["s3Key"]
    assert fn_key not in keys


def test_compatible_runtimes_can_be_widened_for_other_runtimes():
    stack = cdk.Stack(skip_bundling_app(), "S")
    ext = _ext(stack, compatible_runtimes=[lambda_.Runtime.PYTHON_3_13])
    lambda_.Function(
        stack,
        "Py",
        runtime=lambda_.Runtime.PYTHON_3_13,
        architecture=lambda_.Architecture.ARM_64,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(e, c):\n    return e\n"),
        layers=[ext],
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.13",
            "Layers": [{"Ref": cdk.Stack.of(stack).get_logical_id(ext.node.default_child)}],
        },
    )


def test_default_runtimes_refuse_a_python_function():
    stack = cdk.Stack(skip_bundling_app(), "S")
    ext = _ext(stack)
    with pytest.raises(Exception, match="incompatible with this layer"):
        lambda_.Function(
            stack,
            "Py",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(e, c):\n    return e\n"),
            layers=[ext],
        )


def test_other_architecture_is_a_synth_error_naming_both():
    app = skip_bundling_app()
    stack = cdk.Stack(app, "S")
    _ext(stack)
    ext_x86 = _ext(stack, "ExtX86", architecture=lambda_.Architecture.X86_64)
    RustFunction(
        stack,
        "Fn",
        manifest_path=str(LAMBDAS / "echo"),
        architecture=lambda_.Architecture.ARM_64,
        layers=[ext_x86],
    )
    with pytest.raises(Exception) as info:
        app.synth()
    message = str(info.value)
    assert "S/ExtX86" in message and "S/Fn" in message
    assert "built for x86_64" in message and "runs on arm64" in message
    assert "S/Ext " not in message  # the unattached arm64 extension is fine


def test_guard_works_across_stacks_and_with_add_layers():
    app = skip_bundling_app()
    layers = cdk.Stack(app, "Layers")
    ext = _ext(layers)
    other = cdk.Stack(app, "Functions")
    fn = RustFunction(
        other, "Fn", manifest_path=str(LAMBDAS / "echo"), architecture=lambda_.Architecture.X86_64
    )
    fn.add_layers(ext)
    with pytest.raises(Exception, match=r"Layers/Ext is built for arm64 .*Functions/Fn"):
        app.synth()


def test_same_architecture_synthesizes(monkeypatch):
    from constructs_rust import extension

    def no_walk(directory):
        raise AssertionError(f"walked {directory}: with bundling skipped it is the source dir")

    # Found by CI: `cdk bootstrap` synthesizes with bundling skipped, and the size guard walked
    # the workspace root (target/ included) while another process's cargo was writing there.
    monkeypatch.setattr(extension, "_tree_size", no_walk)
    app = skip_bundling_app()
    stack = cdk.Stack(app, "S")
    ext = _ext(stack, architecture=lambda_.Architecture.X86_64)
    RustFunction(
        stack,
        "Fn",
        manifest_path=str(LAMBDAS / "echo"),
        architecture=lambda_.Architecture.X86_64,
        layers=[ext],
    )
    app.synth()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"code": lambda_.Code.from_inline("x")}, r"\[S/Ext\] code: is managed by RustExtension"),
        (
            {"compatible_architectures": [lambda_.Architecture.ARM_64]},
            r"compatible_architectures: is managed .*`architecture` prop",
        ),
        ({"memory_size": 128}, r"memory_size: is not an aws_lambda.LayerVersion option"),
        ({"binary_name": "../x"}, r"\[S/Ext\] binary_name='../x'"),
    ],
)
def test_early_errors_name_path_prop_and_fix(kwargs, message):
    stack = cdk.Stack(skip_bundling_app(), "S")
    binary = kwargs.pop("binary_name", "telemetry_summary")
    with pytest.raises(Exception, match=message):
        RustExtension(stack, "Ext", manifest_path=str(LAMBDAS), binary_name=binary, **kwargs)
