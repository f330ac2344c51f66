"""What every Rust function gets around it: its own log group, a least-privilege role, a URL.

Shared by RustFunction and RustDockerImageFunction. The log group and role must exist before
``lambda_.Function.__init__`` runs (they are constructor props), and a construct cannot have
children before it exists, so they are created in the function's scope with ids derived from
the function's id (``<id>LogGroup``, ``<id>ServiceRole``).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .errors import ConfigurationError
from .options import UrlOptions, check_function_options, validate_function_environment

#: Defaults a Rust function gets unless the user passes its own value.
DEFAULT_MEMORY_SIZE = 256
"""MB. Rust needs little memory, but Lambda's CPU share grows with memory: 256 MB halves cold
start and CPU-bound time against 128 MB for about the same cost per invocation."""
DEFAULT_TIMEOUT = cdk.Duration.seconds(10)
"""Lambda's own default (3 s) is short for a first call that opens network connections."""
DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_MONTH
DEFAULT_LOG_REMOVAL_POLICY = cdk.RemovalPolicy.RETAIN


def prepare_function_props(
    scope: Construct, id: str, construct_path: str, options: Dict[str, Any]
) -> Dict[str, Any]:
    """Validate pass-through options, apply defaults, create log group and role if not given.

    Returns the props for ``lambda_.Function``/``DockerImageFunction`` (without code).
    """
    try:
        check_function_options(options)
        validate_function_environment(options.get("environment"))
    except ConfigurationError as exc:
        raise exc.at(construct_path) from None
    props = dict(options)
    retention = props.pop("log_retention", None)
    removal = props.pop("log_removal_policy", None)
    if props.get("log_group") is not None:
        if retention is not None or removal is not None:
            raise ConfigurationError(
                "log_retention/log_removal_policy configure the log group RustFunction creates, "
                "but log_group was given too",
                prop="log_retention",
                fix="set retention and removal policy on your own log group, or drop log_group",
                construct_path=construct_path,
            )
    else:
        props["log_group"] = logs.LogGroup(
            scope,
            f"{id}LogGroup",
            retention=retention or DEFAULT_LOG_RETENTION,
            removal_policy=removal or DEFAULT_LOG_REMOVAL_POLICY,
        )
    if props.get("role") is None:
        props["role"] = iam.Role(
            scope,
            f"{id}ServiceRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {construct_path}: writes to its own log group only",
        )
        if props.get("vpc") is not None:
            props["role"].add_managed_policy(
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AWSLambdaVPCAccessExecutionRole"
                )
            )
    props.setdefault("memory_size", DEFAULT_MEMORY_SIZE)
    props.setdefault("timeout", DEFAULT_TIMEOUT)
    return props


def finish_function(
    fn: lambda_.Function, props: Dict[str, Any], url: Optional[UrlOptions]
) -> Optional[lambda_.FunctionUrl]:
    """After the function exists: let its role write to its log group; add the URL."""
    log_group = props["log_group"]
    role = props["role"]
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
        return None
    function_url = fn.add_function_url(
        auth_type=url.auth_type, cors=url.cors, invoke_mode=url.invoke_mode
    )
    if url.auth_type == lambda_.FunctionUrlAuthType.NONE and not url.acknowledge_public:
        cdk.Annotations.of(fn).add_warning_v2(
            "constructs_rust:public-function-url",
            "The function URL has auth type NONE: anyone on the internet can invoke this function. "
            "Set UrlOptions(acknowledge_public=True) if that is intended.",
        )
    return function_url
