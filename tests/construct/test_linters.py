"""cfn-lint and cdk-nag (AwsSolutions) on every example stack's template."""

import json
import subprocess
import sys

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from stacks import (
    BuildCacheStack,
    ContainerStack,
    EchoStack,
    ExtensionStack,
    HelloHttpStack,
    ManagedInstancesStack,
    MultiFunctionStack,
    PiStack,
    StaticPiStack,
    StreamingStack,
)

from ..conftest import skip_bundling_app

STACKS = [
    HelloHttpStack,
    EchoStack,
    PiStack,
    MultiFunctionStack,
    ContainerStack,
    BuildCacheStack,
    ExtensionStack,
    StreamingStack,
    ManagedInstancesStack,
    StaticPiStack,
]


@pytest.mark.parametrize("stack_class", STACKS, ids=lambda c: c.__name__)
def test_cdk_nag_aws_solutions_has_no_unsuppressed_errors(stack_class):
    app = skip_bundling_app()
    stack = stack_class(app, stack_class.__name__)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    errors = Annotations.from_stack(stack).find_error(
        "*", Match.string_like_regexp("AwsSolutions-.*")
    )
    assert [f"{e.id}: {e.entry.data}" for e in errors] == []
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("AwsSolutions-.*")
    )
    print(f"{stack_class.__name__}: cdk-nag warnings: {len(warnings)}")


@pytest.mark.parametrize("stack_class", STACKS, ids=lambda c: c.__name__)
def test_cfn_lint_has_no_errors(stack_class, tmp_path):
    stack = stack_class(skip_bundling_app(), stack_class.__name__)
    path = tmp_path / "template.json"
    path.write_text(json.dumps(Template.from_stack(stack).to_json()))
    proc = subprocess.run(
        [sys.executable, "-m", "cfnlint", "--format", "json", "--", str(path)],
        capture_output=True,
        text=True,
    )
    findings = json.loads(proc.stdout or "[]")
    errors = [f for f in findings if f["Level"] == "Error"]
    warnings = [f for f in findings if f["Level"] == "Warning"]
    print(
        f"{stack_class.__name__}: cfn-lint warnings: "
        f"{[(w['Rule']['Id'], w['Message']) for w in warnings]}"
    )
    assert errors == [], errors


def _stack_with_the_usual_lambda_role(app: cdk.App) -> cdk.Stack:
    """The role CDK gives a plain Function: AWSLambdaBasicExecutionRole, logs:* on *."""
    from aws_cdk import aws_iam as iam

    stack = cdk.Stack(app, "Nag")
    iam.Role(
        stack,
        "Usual",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name(
                "service-role/AWSLambdaBasicExecutionRole"
            )
        ],
    )
    cdk.Aspects.of(app).add(AwsSolutionsChecks())
    return stack


def test_cdk_nag_is_active_and_would_flag_the_usual_lambda_role():
    """Guard against a silently inactive checker: the usual Lambda role is flagged."""
    # cdk.json's @aws-cdk/core:annotationsInValidationReport (recommended since aws-cdk-lib
    # 2.253.0) puts error annotations in the validation report, so they fail the synth itself.
    stack = _stack_with_the_usual_lambda_role(skip_bundling_app())
    with pytest.raises(RuntimeError, match=r"ValidationFailed: ERROR AwsSolutions-IAM4\["):
        Annotations.from_stack(stack)
    # Without the flag the error is an annotation to inspect: exactly this one.
    app = skip_bundling_app(**{"@aws-cdk/core:annotationsInValidationReport": False})
    errors = Annotations.from_stack(_stack_with_the_usual_lambda_role(app)).find_error(
        "*", Match.string_like_regexp("AwsSolutions-IAM4")
    )
    assert len(errors) == 1
