"""Option validation: each bad value → one clear error naming the prop, the value and the fix."""

import dataclasses
import inspect

import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import BundlingOptions, CommandHooks
from constructs_rust._cargo.targets import AL2_GLIBC, resolve_target, target_for_platform
from constructs_rust._construct.function_props import (
    UNSUPPORTED_FUNCTION_OPTIONS,
    accepted_function_options,
    check_function_options,
    validate_function_environment,
)
from constructs_rust.errors import ConfigurationError
from constructs_rust.options import FunctionOptions, validate_binary_name


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--locked\n--offline", "shell metacharacter '\\\\n'"),
        ("--locked; rm -rf /", "shell metacharacter ';'"),
        ("--locked && echo", "shell metacharacter '&'"),
        ("--config=$(id)", "shell metacharacter '\\$'"),
        ("--config=`id`", "shell metacharacter '`'"),
        ("--target=x86_64-unknown-linux-gnu", "managed by the construct.*architecture"),
        ("--arm64", "managed by the construct.*architecture"),
        ("--x86-64", "managed by the construct.*architecture"),
        ("--lambda-dir", "managed by the construct"),
        ("--bin", "managed by the construct.*binary_name"),
        ("--features", "features=\\["),
    ],
)
def test_cargo_lambda_flags_rejected(flag, message):
    with pytest.raises(ConfigurationError, match="(?s)" + message) as err:
        BundlingOptions(cargo_lambda_flags=[flag]).validate()
    assert "bundling.cargo_lambda_flags" in str(err.value)
    assert "Fix:" in str(err.value)


def test_release_flag_conflicts_only_with_custom_profile():
    BundlingOptions(cargo_lambda_flags=["--release", "--locked"]).validate()
    assert BundlingOptions(cargo_lambda_flags=["--release", "--locked"]).effective_flags() == (
        "--locked",
    )
    with pytest.raises(ConfigurationError, match="fights profile='lambda'"):
        BundlingOptions(profile="lambda", cargo_lambda_flags=["--release"]).validate()


def test_options_are_frozen_keyword_only_and_documented():
    for cls in (BundlingOptions, CommandHooks):
        with pytest.raises(TypeError):
            cls("positional")  # keyword-only
        opts = cls()
        with pytest.raises(dataclasses.FrozenInstanceError):
            opts.__setattr__(dataclasses.fields(cls)[0].name, None)
        source = inspect.getsource(cls)
        for f in dataclasses.fields(cls):
            after = source.split(f"    {f.name}:", 1)[1].split('"""', 2)[1]
            assert "Default:" in after, f"{cls.__name__}.{f.name} docstring lacks 'Default:'"


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "x;y", "$(id)", "bin name", ""])
def test_binary_name_rejects_paths_and_shell(name):
    with pytest.raises(ConfigurationError, match="binary_name"):
        validate_binary_name(name)


@pytest.mark.parametrize(
    "key",
    [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_ANYTHING",
        "_HANDLER",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
    ],
)
def test_reserved_environment_names(key):
    with pytest.raises(ConfigurationError, match="reserved by AWS Lambda"):
        validate_function_environment({key: "x"})
    validate_function_environment({"RUST_LOG": "info"})


def test_function_options_cover_every_lambda_function_option():
    """The typed pass-through stays in sync with the installed aws-cdk-lib."""
    cdk_options = set(inspect.signature(lambda_.FunctionOptions.__init__).parameters) - {"self"}
    ours = set(FunctionOptions.__annotations__)
    managed = {"architecture"}
    assert ours | managed | set(UNSUPPORTED_FUNCTION_OPTIONS) >= cdk_options
    assert ours <= cdk_options
    with pytest.raises(ConfigurationError, match="not an aws_lambda.Function option"):
        check_function_options({"memory": 128})
    with pytest.raises(ConfigurationError, match="log_retention_role.*not supported"):
        check_function_options({"log_retention_role": None})


def _newer_function_props(monkeypatch, *extra):
    """aws_lambda.FunctionProps as a newer aws-cdk-lib would have it: ``extra`` options more."""
    real = inspect.signature(lambda_.FunctionProps.__init__)
    added = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None) for n in extra]

    def __init__(self, **kwargs):  # noqa: N807
        raise AssertionError("only the signature is read")

    __init__.__signature__ = real.replace(parameters=[*real.parameters.values(), *added])
    monkeypatch.setattr(lambda_, "FunctionProps", type("FunctionProps", (), {"__init__": __init__}))


def test_function_options_follow_the_installed_aws_cdk_lib(monkeypatch):
    """An option the installed aws-cdk-lib has passes, even when the TypedDict lacks it."""
    _newer_function_props(monkeypatch, "scaling_config_v3")
    assert "scaling_config_v3" not in FunctionOptions.__annotations__
    check_function_options({"scaling_config_v3": object(), "memory_size": 512})
    with pytest.raises(ConfigurationError, match="not an aws_lambda.Function option") as err:
        check_function_options({"scaling_config_v4": 1})
    assert "did you mean 'scaling_config_v3'?" in str(err.value)
    with pytest.raises(ConfigurationError, match="memroy_size.*not an aws_lambda.Function option"):
        check_function_options({"memroy_size": 512})


def test_accepted_function_options_are_cdk_props_minus_managed_plus_library_extras():
    accepted = accepted_function_options()
    props = set(inspect.signature(lambda_.FunctionProps.__init__).parameters) - {"self"}
    assert accepted == (props - {"code", "handler", "runtime", "architecture"}) - set(
        UNSUPPORTED_FUNCTION_OPTIONS
    ) | {"log_retention", "log_removal_policy"}
    assert set(FunctionOptions.__annotations__) <= accepted, "the TypedDict's names all pass"
    # RustDockerImageFunction's props (no runtime, no handler) give the same pass-through set.
    assert accepted_function_options(lambda_.DockerImageFunctionProps) == accepted


@pytest.mark.parametrize("key", ["runtime", "architecture"])
def test_props_the_construct_sets_are_not_pass_through(key):
    with pytest.raises(ConfigurationError, match=f"{key}: is set by the construct") as err:
        check_function_options({key: None})
    assert "own" in str(err.value).split("Fix:")[1]


def test_targets():
    arm = resolve_target(lambda_.Architecture.ARM_64, lambda_.Runtime.PROVIDED_AL2023)
    assert (arm.cargo_lambda_target, arm.docker_platform, arm.target_cpu) == (
        "aarch64-unknown-linux-gnu",
        "linux/arm64",
        "neoverse-n1",
    )
    al2 = resolve_target(lambda_.Architecture.X86_64, lambda_.Runtime.PROVIDED_AL2)
    assert al2.cargo_lambda_target == f"x86_64-unknown-linux-gnu.{AL2_GLIBC}"
    assert al2.docker_platform == "linux/amd64"
    with pytest.raises(ConfigurationError, match="runtime='nodejs20.x'.*OS-only runtime"):
        resolve_target(lambda_.Architecture.ARM_64, lambda_.Runtime.NODEJS_20_X)
    assert target_for_platform("linux/arm64").lambda_arch == "arm64"
    with pytest.raises(ConfigurationError, match="platform='linux/s390x'"):
        target_for_platform("linux/s390x")
