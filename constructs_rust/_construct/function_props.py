"""Which ``aws_lambda.Function`` props a Rust construct passes through (``FunctionOptions``),
which it manages itself (code, handler, runtime, log group...), which it does not support, and
the environment names Lambda reserves: checked before ``super().__init__``, with the close
match named for a misspelt prop."""

from __future__ import annotations

import difflib
import functools
import inspect
from typing import Any, FrozenSet, Mapping, Optional

from aws_cdk import aws_lambda as lambda_

from ..errors import ConfigurationError

#: Environment variables Lambda reserves; a function cannot set them.
RESERVED_ENV_NAMES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


RESERVED_ENV_PREFIXES = ("AWS_LAMBDA_",)


def validate_function_environment(environment: Optional[Mapping[str, str]]) -> None:
    for key in environment or {}:
        if key in RESERVED_ENV_NAMES or key.startswith(RESERVED_ENV_PREFIXES):
            raise ConfigurationError(
                "is reserved by AWS Lambda and cannot be set on a function",
                prop="environment",
                value=key,
                fix="rename the variable (Lambda sets AWS_LAMBDA_*, AWS_REGION, _HANDLER, ... "
                "itself)",
            )


#: Options of aws_lambda.Function that RustFunction does not accept, with the reason.
UNSUPPORTED_FUNCTION_OPTIONS = {
    "log_retention_retry_options": "RustFunction creates a real log group; there is no "
    "LogRetention custom resource to configure",
    "log_retention_role": "RustFunction creates a real log group; there is no LogRetention custom "
    "resource to configure",
    "code": "the code is the bundled Rust binary",
    "handler": "the handler is always `bootstrap`",
}


#: Props the constructs set from parameters of their own, so never pass-through options (with
#: what to do instead). ``code`` and ``handler`` are in UNSUPPORTED_FUNCTION_OPTIONS.
MANAGED_FUNCTION_OPTIONS = {
    "runtime": "RustFunction takes it as its own `runtime` parameter; a "
    "RustDockerImageFunction's runtime is its image (`base_image`)",
    "architecture": "pass it as the construct's own `architecture` parameter (it also sets the "
    "build target)",
}


#: Options the library handles itself (on the log group it creates), accepted whatever the
#: installed aws-cdk-lib's Function props say.
LIBRARY_FUNCTION_OPTIONS = frozenset({"log_retention", "log_removal_policy"})


@functools.lru_cache(maxsize=None)
def _keyword_parameters(props_class: type) -> FrozenSet[str]:
    parameters = inspect.signature(props_class).parameters.values()
    return frozenset(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY)


def accepted_function_options(props_class: Optional[type] = None) -> FrozenSet[str]:
    """The pass-through option names: the keyword parameters of the installed aws-cdk-lib's
    ``props_class`` minus what the construct manages or does not support, plus the library's
    own (``LIBRARY_FUNCTION_OPTIONS``).

    ``props_class``: ``aws_lambda.FunctionProps`` or ``aws_lambda.DockerImageFunctionProps``
    (the same names once ``runtime``/``handler`` are taken out). Default: None, that is
    ``aws_lambda.FunctionProps``."""
    names = _keyword_parameters(props_class or lambda_.FunctionProps)
    excluded = MANAGED_FUNCTION_OPTIONS.keys() | UNSUPPORTED_FUNCTION_OPTIONS.keys()
    return (names - excluded) | LIBRARY_FUNCTION_OPTIONS


def check_function_options(
    options: Mapping[str, Any], *, props_class: Optional[type] = None
) -> None:
    """Raise ConfigurationError for a pass-through option the construct cannot take.

    ``props_class``: as for ``accepted_function_options``. Default: None
    (``aws_lambda.FunctionProps``)."""
    known = accepted_function_options(props_class)
    for key in options:
        if key in UNSUPPORTED_FUNCTION_OPTIONS:
            raise ConfigurationError(
                f"is not supported: {UNSUPPORTED_FUNCTION_OPTIONS[key]}",
                prop=key,
                fix=f"remove {key}",
            )
        if key in MANAGED_FUNCTION_OPTIONS:
            raise ConfigurationError(
                "is set by the construct, not a pass-through option",
                prop=key,
                fix=MANAGED_FUNCTION_OPTIONS[key],
            )
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigurationError(
                "is not an aws_lambda.Function option",
                prop=key,
                fix=f"{hint}check the spelling against aws_cdk.aws_lambda.FunctionOptions",
            )
