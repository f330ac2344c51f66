"""RustFunction's template, with bundling skipped (no cargo, no Docker): fast."""

import shutil

import aws_cdk as cdk
import jsii
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Annotations, Match, Template

from constructs_rust import (
    BundlingOptions,
    CommandHooks,
    ConfigurationError,
    RustFunction,
    UrlOptions,
)

from ..conftest import FIXTURES, LAMBDAS, skip_bundling_app


def _stack():
    app = skip_bundling_app()
    return cdk.Stack(app, "S")


def test_defaults_arm64_al2023_bootstrap_and_no_cargo(monkeypatch):
    # Bundling is skipped, so nothing may run cargo or docker.
    import subprocess

    def forbidden(*a, **k):
        raise AssertionError(f"subprocess run while bundling is skipped: {a}")

    monkeypatch.setattr(subprocess, "run", forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    stack = _stack()
    RustFunction(stack, "Api", manifest_path=str(LAMBDAS), binary_name="hello_http")
    t = Template.from_stack(stack)
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "bootstrap",
            "Runtime": "provided.al2023",
            "Architectures": ["arm64"],
            "MemorySize": 256,
            "Timeout": 10,
            "Code": {"S3Key": Match.string_like_regexp(r"^[0-9a-f]{64}\.zip$")},
        },
    )


def test_architecture_runtime_and_passthrough_options():
    stack = _stack()
    role = iam.Role(stack, "MyRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    RustFunction(
        stack,
        "Echo",
        manifest_path=str(LAMBDAS / "echo"),
        architecture=lambda_.Architecture.X86_64,
        runtime=lambda_.Runtime.PROVIDED_AL2,
        acknowledge_deprecated_runtime=True,
        bundling=BundlingOptions(features=["json-logs"]),
        memory_size=512,
        timeout=cdk.Duration.seconds(5),
        environment={"RUST_LOG": "debug"},
        tracing=lambda_.Tracing.ACTIVE,
        description="echo",
        role=role,
        logging_format=lambda_.LoggingFormat.JSON,
        application_log_level_v2=lambda_.ApplicationLogLevel.DEBUG,
        system_log_level_v2=lambda_.SystemLogLevel.WARN,
    )
    t = Template.from_stack(stack)
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Architectures": ["x86_64"],
            "Runtime": "provided.al2",
            "MemorySize": 512,
            "Timeout": 5,
            "Environment": {"Variables": {"RUST_LOG": "debug"}},
            "TracingConfig": {"Mode": "Active"},
            "Description": "echo",
            "Role": {"Fn::GetAtt": [Match.string_like_regexp("MyRole"), "Arn"]},
            "LoggingConfig": {
                "LogFormat": "JSON",
                "ApplicationLogLevel": "DEBUG",
                "SystemLogLevel": "WARN",
                "LogGroup": {"Ref": Match.string_like_regexp("EchoLogGroup")},
            },
        },
    )
    t.resource_count_is("AWS::IAM::Role", 1)  # the user's role, no extra one


def test_log_group_retention_removal_and_least_privilege_role():
    stack = _stack()
    RustFunction(
        stack,
        "Fn",
        manifest_path=str(LAMBDAS / "echo"),
        log_retention=logs.RetentionDays.ONE_WEEK,
        log_removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    t = Template.from_stack(stack)
    t.has_resource(
        "AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": 7}, "DeletionPolicy": "Delete"}
    )
    t.resource_count_is("Custom::LogRetention", 0)
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {"LoggingConfig": {"LogGroup": {"Ref": Match.string_like_regexp("FnLogGroup")}}},
    )
    role = next(iter(t.find_resources("AWS::IAM::Role").values()))
    assert "ManagedPolicyArns" not in role["Properties"], (
        "no AWSLambdaBasicExecutionRole (logs:* on *)"
    )
    t.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Effect": "Allow",
                        "Resource": {"Fn::GetAtt": [Match.string_like_regexp("FnLogGroup"), "Arn"]},
                    }
                ]
            }
        },
    )


@pytest.mark.parametrize("managed_flag", [True, False], ids=["cdk-managed-flag", "no-flag"])
def test_log_group_and_role_are_children_that_tags_and_aspects_reach(managed_flag):
    """As aws-cdk's own Function: <fn>/LogGroup and <fn>/ServiceRole, whatever the
    useCdkManagedLogGroup flag says (with it, aws-cdk's NAMED group is replaced)."""
    app = skip_bundling_app(**{"@aws-cdk/aws-lambda:useCdkManagedLogGroup": managed_flag})
    stack = cdk.Stack(app, "S")
    fn = RustFunction(stack, "Fn", manifest_path=str(LAMBDAS / "echo"))
    # A user's own constructs with the ids the library used to take in the parent scope.
    logs.LogGroup(stack, "FnLogGroup")
    iam.Role(stack, "FnServiceRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    assert fn.log_group.node.path == "S/Fn/LogGroup"
    assert fn.role is not None and fn.role.node.path == "S/Fn/ServiceRole"
    found = {c.node.path for c in fn.node.find_all()}
    assert {"S/Fn/LogGroup/Resource", "S/Fn/ServiceRole/Resource"} <= found

    visited = []

    @jsii.implements(cdk.IAspect)
    class Visit:
        def visit(self, node):  # noqa: ANN001, ANN202
            if isinstance(node, cdk.CfnResource):
                visited.append(node.cfn_resource_type)

    cdk.Aspects.of(fn).add(Visit())
    cdk.Tags.of(fn).add("team", "payments")
    t = Template.from_stack(stack)
    assert {"AWS::Logs::LogGroup", "AWS::IAM::Role", "AWS::IAM::Policy"} <= set(visited)
    tag = Match.array_with([{"Key": "team", "Value": "payments"}])
    for kind in ("AWS::Lambda::Function", "AWS::IAM::Role"):
        t.has_resource_properties(kind, {"Tags": tag})
    groups = t.find_resources("AWS::Logs::LogGroup")
    tagged = [k for k, v in groups.items() if v["Properties"].get("Tags")]
    assert len(groups) == 2 and len(tagged) == 1, "the function's group, and the user's"
    (own,) = tagged
    assert "LogGroupName" not in groups[own]["Properties"], "unnamed: never collides"
    t.has_resource_properties(
        "AWS::Lambda::Function", {"LoggingConfig": {"LogGroup": {"Ref": own}}}
    )
    t.resource_count_is("Custom::LogRetention", 0)


def test_the_role_keeps_managed_policies_others_add_but_not_basic_execution():
    stack = _stack()
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0)
    fn = RustFunction(stack, "Fn", manifest_path=str(LAMBDAS / "echo"), vpc=vpc)
    assert fn.role is not None
    fn.role.add_managed_policy(
        iam.ManagedPolicy.from_aws_managed_policy_name(
            "CloudWatchLambdaInsightsExecutionRolePolicy"
        )
    )
    roles = Template.from_stack(stack).find_resources("AWS::IAM::Role")
    role = roles[stack.get_logical_id(fn.role.node.default_child)]
    arns = [a["Fn::Join"][1][-1] for a in role["Properties"]["ManagedPolicyArns"]]
    assert arns == [
        ":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        ":iam::aws:policy/CloudWatchLambdaInsightsExecutionRolePolicy",
    ], "aws-cdk's basic policy (logs on *) is dropped; the VPC policy and the user's stay"


def test_default_log_group_is_one_month_retained():
    stack = _stack()
    RustFunction(stack, "Fn", manifest_path=str(LAMBDAS / "echo"))
    Template.from_stack(stack).has_resource(
        "AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": 30}, "DeletionPolicy": "Retain"}
    )


@pytest.mark.parametrize("how", ["owned", "by_name", "by_arn"])
def test_a_log_group_the_user_passes_gets_the_write_grant(how):
    """Imported log groups too: a default role with no permission at all loses every log."""
    stack = _stack()
    log_group = {
        "owned": lambda: logs.LogGroup(stack, "Mine"),
        "by_name": lambda: logs.LogGroup.from_log_group_name(stack, "Mine", "/shared/logs"),
        "by_arn": lambda: logs.LogGroup.from_log_group_arn(
            stack, "Mine", "arn:aws:logs:us-east-1:111122223333:log-group:/shared/logs:*"
        ),
    }[how]()
    fn = RustFunction(stack, "Fn", manifest_path=str(LAMBDAS / "echo"), log_group=log_group)
    assert fn.log_group.node.path == log_group.node.path
    assert fn.node.try_find_child("LogGroup") is None
    t = Template.from_stack(stack)
    (policy,) = t.find_resources("AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == stack.resolve(log_group.log_group_arn)
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("cannot be changed"))


def test_a_role_the_library_cannot_change_is_a_synth_warning():
    stack = _stack()
    role = iam.Role.from_role_arn(
        stack, "Theirs", "arn:aws:iam::111122223333:role/theirs", mutable=False
    )
    RustFunction(stack, "Fn", manifest_path=str(LAMBDAS / "echo"), role=role)
    Annotations.from_stack(stack).has_warning(
        "/S/Fn", Match.string_like_regexp("logs are lost unless the role")
    )


def test_own_log_group_conflicts_with_retention():
    stack = _stack()
    lg = logs.LogGroup(stack, "Mine")
    with pytest.raises(ConfigurationError, match=r"\[S/Fn\].*log_group was given"):
        RustFunction(
            stack,
            "Fn",
            manifest_path=str(LAMBDAS / "echo"),
            log_group=lg,
            log_retention=logs.RetentionDays.ONE_DAY,
        )


def test_function_url_iam_by_default_and_public_warns():
    stack = _stack()
    iam_fn = RustFunction(stack, "Private", manifest_path=str(LAMBDAS / "echo"), url=UrlOptions())
    public = RustFunction(
        stack,
        "Public",
        manifest_path=str(LAMBDAS / "echo"),
        url=UrlOptions(
            auth_type=lambda_.FunctionUrlAuthType.NONE,
            invoke_mode=lambda_.InvokeMode.RESPONSE_STREAM,
        ),
    )
    RustFunction(
        stack,
        "Acked",
        manifest_path=str(LAMBDAS / "echo"),
        url=UrlOptions(auth_type=lambda_.FunctionUrlAuthType.NONE, acknowledge_public=True),
    )
    assert iam_fn.url is not None and public.url is not None
    t = Template.from_stack(stack)
    t.has_resource_properties("AWS::Lambda::Url", {"AuthType": "AWS_IAM", "InvokeMode": "BUFFERED"})
    t.has_resource_properties(
        "AWS::Lambda::Url", {"AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM"}
    )
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("auth type NONE")
    )
    assert [w.id for w in warnings] == ["/S/Public"]


def test_command_hooks_warn():
    stack = _stack()
    RustFunction(
        stack,
        "Fn",
        manifest_path=str(LAMBDAS / "echo"),
        bundling=BundlingOptions(command_hooks=CommandHooks(before_build=["echo hi"])),
    )
    Annotations.from_stack(stack).has_warning(
        "/S/Fn", Match.string_like_regexp("arbitrary shell commands.*echo hi")
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"manifest_path": "/does/not/exist"},
            r"\[S/Fn\] manifest_path='/does/not/exist': does not exist",
        ),
        ({"manifest_path": str(FIXTURES / "mini_runtime.rs")}, r"is not a Cargo.toml"),
        (
            {"manifest_path": str(LAMBDAS / "echo"), "runtime": lambda_.Runtime.PYTHON_3_12},
            r"\[S/Fn\] runtime='python3.12'",
        ),
        ({"manifest_path": str(LAMBDAS / "echo"), "binary_name": "../x"}, r"binary_name='../x'"),
        (
            {
                "manifest_path": str(LAMBDAS / "echo"),
                "environment": {"AWS_LAMBDA_FUNCTION_NAME": "x"},
            },
            r"\[S/Fn\] environment='AWS_LAMBDA_FUNCTION_NAME'",
        ),
        (
            {
                "manifest_path": str(LAMBDAS / "echo"),
                "bundling": BundlingOptions(cargo_lambda_flags=["--arm64"]),
            },
            r"\[S/Fn\] bundling.cargo_lambda_flags='--arm64'",
        ),
        ({"manifest_path": str(LAMBDAS / "echo"), "code": None}, r"code.*not supported"),
    ],
)
def test_early_errors_name_path_prop_value(kwargs, message):
    stack = _stack()
    with pytest.raises(ConfigurationError, match="(?s)" + message) as err:
        RustFunction(stack, "Fn", **kwargs)
    assert "Fix:" in str(err.value)


def test_relative_manifest_path_resolves_against_cwd(monkeypatch):
    monkeypatch.chdir(LAMBDAS.parent)
    stack = _stack()
    RustFunction(stack, "Fn", manifest_path="lambdas/echo/Cargo.toml")
    Template.from_stack(stack).resource_count_is("AWS::Lambda::Function", 1)


def test_standin_hash_has_no_host_paths(tmp_path):
    """With bundling skipped the hash depends on options, not on where the crate lives."""
    a = tmp_path / "a" / "echo"
    b = tmp_path / "b b" / "echo"
    for d in (a, b):
        shutil.copytree(LAMBDAS / "echo", d)
    keys = []
    for d in (a, b):
        stack = _stack()
        RustFunction(stack, "Fn", manifest_path=str(d))
        fn = next(iter(Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()))
        keys.append(fn["Properties"]["Code"]["S3Key"])
    assert keys[0] == keys[1]


def test_provided_al2_is_an_early_error_that_says_why_and_how_to_fix():
    stack = _stack()
    with pytest.raises(ConfigurationError) as err:
        RustFunction(
            stack,
            "Fn",
            manifest_path=str(LAMBDAS / "echo"),
            runtime=lambda_.Runtime.PROVIDED_AL2,
        )
    message = str(err.value)
    assert message.startswith("[S/Fn] runtime='provided.al2': is deprecated")
    assert all(date in message for date in ("2026-07-31", "2027-02-01", "2027-03-03")), "why"
    assert "Fix: use lambda_.Runtime.PROVIDED_AL2023" in message
    assert "acknowledge_deprecated_runtime=True" in message
    assert stack.node.try_find_child("Fn") is None, "raised before anything was created"


def test_provided_al2_acknowledged_synthesizes_with_a_warning():
    stack = _stack()
    RustFunction(
        stack,
        "Fn",
        manifest_path=str(LAMBDAS / "echo"),
        runtime=lambda_.Runtime.PROVIDED_AL2,
        acknowledge_deprecated_runtime=True,
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function", {"Runtime": "provided.al2"}
    )
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("deprecated-runtime")
    )
    assert [w.id for w in warnings] == ["/S/Fn"]
    text = warnings[0].entry.data
    assert "provided.al2 is deprecated" in text and "2027-02-01" in text
    assert "PROVIDED_AL2023" in text


def test_default_runtime_and_extensions_get_no_deprecation():
    from constructs_rust import RustExtension

    stack = _stack()
    default = RustFunction(stack, "Default", manifest_path=str(LAMBDAS / "echo"))
    RustFunction(
        stack,
        "Explicit",
        manifest_path=str(LAMBDAS / "echo"),
        runtime=lambda_.Runtime.PROVIDED_AL2023,
    )
    # Built with provided.al2's glibc internally: a build target, not a function runtime.
    RustExtension(stack, "Ext", manifest_path=str(LAMBDAS), binary_name="telemetry_summary")
    assert default.runtime.name == "provided.al2023"
    t = Template.from_stack(stack)
    for fn in t.find_resources("AWS::Lambda::Function").values():
        assert fn["Properties"]["Runtime"] == "provided.al2023"
    Annotations.from_stack(stack).has_no_warning(
        "*", Match.string_like_regexp("deprecated-runtime")
    )
