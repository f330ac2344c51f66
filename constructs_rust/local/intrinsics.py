"""The CloudFormation intrinsics a template's environment values use (``Ref``, ``Fn::Sub``,
``Fn::Join``, pseudo parameters), resolved to local stand-ins where they can be."""

from __future__ import annotations

import re
from typing import Any, Optional

#: What the local runs give the pseudo parameters (the emulator's region and a fixed account).
PSEUDO_PARAMETERS = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": "",
}


SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def resolve(value: Any, stack: str = "") -> Optional[str]:
    """A template value as the string Lambda would see, or None when only a deploy knows it:
    plain strings and numbers, pseudo parameters, ``Fn::Join`` and ``Fn::Sub`` of those."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if not isinstance(value, dict) or len(value) != 1:
        return None
    pseudo = {**PSEUDO_PARAMETERS, "AWS::StackName": stack.rsplit("/", 1)[-1]}
    ((function, argument),) = value.items()
    if function == "Ref":
        return pseudo.get(str(argument))
    if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
        parts = [resolve(part, stack) for part in argument[1]]
        if any(part is None for part in parts):
            return None
        return str(argument[0]).join(str(part) for part in parts)
    if function == "Fn::Sub" and isinstance(argument, str):
        names = SUB_VARIABLE.findall(argument)
        if any(name not in pseudo for name in names):
            return None
        return SUB_VARIABLE.sub(lambda m: pseudo[m.group(1)], argument)
    return None
