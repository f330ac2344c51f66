"""One test per moto gap of scripts/moto_gaps.py: each FAILS when moto fixes or changes the gap.

A failure here is good news to act on: drop the workaround flag that covers the gap (or update
the "what it does not prove" list of docs/deploy-local.md), then delete the probe and its test.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest

import moto_gaps

pytestmark = pytest.mark.deploy


def test_moto_is_the_version_the_gaps_were_established_against() -> None:
    assert version("moto") == moto_gaps.MOTO_VERSION, (
        "moto changed: re-run tests/deploy/test_moto_gaps.py and revisit scripts/moto_gaps.py"
    )


# --- gaps with a workaround (a CLI flag) ---------------------------------------------------------


def test_gap_outputs_lost_by_change_set(aws_session) -> None:  # noqa: ANN001
    """Covered by --method=direct."""
    assert moto_gaps.probe_outputs_lost_by_change_set(aws_session)


def test_gap_delete_missing_change_set_is_http_500(aws_session) -> None:  # noqa: ANN001
    """Covered by --method=direct (the second deploy's change-set clean-up "hangs" on it)."""
    assert moto_gaps.probe_delete_missing_change_set(aws_session)


def test_gap_use_previous_value_of_defaulted_parameter_is_http_500(aws_session) -> None:  # noqa: ANN001
    """Covered by --no-previous-parameters."""
    assert moto_gaps.probe_use_previous_value_of_defaulted_parameter(aws_session)


def test_workaround_update_without_previous_parameters_works(aws_session) -> None:  # noqa: ANN001
    assert moto_gaps.probe_update_without_previous_parameters_works(aws_session)


def test_gap_create_stack_output_on_unmodelled_type_is_http_500(aws_session) -> None:  # noqa: ANN001
    """Covered by --method=change-set (create only) + derive_outputs, for HelloHttpStack."""
    assert moto_gaps.probe_create_stack_output_on_unmodelled_type(aws_session)


# --- gaps without a workaround: the "does not prove" list of docs/deploy-local.md ----------------


def test_gap_lambda_architectures_ignored(aws_session) -> None:  # noqa: ANN001
    assert moto_gaps.probe_lambda_architectures_ignored(aws_session)


def test_gap_lambda_logging_config_ignored(aws_session) -> None:  # noqa: ANN001
    assert moto_gaps.probe_lambda_logging_config_ignored(aws_session)


def test_gap_lambda_url_skipped(aws_session) -> None:  # noqa: ANN001
    assert moto_gaps.probe_lambda_url_skipped(aws_session)


def test_every_probe_has_a_test() -> None:
    tested = {name[len("test_gap_") :] for name in globals() if name.startswith("test_gap_")}
    for probe in moto_gaps.PROBES:
        assert any(t.startswith(probe.lower()) for t in tested), f"no test for {probe}"


# --- the flag selection and the output derivation (no emulator needed) ----------------------------

URL_TEMPLATE = {
    "Resources": {
        "Fn": {"Type": "AWS::Lambda::Function"},
        "FnUrl": {"Type": "AWS::Lambda::Url"},
        "Role": {"Type": "AWS::IAM::Role"},
    },
    "Outputs": {
        "Url": {"Value": {"Fn::GetAtt": ["FnUrl", "FunctionUrl"]}},
        "Name": {"Value": {"Ref": "Fn"}},
        "RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}},
    },
}


def test_deploy_flags_pick_change_set_only_for_outputs_on_unmodelled_types() -> None:
    assert moto_gaps.deploy_flags(URL_TEMPLATE) == ["--method=change-set"]
    plain = {**URL_TEMPLATE, "Outputs": {"Name": {"Value": {"Ref": "Fn"}}}}
    assert moto_gaps.deploy_flags(plain) == ["--method=direct", "--no-previous-parameters"]


def test_derive_outputs_labels_what_it_cannot_know() -> None:
    derived = moto_gaps.derive_outputs(
        URL_TEMPLATE, {"Fn": "MyStack-Fn-ABC", "Role": "MyStack-Role-XYZ"}
    )
    assert derived == {
        "Url": "<not created: moto does not model AWS::Lambda::Url>",
        "Name": "MyStack-Fn-ABC",
        "RoleArn": "<cannot derive Fn::GetAtt Role.Arn>",
    }


def test_hello_http_stack_is_the_only_example_needing_the_change_set_path() -> None:
    """From the example stacks' templates (synthesized without bundling, no Rust build)."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    import deploy_local
    from app import build_app  # the repository root is on sys.path (pytest rootdir)

    app = build_app(cdk.App(context={"aws:cdk:bundling-stacks": []}))
    stacks = {
        stack.stack_name: stack for stack in app.node.children if isinstance(stack, cdk.Stack)
    }
    assert set(deploy_local.EXAMPLE_STACKS) <= set(stacks)
    flags = {
        name: moto_gaps.deploy_flags(Template.from_stack(stacks[name]).to_json())
        for name in deploy_local.EXAMPLE_STACKS
    }
    assert {name for name, f in flags.items() if f == ["--method=change-set"]} == {"HelloHttpStack"}


def test_gap_update_removal_ignores_retain(aws_session) -> None:  # noqa: ANN001
    assert moto_gaps.probe_update_removal_ignores_retain(aws_session)


# --- Lambda Managed Instances and response streaming (ManagedInstancesStack, StreamingStack) -----


def test_gap_capacity_provider_getatt_rejected(aws_session) -> None:  # noqa: ANN001
    """Where a local deploy of ManagedInstancesStack stops: CreateStack itself."""
    assert moto_gaps.probe_capacity_provider_getatt_rejected(aws_session)


def test_gap_capacity_provider_unmodelled(aws_session) -> None:  # noqa: ANN001
    assert moto_gaps.probe_capacity_provider_unmodelled(aws_session)


def test_gap_lambda_capacity_provider_config_ignored(aws_session) -> None:  # noqa: ANN001
    assert moto_gaps.probe_lambda_capacity_provider_config_ignored(aws_session)


def test_gap_invoke_with_response_stream_missing(aws_session) -> None:  # noqa: ANN001
    assert moto_gaps.probe_invoke_with_response_stream_missing(aws_session)


def test_managed_instances_stack_reads_its_provider_arn_so_moto_cannot_create_it() -> None:
    """The example's template has exactly the shape CAPACITY_PROVIDER_GETATT_REJECTED probes
    (bundling skipped): why it is not a default deploy-local stack."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    import deploy_local
    from app import build_app

    app = build_app(cdk.App(context={"aws:cdk:bundling-stacks": []}))
    stack = app.node.find_child("ManagedInstancesStack")
    resources = Template.from_stack(stack).to_json()["Resources"]
    providers = [k for k, r in resources.items() if r["Type"] == "AWS::Lambda::CapacityProvider"]
    attached = [
        r["Properties"]["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function" and "CapacityProviderConfig" in r["Properties"]
    ]
    assert len(providers) == 1
    assert [a["CapacityProviderArn"] for a in attached] == [{"Fn::GetAtt": [providers[0], "Arn"]}]
    assert "ManagedInstancesStack" not in deploy_local.EXAMPLE_STACKS
    assert "StreamingStack" in deploy_local.EXAMPLE_STACKS
