"""What every Rust function gets around it: its own log group, a least-privilege role, a URL.

Shared by RustFunction and RustDockerImageFunction. The log group and the role are children of
the function (``<fn>/LogGroup``, ``<fn>/ServiceRole``), as aws-cdk makes its own: tags, aspects
and ``fn.node.find_all()`` reach them, and no id is taken in the user's scope. A construct
cannot have children before it exists, so both are settled after ``lambda_.Function.__init__``:

- the role is the one aws-cdk creates when no ``role`` is given, minus the broad
  ``AWSLambdaBasicExecutionRole`` (logs on ``*``); it gets write access to its own log group;
- the log group is created unnamed (CloudFormation names it, so it can never collide with a
  ``/aws/lambda/<name>`` group Lambda or an earlier stack made) and the function's
  ``LoggingConfig`` points at it. Under the ``@aws-cdk/aws-lambda:useCdkManagedLogGroup``
  feature flag aws-cdk has already added a NAMED ``LogGroup`` child; it is replaced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from ..errors import ConfigurationError
from ..options import UrlOptions
from .function_props import check_function_options, validate_function_environment

#: Defaults a Rust function gets unless the user passes its own value.
DEFAULT_MEMORY_SIZE = 256
"""MB. Rust needs little memory, but Lambda's CPU share grows with memory: 256 MB halves cold
start and CPU-bound time against 128 MB for about the same cost per invocation."""
DEFAULT_TIMEOUT = cdk.Duration.seconds(10)
"""Lambda's own default (3 s) is short for a first call that opens network connections."""
DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_MONTH
DEFAULT_LOG_REMOVAL_POLICY = cdk.RemovalPolicy.RETAIN


@dataclass(frozen=True, kw_only=True)
class FunctionWiring:
    """What prepare_function_props decided and finish_function carries out after super()."""

    retention: logs.RetentionDays
    removal_policy: cdk.RemovalPolicy
    own_log_group: bool
    """True when the user passed no ``log_group``: the function gets its own child."""
    own_role: bool
    """True when the user passed no ``role``: aws-cdk's child role is narrowed."""


def prepare_function_props(
    construct_path: str, options: Dict[str, Any]
) -> Tuple[Dict[str, Any], FunctionWiring]:
    """Validate pass-through options and apply defaults.

    Returns the props for ``lambda_.Function``/``DockerImageFunction`` (without code) and what
    ``finish_function`` must do once the function exists.
    """
    try:
        check_function_options(options)
        validate_function_environment(options.get("environment"))
    except ConfigurationError as exc:
        raise exc.at(construct_path) from None
    props = dict(options)
    retention = props.pop("log_retention", None)
    removal = props.pop("log_removal_policy", None)
    if props.get("log_group") is not None and (retention is not None or removal is not None):
        raise ConfigurationError(
            "log_retention/log_removal_policy configure the log group RustFunction creates, "
            "but log_group was given too",
            prop="log_retention",
            fix="set retention and removal policy on your own log group, or drop log_group",
            construct_path=construct_path,
        )
    props.setdefault("memory_size", DEFAULT_MEMORY_SIZE)
    props.setdefault("timeout", DEFAULT_TIMEOUT)
    wiring = FunctionWiring(
        retention=retention or DEFAULT_LOG_RETENTION,
        removal_policy=removal or DEFAULT_LOG_REMOVAL_POLICY,
        own_log_group=props.get("log_group") is None,
        own_role=props.get("role") is None,
    )
    return props, wiring


#: The managed policy aws-cdk gives a default role: logs:CreateLogGroup/CreateLogStream/
#: PutLogEvents on every log group of the account. The function's own grant replaces it.
_BASIC_EXECUTION_ROLE = "service-role/AWSLambdaBasicExecutionRole"


@jsii.implements(cdk.IListProducer)
class _WithoutBasicExecutionRole:
    """``ManagedPolicyArns`` of a role as aws-cdk computes it, minus one basic execution role.

    Resolved at synth, so managed policies anyone adds later (``add_managed_policy``, the VPC
    policy aws-cdk adds itself) are kept. ``Role`` keeps one copy of an ARN, so adding the basic
    policy again cannot bring it back: a user who wants it passes their own ``role``.
    """

    def __init__(self, arns: Any) -> None:
        self._arns = arns

    def produce(self, context: cdk.IResolveContext) -> Optional[List[str]]:
        arns = list(context.resolve(self._arns) or [])
        arns = [arn for arn in arns if f'policy/{_BASIC_EXECUTION_ROLE}"' not in json.dumps(arn)]
        # A list producer returns strings: intrinsics ride as string tokens.
        return [arn if isinstance(arn, str) else cdk.Token.as_string(arn) for arn in arns]


def _own_log_group(fn: lambda_.Function, wiring: FunctionWiring) -> logs.LogGroup:
    # The feature flag's group is named /aws/lambda/<function>: it fails to create when that
    # group already exists (Lambda made it, or a stack before this one). Replace it.
    fn.node.try_remove_child("LogGroup")
    group = logs.LogGroup(
        fn, "LogGroup", retention=wiring.retention, removal_policy=wiring.removal_policy
    )
    resource = fn.node.default_child
    assert isinstance(resource, lambda_.CfnFunction)
    resource.add_property_override("LoggingConfig.LogGroup", group.log_group_name)
    return group


def _narrow_role(fn: lambda_.Function, construct_path: str) -> None:
    role = fn.role
    resource = role.node.default_child if role is not None else None
    if not isinstance(resource, iam.CfnRole):
        return
    resource.managed_policy_arns = cdk.Lazy.uncached_list(
        _WithoutBasicExecutionRole(resource.managed_policy_arns), omit_empty=True
    )
    resource.description = f"Execution role of {construct_path}: writes to its own log group only"


def finish_function(
    fn: lambda_.Function, wiring: FunctionWiring, url: Optional[UrlOptions]
) -> Tuple[logs.ILogGroup, Optional[lambda_.FunctionUrl]]:
    """After the function exists: its log group and role as children, the grant, the URL.

    Returns the function's log group and its URL (None when ``url`` is None).
    """
    log_group = _own_log_group(fn, wiring) if wiring.own_log_group else fn.log_group
    if wiring.own_role:
        _narrow_role(fn, fn.node.path)
    role = fn.role
    assert role is not None
    # Only stream creation and writes, on this function's log group: the one it created, or
    # any the user passed (owned, or imported by name or ARN). A role the library cannot
    # change (imported, immutable) gets a synth warning instead of silently lost logs.
    added = role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    # An immutable imported role pretends (statement_added) but attaches no policy: a role
    # that took the statement holds a policy construct (DefaultPolicy, or Policy on an import).
    if not added.statement_added or not role.node.children:
        cdk.Annotations.of(fn).add_warning_v2(
            "constructs_rust:log-group-not-granted",
            "The function's role cannot be changed by constructs_rust, so it was not allowed to "
            "write to the log group: the function's logs are lost unless the role already has "
            "logs:CreateLogStream and logs:PutLogEvents on it.",
        )
    if url is None:
        return log_group, None
    function_url = fn.add_function_url(
        auth_type=url.auth_type, cors=url.cors, invoke_mode=url.invoke_mode
    )
    if url.auth_type == lambda_.FunctionUrlAuthType.NONE and not url.acknowledge_public:
        cdk.Annotations.of(fn).add_warning_v2(
            "constructs_rust:public-function-url",
            "The function URL has auth type NONE: anyone on the internet can invoke this function. "
            "Set UrlOptions(acknowledge_public=True) if that is intended.",
        )
    return log_group, function_url


class RustFunctionWiring:
    """Mixin of the Rust function constructs: ``log_group`` returns the function's own child.

    aws-cdk's ``Function.log_group`` only knows a group passed as a prop; for any other it
    creates a LogRetention custom resource and an imported ``LogGroup`` child.
    """

    _rust_log_group: Optional[logs.ILogGroup] = None

    @property
    def log_group(self) -> logs.ILogGroup:
        """The function's log group: its own child ``LogGroup``, or the one passed as a prop."""
        if self._rust_log_group is not None:
            return self._rust_log_group
        return super().log_group  # type: ignore[misc,no-any-return]
