"""The functions of a synthesized cloud assembly (``cdk.out``), as ``constructs-rust local``
runs them: construct path, staged ``bootstrap``, architecture, memory, timeout, environment
variables, function URL, HTTP API routes.

Read from the manifest (stacks, nested assemblies of stages, each stack's metadata file: the
construct path → logical id map) and the templates (``aws:cdk:path`` and ``aws:asset:path``
metadata, nested stack templates). Nothing is deployed, so a value CloudFormation computes at
deploy time (a ``Ref`` to a queue, ``Fn::GetAtt``) has no value here: such an environment
variable is kept as ``unresolved`` for the caller to report.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from .intrinsics import SUB_VARIABLE, resolve
from .model import (
    Cors,
    GatewayMethod,
    LocalError,
    LocalFunction,
    RestResource,
    Route,
    cors_of,
    max_concurrency_of,
)

_LAMBDA = "AWS::Lambda::Function"


@dataclass
class Assembly:
    """Every resource of the assembly's stacks, and the runnable functions among them."""

    directory: Path
    functions: List[LocalFunction] = field(default_factory=list)
    unbuilt: List[LocalFunction] = field(default_factory=list)
    """Functions whose staged asset directory holds no bootstrap (their stack not bundled)."""
    resources: List[RestResource] = field(default_factory=list)
    methods: List[GatewayMethod] = field(default_factory=list)
    """REST API methods that are not Lambda proxies."""

    def find(self, wanted: str) -> LocalFunction:
        """The function named by construct path, ``Stack/LogicalId``, logical id or (when
        unique) its construct id. LocalError for anything else, with the known paths."""
        key = wanted.strip().strip("/")
        if key.endswith("/Resource"):
            key = key[: -len("/Resource")]
        for names in (_exact_names, _short_names):
            hits = [f for f in self.functions if key in names(f)]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                raise LocalError(
                    f"{wanted!r} names {len(hits)} functions: "
                    + ", ".join(f.path for f in hits)
                    + "; give the construct path"
                )
        unbuilt = [f for f in self.unbuilt if key in _exact_names(f) + _short_names(f)]
        if unbuilt:
            raise LocalError(
                f"{unbuilt[0].path} has no staged bootstrap in "
                f"{shown(unbuilt[0].asset_dir)}: its stack was synthesized without bundling "
                "(bundling skipped, or `cdk synth --exclusively` of another stack); synthesize "
                "it (drop --no-synth)"
            )
        other = [r for r in self.resources if key in (r.path, r.path + "/Resource", r.logical_id)]
        other += [r for r in self.resources if r.path == key + "/Resource"]
        if other:
            found = other[0]
            reason = (
                "it has no staged bootstrap (not a RustFunction's file asset)"
                if found.type == _LAMBDA
                else f"it is an {found.type}"
            )
            raise LocalError(
                f"{wanted!r} is not a function this command can run: {reason}. " + self._known()
            )
        inside = [f.path for f in self.functions if f.path.startswith(key + "/")]
        if inside:
            raise LocalError(
                f"{wanted!r} is a construct with {len(inside)} functions inside: "
                + ", ".join(inside)
                + "; name one of them"
            )
        candidates = [f.path for f in self.functions] + [f.logical_id for f in self.functions]
        close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise LocalError(
            f"no function {wanted!r} in {shown(self.directory)}: {hint}" + self._known()
        )

    def _known(self) -> str:
        names = [f.path for f in self.functions] + [f"{f.path} (not built)" for f in self.unbuilt]
        if not names:
            return "the assembly has no function with a staged bootstrap"
        return "known functions: " + ", ".join(names)


def shown(path: Optional[Path]) -> str:
    """``path`` relative to the current directory when it is under it (shorter lines)."""
    if path is None:
        return "-"
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _exact_names(function: LocalFunction) -> Tuple[str, ...]:
    named = (function.function_name,) if function.function_name else ()
    return (function.path, function.logical_id, f"{function.stack}/{function.logical_id}", *named)


def _short_names(function: LocalFunction) -> Tuple[str, ...]:
    return (function.path.rsplit("/", 1)[-1],)


def load(directory: Path) -> Assembly:
    """Read the cloud assembly in ``directory`` (LocalError when there is none)."""
    manifest = directory / "manifest.json"
    if not manifest.is_file():
        raise LocalError(
            f"no cloud assembly in {directory} (no manifest.json): synthesize the app first "
            "(drop --no-synth, or run `cdk synth`)"
        )
    assembly = Assembly(directory=directory)
    for stack, template, logical_paths in _stacks(directory):
        assembly.resources += _resources(template, stack, logical_paths)
    by_template: Dict[Tuple[str, Path], Dict[str, RestResource]] = {}
    for resource in assembly.resources:
        by_template.setdefault((resource.stack, resource.directory), {})[resource.logical_id] = (
            resource
        )
    for resources in by_template.values():
        rest_routes, methods = _rest_methods(resources)
        assembly.methods += methods
        for function in _functions(resources, rest_routes):
            built = function.bootstrap is not None
            (assembly.functions if built else assembly.unbuilt).append(function)
    assembly.methods.sort(key=lambda m: (m.api_path, m.route_key))
    assembly.functions.sort(key=lambda f: f.path)
    assembly.unbuilt.sort(key=lambda f: f.path)
    return assembly


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LocalError(f"cannot read {path}: {exc}") from None


def _stacks(directory: Path) -> Iterator[Tuple[str, Path, Dict[str, str]]]:
    """(display name, template file, logical id → construct path) of every stack, stages'
    nested assemblies included."""
    manifest = _read_json(directory / "manifest.json")
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        kind = artifact.get("type")
        properties = artifact.get("properties") or {}
        if kind == "cdk:cloud-assembly" and properties.get("directoryName"):
            yield from _stacks(directory / properties["directoryName"])
        elif kind == "aws:cloudformation:stack" and properties.get("templateFile"):
            metadata = dict(artifact.get("metadata") or {})
            extra = artifact.get("additionalMetadataFile")
            if extra and (directory / extra).is_file():
                metadata.update(_read_json(directory / extra))
            paths = {
                entry["data"]: path.strip("/")
                for path, entries in metadata.items()
                for entry in entries
                if entry.get("type") == "aws:cdk:logicalId" and isinstance(entry.get("data"), str)
            }
            name = artifact.get("displayName") or artifact_id
            yield name, directory / properties["templateFile"], paths


def _resources(template_file: Path, stack: str, paths: Mapping[str, str]) -> List[RestResource]:
    template = _read_json(template_file)
    out = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        metadata = resource.get("Metadata") or {}
        path = metadata.get("aws:cdk:path") or paths.get(logical_id) or f"{stack}/{logical_id}"
        out.append(
            RestResource(
                path=path[: -len("/Resource")] if path.endswith("/Resource") else path,
                logical_id=logical_id,
                type=str(resource.get("Type")),
                properties=resource.get("Properties") or {},
                metadata=metadata,
                stack=stack,
                directory=template_file.parent,
            )
        )
        if resource.get("Type") == "AWS::CloudFormation::Stack":
            nested = metadata.get("aws:asset:path")
            url = json.dumps((resource.get("Properties") or {}).get("TemplateURL"))
            digest = re.search(r"([0-9a-f]{64})\.json", url)
            nested_file = (
                template_file.parent / nested
                if isinstance(nested, str)
                else _asset_source(template_file.parent, digest.group(1) if digest else "")
            )
            if nested_file is not None and nested_file.is_file():
                # the parent's metadata holds the nested resources' construct paths too
                out += _resources(nested_file, f"{stack}/{logical_id}", paths)
    return out


def _target(value: Any) -> Optional[str]:
    """The logical id a ``Fn::GetAtt [X, Arn]`` / ``Ref X`` / ``integrations/${X}`` names."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::Join" in value:
            for part in value["Fn::Join"][1]:
                found = _target(part)
                if found:
                    return found
    return None


def _function_in(value: Any, resources: Mapping[str, RestResource]) -> Optional[str]:
    """The logical id of the first function a template value refers to (an integration URI is
    a ``Fn::Join`` or ``Fn::Sub`` of partition, region and the function's ARN)."""
    if isinstance(value, dict):
        for name in ("Fn::GetAtt", "Ref"):
            if name in value:
                ref = value[name]
                logical_id = str(ref[0] if isinstance(ref, list) else ref).split(".")[0]
                found = resources.get(logical_id)
                if found is not None and found.type == _LAMBDA:
                    return logical_id
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            text = sub[0] if isinstance(sub, list) else sub
            for name in SUB_VARIABLE.findall(str(text)):
                found = resources.get(name.split(".")[0])
                if found is not None and found.type == _LAMBDA:
                    return found.logical_id
        values: Any = list(value.values())
    elif isinstance(value, list):
        values = value
    else:
        return None
    for item in values:
        hit = _function_in(item, resources)
        if hit:
            return hit
    return None


def _rest_methods(
    resources: Mapping[str, RestResource],
) -> Tuple[Dict[str, List[Route]], List[GatewayMethod]]:
    """The REST APIs' Lambda proxy methods (function logical id → routes, payload 1.0) and
    their other methods, for every stage of each API: ``AWS::ApiGateway::Method`` resources
    (``RestApi``, ``LambdaRestApi``) and the OpenAPI body of a ``SpecRestApi``."""
    stages: Dict[str, List[str]] = {}
    for resource in resources.values():
        props = resource.properties
        if resource.type in ("AWS::ApiGateway::Stage", "AWS::ApiGateway::Deployment"):
            api_id = _target(props.get("RestApiId"))
            name = props.get("StageName")
            if api_id and isinstance(name, str) and name not in stages.get(api_id, []):
                stages.setdefault(api_id, []).append(name)

    def path_of(logical_id: str, api: str) -> Optional[str]:
        if logical_id == api:
            return ""
        resource = resources.get(logical_id)
        if resource is None or resource.type != "AWS::ApiGateway::Resource":
            return None
        parent = path_of(_target(resource.properties.get("ParentId")) or "", api)
        part = resource.properties.get("PathPart")
        return None if parent is None or not isinstance(part, str) else f"{parent}/{part}"

    routes: Dict[str, List[Route]] = {}
    methods: List[GatewayMethod] = []

    def add(api: RestResource, method: str, path: str, integration: Mapping[str, Any]) -> None:
        kind = str(integration.get("Type") or integration.get("type") or "").upper()
        key = f"{'ANY' if method.upper() == 'X-AMAZON-APIGATEWAY-ANY-METHOD' else method.upper()} "
        key += path or "/"
        function = _function_in(integration.get("Uri") or integration.get("uri"), resources)
        for stage in stages.get(api.logical_id) or ["prod"]:
            if kind == "AWS_PROXY" and function:
                routes.setdefault(function, []).append(Route(api.path, key, "rest", "1.0", stage))
                continue
            status, headers = 200, []
            responses = integration.get("IntegrationResponses") or []
            if kind == "MOCK" and responses and isinstance(responses[0], dict):
                first = responses[0]
                status = _int(first.get("StatusCode"), 200)
                for name, value in (first.get("ResponseParameters") or {}).items():
                    header = str(name).rsplit("method.response.header.", 1)
                    if len(header) == 2 and isinstance(value, str) and value[:1] == "'":
                        headers.append((header[1], value.strip("'")))
            methods.append(GatewayMethod(api.path, stage, key, kind or "?", status, tuple(headers)))

    for resource in resources.values():
        props = resource.properties
        if resource.type == "AWS::ApiGateway::Method":
            api = resources.get(_target(props.get("RestApiId")) or "")
            if api is None:
                continue
            path = path_of(_target(props.get("ResourceId")) or "", api.logical_id)
            if path is not None:
                add(api, str(props.get("HttpMethod")), path, props.get("Integration") or {})
        elif resource.type == "AWS::ApiGateway::RestApi":
            body = props.get("Body")
            if body is None and isinstance(props.get("BodyS3Location"), dict):
                body = _spec_from_asset(resource.directory, props["BodyS3Location"])
            if not isinstance(body, dict):
                continue
            for path, operations in (body.get("paths") or {}).items():
                for method, operation in (operations or {}).items():
                    if isinstance(operation, dict):
                        integration = operation.get("x-amazon-apigateway-integration") or {}
                        add(resource, method, str(path).rstrip("/"), integration)
    return routes, methods


def _spec_from_asset(directory: Path, location: Mapping[str, Any]) -> Any:
    """A ``SpecRestApi``'s OpenAPI document staged as a file asset (JSON or YAML)."""
    key = location.get("Key")
    if not isinstance(key, str):
        return None
    source = _asset_source(directory, key.rsplit("/", 1)[-1].split(".")[0])
    if source is None or not source.is_file():
        return None
    text = source.read_text()
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import yaml  # type: ignore[import-untyped]

        return yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - no YAML reader, or not YAML: not served
        return None


def _functions(
    resources: Mapping[str, RestResource], rest_routes: Mapping[str, List[Route]]
) -> List[LocalFunction]:
    urls: Dict[str, str] = {}
    url_cors: Dict[str, Optional[Cors]] = {}
    routes: Dict[str, List[Route]] = {k: list(v) for k, v in rest_routes.items()}
    for resource in resources.values():
        props = resource.properties
        if resource.type == "AWS::Lambda::Url":
            target = _target(props.get("TargetFunctionArn"))
            if target:
                urls[target] = str(props.get("InvokeMode") or "BUFFERED")
                url_cors[target] = cors_of(props.get("Cors"))
        elif resource.type == "AWS::ApiGatewayV2::Route":
            integration = resources.get(_target(props.get("Target")) or "")
            api = resources.get(_target(props.get("ApiId")) or "")
            if integration is None or api is None:
                continue
            target = _function_in(integration.properties.get("IntegrationUri"), resources)
            version = str(integration.properties.get("PayloadFormatVersion") or "")
            if target and version in ("1.0", "2.0"):
                cors = cors_of(api.properties.get("CorsConfiguration"))
                route = Route(api.path, str(props["RouteKey"]), "http", version, "", cors)
                routes.setdefault(target, []).append(route)
    out = []
    for resource in resources.values():
        if resource.type != _LAMBDA:
            continue
        props = resource.properties
        asset = resource.metadata.get("aws:asset:path")
        asset_dir = resource.directory / asset if isinstance(asset, str) else None
        if asset_dir is None:
            asset_dir = _asset_from_key(resource.directory, props.get("Code") or {})
        variables = ((props.get("Environment") or {}).get("Variables")) or {}
        environment: Dict[str, str] = {}
        unresolved: Dict[str, Any] = {}
        for name, value in variables.items():
            resolved = resolve(value, resource.stack)
            if resolved is None:
                unresolved[name] = value
            else:
                environment[name] = resolved
        function = LocalFunction(
            path=resource.path,
            logical_id=resource.logical_id,
            stack=resource.stack,
            asset_dir=asset_dir,
            architecture=str((props.get("Architectures") or ["x86_64"])[0]),
            memory_size=_int(props.get("MemorySize"), 128),
            timeout=_int(props.get("Timeout"), 3),
            runtime=str(props.get("Runtime") or ""),
            environment=environment,
            unresolved=unresolved,
            url_invoke_mode=urls.get(resource.logical_id),
            routes=tuple(routes.get(resource.logical_id, ())),
            url_cors=url_cors.get(resource.logical_id),
            function_name=resolve(props.get("FunctionName"), resource.stack),
            reserved_concurrency=_int(props["ReservedConcurrentExecutions"], 0)
            if "ReservedConcurrentExecutions" in props
            else None,
            max_concurrency=max_concurrency_of(props.get("CapacityProviderConfig")),
        )
        if asset_dir is not None:
            out.append(function)
    return out


def _int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else default


def _asset_from_key(directory: Path, code: Mapping[str, Any]) -> Optional[Path]:
    """Without asset metadata: the S3 key ``<hash>.zip`` looked up in the asset manifests."""
    key = code.get("S3Key")
    if not isinstance(key, str) or not key.endswith(".zip"):
        return None
    return _asset_source(directory, key[: -len(".zip")].rsplit("/", 1)[-1])


def _asset_source(directory: Path, digest: str) -> Optional[Path]:
    """The staged file or directory of the asset ``digest``, from the asset manifests."""
    for manifest in sorted(directory.glob("*.assets.json")):
        entry = (_read_json(manifest).get("files") or {}).get(digest)
        if entry and (entry.get("source") or {}).get("path"):
            return directory / str(entry["source"]["path"])
    return None
