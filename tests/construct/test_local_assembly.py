"""What ``constructs-rust local`` reads from a cloud assembly (#30), on real synthesized
assemblies (plain ``lambda.Function``s with a file asset holding a ``bootstrap``: no Rust):
construct paths across stages and nested stacks, the staged bootstrap, architecture, memory,
environment (resolved and deploy-time values), function URLs, HTTP API routes; the errors."""

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from constructs_rust.local.assembly import load
from constructs_rust.local.intrinsics import resolve
from constructs_rust.local.model import LocalError
from constructs_rust.local.routes import endpoints, event, match


def _function(scope, id, code_dir: Path, **kwargs) -> lambda_.Function:
    return lambda_.Function(
        scope,
        id,
        runtime=lambda_.Runtime.PROVIDED_AL2023,
        handler="bootstrap",
        code=lambda_.Code.from_asset(str(code_dir)),
        **kwargs,
    )


@pytest.fixture(scope="module")
def assembly(tmp_path_factory):
    root = tmp_path_factory.mktemp("local")
    code = root / "code"
    code.mkdir()
    (code / "bootstrap").write_text("#!/bin/sh\n")
    outdir = root / "cdk.out"
    app = cdk.App(outdir=str(outdir))
    stage = cdk.Stage(app, "Prod")
    stack = cdk.Stack(stage, "Svc")
    queue = sqs.Queue(stack, "Queue")
    api_fn = _function(
        stack,
        "Api",
        code,
        architecture=lambda_.Architecture.ARM_64,
        memory_size=512,
        environment={
            "PLAIN": "v",
            "QUEUE": queue.queue_url,
            "REGION_JOINED": cdk.Fn.join("-", ["r", cdk.Aws.REGION]),
        },
    )
    api_fn.add_function_url(invoke_mode=lambda_.InvokeMode.RESPONSE_STREAM)
    http = apigw.HttpApi(stack, "Http")
    http.add_routes(
        path="/items/{id}",
        methods=[apigw.HttpMethod.GET],
        integration=integrations.HttpLambdaIntegration("I", api_fn),
    )
    nested = cdk.NestedStack(stack, "Inner")
    _function(nested, "Worker", code)
    top = cdk.Stack(app, "Top")
    _function(top, "Api", code, function_name="top-api", reserved_concurrent_executions=3)
    empty = root / "empty"  # a staged asset without a bootstrap: its stack was not bundled
    empty.mkdir()
    (empty / "README").write_text("no bootstrap\n")
    _function(cdk.Stack(app, "Cold"), "Fn", empty)
    app.synth()
    return load(outdir)


def test_functions_are_found_by_path_logical_id_and_short_id(assembly):
    paths = [f.path for f in assembly.functions]
    assert paths == ["Prod/Svc/Api", "Prod/Svc/Inner/Worker", "Top/Api"]
    api = assembly.find("Prod/Svc/Api")
    assert assembly.find("/Prod/Svc/Api/Resource") is api
    top = assembly.find("Top/Api")
    assert top.logical_id == api.logical_id and assembly.find(f"Top/{top.logical_id}") is top
    with pytest.raises(LocalError, match="names 2 functions"):
        assembly.find(api.logical_id)  # in two stacks: ambiguous
    worker = assembly.find("Worker")  # inside the nested stack
    assert worker.path == "Prod/Svc/Inner/Worker" and assembly.find(worker.logical_id) is worker
    assert api.bootstrap is not None and api.bootstrap.read_text() == "#!/bin/sh\n"
    assert (api.architecture, api.memory_size) == ("arm64", 512)


def test_function_name_and_reserved_concurrency_are_read(assembly):
    """The Invoke API takes a function's FunctionName; its reserved concurrency caps its
    execution environments (a function without one: None)."""
    top = assembly.find("top-api")
    assert top.path == "Top/Api" and top.function_name == "top-api"
    assert top.reserved_concurrency == 3
    worker = assembly.find("Worker")
    assert (worker.function_name, worker.reserved_concurrency) == (None, None)


def test_environment_plain_and_pseudo_values_resolve_deploy_time_ones_do_not(assembly):
    api = assembly.find("Prod/Svc/Api")
    assert api.environment == {"PLAIN": "v", "REGION_JOINED": "r-us-east-1"}
    assert list(api.unresolved) == ["QUEUE"] and "Ref" in api.unresolved["QUEUE"]
    assert resolve({"Fn::Sub": "arn:${AWS::Partition}:x"}) == "arn:aws:x"
    assert resolve({"Fn::Sub": "${Queue.Arn}"}) is None
    assert resolve({"Fn::GetAtt": ["Q", "Arn"]}) is None


def test_function_url_and_http_api_route_are_read(assembly):
    api = assembly.find("Prod/Svc/Api")
    assert api.url_invoke_mode == "RESPONSE_STREAM"
    assert [(r.api_path, r.route_key) for r in api.routes] == [("Prod/Svc/Http", "GET /items/{id}")]
    served = endpoints(assembly.functions)
    assert [(e.prefix, e.route_key) for e in served] == [
        ("/Prod/Svc/Api", None),
        ("/Prod/Svc/Http", "GET /items/{id}"),
    ]
    found = match(served, "GET", "/Prod/Svc/Http/items/7")
    assert found is not None and found[1:] == ("/items/7", {"id": "7"})
    assert match(served, "POST", "/Prod/Svc/Http/items/7") is None
    assert match(served, "GET", "/Prod/Svc/Api")[1] == "/"
    request = event(
        found[0],
        method="GET",
        path="/items/7",
        raw_query="a=1&a=2&b=%20",
        headers=[("Cookie", "s=1; t=2"), ("X-A", "1"), ("X-A", "2")],
        body=b"",
        source_ip="127.0.0.1",
        path_parameters=found[2],
    )
    assert request["routeKey"] == "GET /items/{id}" and request["pathParameters"] == {"id": "7"}
    assert request["rawQueryString"] == "a=1&a=2&b=%20"
    assert request["queryStringParameters"] == {"a": "1,2", "b": " "}
    assert request["cookies"] == ["s=1", "t=2"] and request["headers"]["x-a"] == "1,2"


def test_bad_names_are_one_line_errors_with_the_known_paths(assembly):
    with pytest.raises(LocalError, match=r"did you mean 'Prod/Svc/Api'\? known functions: "):
        assembly.find("Prod/Svc/Apy")
    with pytest.raises(LocalError, match="not a function this command can run: it is an AWS::SQS"):
        assembly.find("Prod/Svc/Queue")
    with pytest.raises(LocalError, match="names 2 functions: Prod/Svc/Api, Top/Api"):
        assembly.find("Api")
    with pytest.raises(LocalError, match="a construct with 2 functions inside"):
        assembly.find("Prod/Svc")
    for error in (LocalError("x"),):
        assert "\n" not in str(error)


def test_no_assembly_is_a_clear_error(tmp_path):
    with pytest.raises(LocalError, match="no cloud assembly"):
        load(tmp_path)


def test_a_function_whose_stack_was_not_bundled_is_named_so(assembly):
    assert [f.path for f in assembly.unbuilt] == ["Cold/Fn"]
    with pytest.raises(LocalError, match=r"Cold/Fn has no staged bootstrap in .*asset\.\w+: its "):
        assembly.find("Cold/Fn")
    with pytest.raises(LocalError, match=r"known functions: .*Top/Api, Cold/Fn \(not built\)"):
        assembly.find("Nothing/Here")


def test_rest_apis_cors_and_payload_1_0(tmp_path):
    """REST APIs (RestApi, LambdaRestApi, SpecRestApi) become payload 1.0 routes under
    ``/<api path>/<stage>``; their CORS preflight and other non-proxy methods are kept as
    gateway methods; a function URL's and an HTTP API's CORS settings are read."""
    from aws_cdk import aws_apigateway as rest

    from constructs_rust.local.model import Cors

    code = tmp_path / "code"
    code.mkdir()
    (code / "bootstrap").write_text("#!/bin/sh\n")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "S")
    fn = _function(stack, "Fn", code)
    fn.add_function_url(
        cors=lambda_.FunctionUrlCorsOptions(
            allowed_origins=["https://a.example"],
            exposed_headers=["x-id"],
            max_age=cdk.Duration.seconds(60),
        )
    )
    http = apigw.HttpApi(
        stack, "Http", cors_preflight=apigw.CorsPreflightOptions(allow_origins=["*"])
    )
    http.add_routes(
        path="/old",
        integration=integrations.HttpLambdaIntegration(
            "Old", fn, payload_format_version=apigw.PayloadFormatVersion.VERSION_1_0
        ),
    )
    api = rest.LambdaRestApi(
        stack,
        "Rest",
        handler=fn,
        deploy_options=rest.StageOptions(stage_name="v1"),
        default_cors_preflight_options=rest.CorsOptions(allow_origins=["https://a.example"]),
    )
    api.root.add_resource("items").add_resource("{id}").add_method("GET")
    api.root.add_resource("up").add_method("GET", rest.HttpIntegration("https://example.com"))
    uri = cdk.Fn.sub(
        "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations",
        {"Fn.Arn": fn.function_arn},
    )
    rest.SpecRestApi(
        stack,
        "Spec",
        api_definition=rest.ApiDefinition.from_inline(
            {
                "openapi": "3.0.1",
                "info": {"title": "spec", "version": "1"},
                "paths": {
                    "/pets/{petId}": {
                        "post": {
                            "x-amazon-apigateway-integration": {
                                "type": "aws_proxy",
                                "httpMethod": "POST",
                                "uri": uri,
                            }
                        }
                    }
                },
            }
        ),
    )
    # a document staged as a file asset (YAML): the function named by its ARN in the template
    arn = stack.resolve(fn.function_arn)
    logical_id = arn["Fn::GetAtt"][0]
    (tmp_path / "spec.yaml").write_text(
        "openapi: 3.0.1\n"
        "info: {title: file, version: '1'}\n"
        "paths:\n"
        "  /things/{proxy+}:\n"
        "    x-amazon-apigateway-any-method:\n"
        "      x-amazon-apigateway-integration:\n"
        "        type: aws_proxy\n"
        "        httpMethod: POST\n"
        "        uri:\n"
        "          Fn::Sub: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"${{{logical_id}.Arn}}/invocations\n"
    )
    rest.SpecRestApi(
        stack,
        "FileSpec",
        api_definition=rest.ApiDefinition.from_asset(str(tmp_path / "spec.yaml")),
    )
    app.synth()
    assembly = load(tmp_path / "cdk.out")
    (function,) = assembly.functions
    assert function.url_cors == Cors(
        origins=("https://a.example",), methods=("*",), expose=("x-id",), max_age=60
    ), function.url_cors
    routes = {(r.kind, r.payload, r.stage, r.route_key) for r in function.routes}
    assert {
        ("http", "1.0", "", "ANY /old"),
        ("rest", "1.0", "v1", "ANY /"),
        ("rest", "1.0", "v1", "ANY /{proxy+}"),
        ("rest", "1.0", "v1", "GET /items/{id}"),
        ("rest", "1.0", "prod", "POST /pets/{petId}"),
        ("rest", "1.0", "prod", "ANY /things/{proxy+}"),
    } <= routes, routes
    assert [r.cors.origins for r in function.routes if r.kind == "http"] == [("*",)]
    methods = {(m.api_path, m.route_key): m for m in assembly.methods}
    up = methods[("S/Rest", "GET /up")]
    assert up.integration == "HTTP_PROXY"
    preflight = methods[("S/Rest", "OPTIONS /items/{id}")]
    assert preflight.integration == "MOCK" and preflight.status == 204
    assert ("Access-Control-Allow-Origin", "https://a.example") in preflight.headers

    found = endpoints(assembly.functions, assembly.methods)
    endpoint, rest_path, params = match(found, "GET", "/S/Rest/v1/items/7")
    assert (endpoint.kind, endpoint.route_key, rest_path, params) == (
        "rest",
        "GET /items/{id}",
        "/items/7",
        {"id": "7"},
    )
    # the literal resource beats {proxy+}; the greedy one takes the rest; the root its own
    assert match(found, "GET", "/S/Rest/v1/items/7/x")[0].route_key == "ANY /{proxy+}"
    assert match(found, "DELETE", "/S/Rest/v1/")[0].route_key == "ANY /"
    assert match(found, "OPTIONS", "/S/Rest/v1/items/7")[0].method is preflight
    assert match(found, "GET", "/S/Rest/v1/up")[0].method is up
    built = event(
        endpoint,
        method="GET",
        path=rest_path,
        raw_query="a=1&a=2&b=x",
        headers=[("Host", "localhost"), ("X-Token", "t1"), ("X-Token", "t2")],
        body=b"\xff\x00",
        source_ip="127.0.0.1",
        path_parameters=params,
    )
    assert built["resource"] == "/items/{id}" and built["path"] == "/items/7"
    assert built["httpMethod"] == "GET" and built["pathParameters"] == {"id": "7"}
    assert built["queryStringParameters"] == {"a": "2", "b": "x"}
    assert built["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x"]}
    assert built["headers"]["X-Token"] == "t2"
    assert built["multiValueHeaders"]["X-Token"] == ["t1", "t2"]
    assert built["requestContext"]["stage"] == "v1"
    assert built["requestContext"]["path"] == "/v1/items/7"
    assert built["isBase64Encoded"] is True and built["body"] == "/wA="
