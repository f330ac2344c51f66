"""THE one place for what the local deploy does differently because of moto (pinned 5.2.5).

Nothing here patches moto or the library. Every workaround is a CDK CLI flag (plus
``derive_outputs``, which reconstructs, and labels as derived, outputs moto loses), and every gap
has a probe: a few raw CloudFormation calls against a running moto server that return True
while the gap is there. ``tests/deploy/test_moto_gaps.py`` asserts each probe, so a moto
upgrade that fixes or changes a gap fails a test and tells you which flag (or which
"does not prove" line of docs/deploy-local.md) can go.

Workarounds (used by scripts/deploy_local.py and tests/deploy/):

``--method=direct``
    Covers two gaps of moto's change sets, both hit by the CLI's default method:
    * OUTPUTS_LOST_BY_CHANGE_SET: a stack CREATED by executing a change set has no
      ``Outputs`` (moto never evaluates them on that path), so ``cdk deploy`` prints none.
    * DELETE_MISSING_CHANGE_SET: before a second deploy the CLI deletes any old
      ``cdk-deploy-change-set``; when none exists moto answers HTTP 500 (an unbound local in
      ``delete_change_set``) and the SDK retries for ~50 s before failing ("hang"). When one
      does exist (moto keeps executed change sets; AWS deletes them on execution) the update
      failed here with "Stack with id cdk-deploy-change-set does not exist".
    ``direct`` calls CreateStack/UpdateStack instead: outputs are evaluated, no change sets.

``--method=change-set`` (the CLI default), only for stacks created once, that have outputs
reading an attribute of a resource type moto does not model (HelloHttpStack: the function
URL's ``FunctionUrl``)
    * CREATE_STACK_OUTPUT_ON_UNMODELLED_TYPE: CreateStack validates that each ``Fn::GetAtt``
      output's resource type has that attribute; for a type moto has no model of
      (``AWS::Lambda::Url``) that check crashes: HTTP 500. The change-set path skips the check
      (and loses all outputs, see above), so such a stack is created through a change set and
      its outputs are DERIVED by ``derive_outputs`` from the synthesized template and
      DescribeStackResources, labelled as such. A second deploy of such a stack in the same
      emulator is not supported (DELETE_MISSING_CHANGE_SET); deploy_local.py never does one.

``--no-previous-parameters``
    * USE_PREVIOUS_VALUE_OF_DEFAULTED_PARAMETER: on update the CLI sends
      ``UsePreviousValue: true`` for parameters the deployed stack has, i.e. the SSM-typed
      ``BootstrapVersion`` parameter every CDK stack carries. moto only remembers parameters
      that were passed explicitly, so UpdateStack fails with HTTP 500 (KeyError). Without
      previous values the parameter falls back to its default (the SSM path), which moto
      resolves. Safe for this repo: no stack has parameters of its own.

Gaps that need no workaround, but limit what a local deploy proves (docs/deploy-local.md).
Their probes guard that page's "does not prove" list:

* LAMBDA_ARCHITECTURES_IGNORED: CloudFormation-created functions always report ``x86_64``.
* LAMBDA_LOGGING_CONFIG_IGNORED: ``LoggingConfig`` (the function → log group link) is dropped.
* LAMBDA_URL_SKIPPED: ``AWS::Lambda::Url`` is not created (no function URL exists).
* UPDATE_REMOVAL_IGNORES_RETAIN: an update that removes a ``DeletionPolicy: Retain`` resource
  deletes it (AWS keeps it). tests/deploy/test_upgrade.py checks the policy in the template
  instead of the orphan's survival.
* CAPACITY_PROVIDER_GETATT_REJECTED: a function's ``CapacityProviderConfig`` reads the provider's
  ARN with ``Fn::GetAtt``; moto has no ``AWS::Lambda::CapacityProvider``, so CreateStack fails
  validation ("instance of Fn::GetAtt references undefined resource"). This is where a local
  deploy of ManagedInstancesStack stops: nothing of it is created (it is not a default stack).
* CAPACITY_PROVIDER_UNMODELLED: a provider referenced by nothing is skipped (the stack completes)
  and moto's Lambda has no capacity-provider API (ListCapacityProviders: HTTP 404).
* LAMBDA_CAPACITY_PROVIDER_CONFIG_IGNORED: a function given a provider ARN literally (an
  imported provider) is created without its ``CapacityProviderConfig``.
* INVOKE_WITH_RESPONSE_STREAM_MISSING: moto's Lambda has no InvokeWithResponseStream (HTTP 404)
  and, with AWS::Lambda::Url skipped, no RESPONSE_STREAM URL: streaming is proven locally by
  constructs_rust.testing (the runtime emulator), never by a local deploy.
* TOOLKIT_OUTPUTS_LOST: the ``CDKToolkit`` stack (``cdk bootstrap`` always uses a change
  set) has no outputs; the CLI only logs "Unable to find BootstrapVersion output" at debug
  level and reads the version from SSM instead, which moto models. Checked right after
  ``cdk bootstrap`` in tests/deploy/test_deploy_local.py.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Callable, Dict, List

#: The moto release these gaps were established against (pyproject pins moto[server]==5.2.5).
MOTO_VERSION = "5.2.5"

#: Flags every ``cdk deploy`` against moto gets. See the module docstring for the gaps.
DEPLOY_FLAGS: List[str] = [
    # OUTPUTS_LOST_BY_CHANGE_SET, DELETE_MISSING_CHANGE_SET: no change sets at all.
    "--method=direct",
    # USE_PREVIOUS_VALUE_OF_DEFAULTED_PARAMETER: don't send UsePreviousValue on update.
    "--no-previous-parameters",
]

#: What moto's CloudFormation does not model for Lambda (printed by deploy_local.py).
NOT_MODELLED = [
    "Lambda Architectures (moto reports x86_64 for every function)",
    "Lambda LoggingConfig (the function -> log group link)",
    "AWS::Lambda::Url (no function URL is created; URL outputs are not real endpoints)",
    "DeletionPolicy Retain on UPDATE (a Retain resource an update removes is deleted)",
    "AWS::Lambda::CapacityProvider (a stack whose function reads its ARN cannot be created: "
    "ManagedInstancesStack) and a function's CapacityProviderConfig",
    "Lambda InvokeWithResponseStream (response streaming is not deployed or invoked locally)",
]


#: For a stack whose outputs read an attribute of a type moto does not model.
CHANGE_SET_FLAGS: List[str] = [
    # CREATE_STACK_OUTPUT_ON_UNMODELLED_TYPE: CreateStack (direct) answers HTTP 500; create
    # through a change set instead (create only) and derive the outputs it loses.
    "--method=change-set",
]


def _unmodelled(resource_type: str) -> bool:
    """True when moto's CloudFormation has no model for ``resource_type`` (it skips it)."""
    import logging

    from moto.cloudformation.parsing import resource_class_from_type

    # resource_class_from_type logs "No Moto CloudFormation support for ..." as a warning.
    logger = logging.getLogger("moto")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return (
            not resource_type.startswith("Custom::")
            and resource_class_from_type(resource_type) is None
        )
    finally:
        logger.setLevel(level)


def unmodelled_output_targets(template: Dict[str, Any]) -> Dict[str, str]:
    """Output key -> resource type, for outputs whose ``Fn::GetAtt`` targets an unmodelled type."""
    resources = template.get("Resources", {})
    found: Dict[str, str] = {}
    for key, output in (template.get("Outputs") or {}).items():
        value = output.get("Value")
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"][0]
            resource_type = resources.get(target, {}).get("Type", "")
            if resource_type and _unmodelled(resource_type):
                found[key] = resource_type
    return found


def deploy_flags(template: Dict[str, Any]) -> List[str]:
    """The ``cdk deploy`` flags for one synthesized stack template (see the module docstring)."""
    return list(CHANGE_SET_FLAGS if unmodelled_output_targets(template) else DEPLOY_FLAGS)


def derive_outputs(template: Dict[str, Any], physical_ids: Dict[str, str]) -> Dict[str, str]:
    """Outputs moto lost (change-set path), DERIVED from the template + DescribeStackResources.

    Only ``Ref`` of a created resource can be derived (its physical id, which is what Ref
    returns for the resources here: function names, role names, log group names). Anything
    else is reported, not guessed.
    """
    resources = template.get("Resources", {})
    derived: Dict[str, str] = {}
    for key, output in (template.get("Outputs") or {}).items():
        value = output.get("Value")
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in physical_ids:
            derived[key] = physical_ids[value["Ref"]]
        elif isinstance(value, dict) and "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"][0]
            resource_type = resources.get(target, {}).get("Type", "?")
            if target not in physical_ids and _unmodelled(resource_type):
                derived[key] = f"<not created: moto does not model {resource_type}>"
            else:
                derived[key] = f"<cannot derive Fn::GetAtt {target}.{value['Fn::GetAtt'][1]}>"
        else:
            derived[key] = "<cannot derive>"
    return derived


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def _topic_template(display_name: str) -> str:
    return json.dumps(
        {
            "Parameters": {"P": {"Type": "String", "Default": "default"}},
            "Resources": {
                "T": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": display_name}}
            },
            "Outputs": {"TopicArn": {"Value": {"Ref": "T"}}},
        }
    )


def _http_500(exc: Exception) -> bool:
    """botocore reports moto's HTML 500 page as an unparseable response, or as a 500 error."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 500
    return "500 Internal Server Error" in str(exc) or "Unable to parse response" in str(exc)


def probe_outputs_lost_by_change_set(session: Any) -> bool:
    """True while a stack created through an executed change set has no Outputs."""
    cf = session.client("cloudformation")
    stack = _name("GapOutputs")
    cf.create_change_set(
        StackName=stack,
        ChangeSetName="cs",
        TemplateBody=_topic_template("a"),
        ChangeSetType="CREATE",
    )
    cf.execute_change_set(StackName=stack, ChangeSetName="cs")
    described = cf.describe_stacks(StackName=stack)["Stacks"][0]
    cf.delete_stack(StackName=stack)
    return described["StackStatus"] == "CREATE_COMPLETE" and not described.get("Outputs")


def probe_delete_missing_change_set(session: Any) -> bool:
    """True while DeleteChangeSet of a name that does not exist answers HTTP 500.

    (AWS answers success or ChangeSetNotFound, which the CLI handles; moto's 500 is retried by
    the SDK for ~50 s before the deploy fails.)
    """
    from botocore.config import Config

    cf = session.client(
        "cloudformation", config=Config(retries={"max_attempts": 1, "mode": "standard"})
    )
    stack = _name("GapDeleteCs")
    cf.create_stack(StackName=stack, TemplateBody=_topic_template("a"))
    try:
        cf.delete_change_set(StackName=stack, ChangeSetName="cdk-deploy-change-set")
    except Exception as exc:  # noqa: BLE001 - the kind of failure is what we probe
        return _http_500(exc)
    finally:
        cf.delete_stack(StackName=stack)
    return False


def probe_use_previous_value_of_defaulted_parameter(session: Any) -> bool:
    """True while UpdateStack with UsePreviousValue for a defaulted parameter answers HTTP 500."""
    from botocore.config import Config

    cf = session.client(
        "cloudformation", config=Config(retries={"max_attempts": 1, "mode": "standard"})
    )
    stack = _name("GapPrevParam")
    cf.create_stack(StackName=stack, TemplateBody=_topic_template("a"))  # P not passed: default
    try:
        cf.update_stack(
            StackName=stack,
            TemplateBody=_topic_template("b"),
            Parameters=[{"ParameterKey": "P", "UsePreviousValue": True}],
        )
    except Exception as exc:  # noqa: BLE001
        return _http_500(exc)
    finally:
        cf.delete_stack(StackName=stack)
    return False


def probe_update_without_previous_parameters_works(session: Any) -> bool:
    """The workaround itself: an update that omits the defaulted parameter succeeds."""
    cf = session.client("cloudformation")
    stack = _name("GapNoPrev")
    cf.create_stack(StackName=stack, TemplateBody=_topic_template("a"))
    try:
        cf.update_stack(StackName=stack, TemplateBody=_topic_template("b"))
        described = cf.describe_stacks(StackName=stack)["Stacks"][0]
        return described["StackStatus"] == "UPDATE_COMPLETE" and bool(described.get("Outputs"))
    finally:
        cf.delete_stack(StackName=stack)


def probe_create_stack_output_on_unmodelled_type(session: Any) -> bool:
    """True while CreateStack with an output ``Fn::GetAtt`` of an AWS::Lambda::Url answers 500,
    while the change-set path creates the same template (without its outputs)."""
    from botocore.config import Config

    url = {
        "Type": "AWS::Lambda::Url",
        "Properties": {"AuthType": "AWS_IAM", "TargetFunctionArn": {"Fn::GetAtt": ["F", "Arn"]}},
    }
    template = json.loads(_lambda_template({}, {"U": url}))
    template["Outputs"] = {"Url": {"Value": {"Fn::GetAtt": ["U", "FunctionUrl"]}}}
    body = json.dumps(template)
    cf = session.client(
        "cloudformation", config=Config(retries={"max_attempts": 1, "mode": "standard"})
    )
    direct_500 = False
    stack = _name("GapUrlOut")
    try:
        cf.create_stack(StackName=stack, TemplateBody=body)
        cf.delete_stack(StackName=stack)
    except Exception as exc:  # noqa: BLE001
        direct_500 = _http_500(exc)
    stack = _name("GapUrlOutCs")
    cf.create_change_set(
        StackName=stack, ChangeSetName="cs", TemplateBody=body, ChangeSetType="CREATE"
    )
    cf.execute_change_set(StackName=stack, ChangeSetName="cs")
    described = cf.describe_stacks(StackName=stack)["Stacks"][0]
    cf.delete_stack(StackName=stack)
    return (
        direct_500
        and described["StackStatus"] == "CREATE_COMPLETE"
        and not described.get("Outputs")
    )


def _lambda_template(extra: Dict[str, Any], more_resources: Dict[str, Any]) -> str:
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                    }
                ],
            }
        },
    }
    function = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Handler": "index.handler",
            "Runtime": "python3.12",
            "Role": {"Fn::GetAtt": ["R", "Arn"]},
            "Code": {"ZipFile": "def handler(event, context):\n    return event\n"},
            **extra,
        },
    }
    return json.dumps({"Resources": {"R": role, "F": function, **more_resources}})


def _with_lambda_stack(
    session: Any, template: str, check: Callable[[Any, Dict[str, str]], bool]
) -> bool:
    cf = session.client("cloudformation")
    stack = _name("GapLambda")
    cf.create_stack(StackName=stack, TemplateBody=template)
    try:
        resources = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for r in cf.describe_stack_resources(StackName=stack)["StackResources"]
            if "LogicalResourceId" in r
        }
        return check(session, resources)
    finally:
        cf.delete_stack(StackName=stack)


def probe_lambda_architectures_ignored(session: Any) -> bool:
    """True while a CloudFormation function declared arm64 reports x86_64."""

    def check(session: Any, res: Dict[str, str]) -> bool:
        config = session.client("lambda").get_function_configuration(FunctionName=res["F"])
        return config.get("Architectures") == ["x86_64"]

    return _with_lambda_stack(session, _lambda_template({"Architectures": ["arm64"]}, {}), check)


def probe_lambda_logging_config_ignored(session: Any) -> bool:
    """True while a CloudFormation function's LoggingConfig is dropped."""
    log_group = {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}}
    extra = {"LoggingConfig": {"LogGroup": {"Ref": "L"}, "LogFormat": "JSON"}}

    def check(session: Any, res: Dict[str, str]) -> bool:
        config = session.client("lambda").get_function_configuration(FunctionName=res["F"])
        return "LoggingConfig" not in config or not config["LoggingConfig"].get("LogGroup")

    return _with_lambda_stack(session, _lambda_template(extra, {"L": log_group}), check)


def probe_lambda_url_skipped(session: Any) -> bool:
    """True while AWS::Lambda::Url creates no function URL."""
    url = {
        "Type": "AWS::Lambda::Url",
        "Properties": {"AuthType": "AWS_IAM", "TargetFunctionArn": {"Fn::GetAtt": ["F", "Arn"]}},
    }

    def check(session: Any, res: Dict[str, str]) -> bool:
        lam = session.client("lambda")
        try:
            lam.get_function_url_config(FunctionName=res["F"])
        except lam.exceptions.ResourceNotFoundException:
            return True
        return False

    return _with_lambda_stack(session, _lambda_template({}, {"U": url}), check)


def probe_update_removal_ignores_retain(session: Any) -> bool:
    """True while an UPDATE that drops a ``DeletionPolicy: Retain`` log group deletes it.

    AWS keeps a Retain resource removed from the template by an update (as on stack delete,
    which moto does honour). Seen upgrading a stack whose log group's logical id changed.
    """
    cf, logs = session.client("cloudformation"), session.client("logs")
    group = {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain", "Properties": {}}
    other = {"Type": "AWS::Logs::LogGroup", "Properties": {}}
    stack = _name("GapRetainOnUpdate")
    cf.create_stack(StackName=stack, TemplateBody=json.dumps({"Resources": {"Old": group}}))
    try:
        old = cf.describe_stack_resource(StackName=stack, LogicalResourceId="Old")
        name = old["StackResourceDetail"]["PhysicalResourceId"]
        cf.update_stack(StackName=stack, TemplateBody=json.dumps({"Resources": {"New": other}}))
        left = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        return not any(g["logGroupName"] == name for g in left)
    finally:
        cf.delete_stack(StackName=stack)


_CAPACITY_PROVIDER = {
    "Type": "AWS::Lambda::CapacityProvider",
    "Properties": {
        "VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]},
        "PermissionsConfig": {"CapacityProviderOperatorRoleArn": {"Fn::GetAtt": ["R", "Arn"]}},
    },
}


def _attached(arn: Any) -> Dict[str, Any]:
    return {
        "MemorySize": 2048,
        "CapacityProviderConfig": {
            "LambdaManagedInstancesCapacityProviderConfig": {
                "CapacityProviderArn": arn,
                "PerExecutionEnvironmentMaxConcurrency": 8,
            }
        },
    }


def probe_capacity_provider_getatt_rejected(session: Any) -> bool:
    """True while CreateStack rejects a function reading ``Fn::GetAtt`` of its provider."""
    from botocore.exceptions import ClientError

    body = _lambda_template(_attached({"Fn::GetAtt": ["CP", "Arn"]}), {"CP": _CAPACITY_PROVIDER})
    cf = session.client("cloudformation")
    stack = _name("GapCpGetAtt")
    try:
        cf.create_stack(StackName=stack, TemplateBody=body)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return error.get("Code") == "ValidationError" and "undefined resource CP" in str(
            error.get("Message")
        )
    cf.delete_stack(StackName=stack)
    return False


def probe_capacity_provider_unmodelled(session: Any) -> bool:
    """True while a lone provider is skipped and Lambda's capacity-provider API is missing."""
    from botocore.exceptions import ClientError

    role = json.loads(_lambda_template({}, {}))["Resources"]["R"]
    body = json.dumps({"Resources": {"R": role, "CP": _CAPACITY_PROVIDER}})
    cf = session.client("cloudformation")
    stack = _name("GapCpAlone")
    cf.create_stack(StackName=stack, TemplateBody=body)
    try:
        status = cf.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        try:
            session.client("lambda").list_capacity_providers()
        except ClientError as exc:
            missing = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404
            return status == "CREATE_COMPLETE" and missing
        return False
    finally:
        cf.delete_stack(StackName=stack)


def probe_lambda_capacity_provider_config_ignored(session: Any) -> bool:
    """True while a function given a provider ARN literally has no CapacityProviderConfig."""
    arn = "arn:aws:lambda:us-east-1:123456789012:capacity-provider:shared"

    def check(session: Any, res: Dict[str, str]) -> bool:
        config = session.client("lambda").get_function_configuration(FunctionName=res["F"])
        return "CapacityProviderConfig" not in config and config.get("MemorySize") == 2048

    return _with_lambda_stack(session, _lambda_template(_attached(arn), {}), check)


def probe_invoke_with_response_stream_missing(session: Any) -> bool:
    """True while moto's Lambda answers InvokeWithResponseStream with HTTP 404."""
    from botocore.exceptions import ClientError

    def check(session: Any, res: Dict[str, str]) -> bool:
        try:
            session.client("lambda").invoke_with_response_stream(
                FunctionName=res["F"], Payload=b"{}"
            )
        except ClientError as exc:
            return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404
        return False

    return _with_lambda_stack(session, _lambda_template({}, {}), check)


#: Probe name -> probe (each asserted by tests/deploy/test_moto_gaps.py).
PROBES: Dict[str, Callable[[Any], bool]] = {
    "OUTPUTS_LOST_BY_CHANGE_SET": probe_outputs_lost_by_change_set,
    "DELETE_MISSING_CHANGE_SET": probe_delete_missing_change_set,
    "CREATE_STACK_OUTPUT_ON_UNMODELLED_TYPE": probe_create_stack_output_on_unmodelled_type,
    "USE_PREVIOUS_VALUE_OF_DEFAULTED_PARAMETER": probe_use_previous_value_of_defaulted_parameter,
    "LAMBDA_ARCHITECTURES_IGNORED": probe_lambda_architectures_ignored,
    "LAMBDA_LOGGING_CONFIG_IGNORED": probe_lambda_logging_config_ignored,
    "LAMBDA_URL_SKIPPED": probe_lambda_url_skipped,
    "UPDATE_REMOVAL_IGNORES_RETAIN": probe_update_removal_ignores_retain,
    "CAPACITY_PROVIDER_GETATT_REJECTED": probe_capacity_provider_getatt_rejected,
    "CAPACITY_PROVIDER_UNMODELLED": probe_capacity_provider_unmodelled,
    "LAMBDA_CAPACITY_PROVIDER_CONFIG_IGNORED": probe_lambda_capacity_provider_config_ignored,
    "INVOKE_WITH_RESPONSE_STREAM_MISSING": probe_invoke_with_response_stream_missing,
}
