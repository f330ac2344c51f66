"""The example stacks' wiring: log groups linked and retained, URL auth, architectures, env."""

from aws_cdk.assertions import Match, Template

from stacks import EchoStack, ExtensionStack, HelloHttpStack, MultiFunctionStack, PiStack

from ..conftest import skip_bundling_app


def _template(stack_class):
    return Template.from_stack(stack_class(skip_bundling_app(), stack_class.__name__))


def test_hello_http_has_iam_url_output_and_log_group():
    t = _template(HelloHttpStack)
    t.has_resource_properties(
        "AWS::Lambda::Url",
        {
            "AuthType": "AWS_IAM",
            "TargetFunctionArn": {"Fn::GetAtt": [Match.string_like_regexp("HelloHttp"), "Arn"]},
        },
    )
    t.has_output(
        "HelloHttpUrl",
        {
            "Value": {
                "Fn::GetAtt": [Match.string_like_regexp("HelloHttpFunctionUrl"), "FunctionUrl"]
            }
        },
    )
    t.has_resource(
        "AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": 30}, "DeletionPolicy": "Retain"}
    )
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Architectures": ["arm64"],
            "LoggingConfig": {"LogGroup": {"Ref": Match.string_like_regexp("HelloHttpLogGroup")}},
        },
    )


def test_echo_environment_memory_timeout():
    t = _template(EchoStack)
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "MemorySize": 128,
            "Timeout": 3,
            "Environment": {"Variables": {"RUST_LOG": "info", "RUST_BACKTRACE": "1"}},
        },
    )


def test_pi_has_both_architectures():
    t = _template(PiStack)
    archs = sorted(
        f["Properties"]["Architectures"][0]
        for f in t.find_resources("AWS::Lambda::Function").values()
    )
    assert archs == ["arm64", "x86_64"]
    t.resource_count_is("AWS::Logs::LogGroup", 2)


def test_multi_function_two_functions_each_with_own_log_group():
    t = _template(MultiFunctionStack)
    functions = t.find_resources("AWS::Lambda::Function")
    assert len(functions) == 2
    groups = {f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in functions.values()}
    assert len(groups) == 2


def test_extension_stack_layers_the_extension_onto_echo():
    t = _template(ExtensionStack)
    (layer_id,) = t.find_resources("AWS::Lambda::LayerVersion")
    t.has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {
            "CompatibleArchitectures": ["arm64"],
            "CompatibleRuntimes": ["provided.al2023", "provided.al2"],
        },
    )
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {"Architectures": ["arm64"], "Handler": "bootstrap", "Layers": [{"Ref": layer_id}]},
    )
    t.has_output("ExtensionLayerArn", {"Value": {"Ref": layer_id}})


def test_static_pi_has_a_musl_zip_and_a_scratch_image():
    from stacks import StaticPiStack

    stack = StaticPiStack(skip_bundling_app(), "StaticPiStack")
    t = Template.from_stack(stack)
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {"Runtime": "provided.al2023", "Handler": "bootstrap", "Architectures": ["arm64"]},
    )
    t.has_resource_properties(
        "AWS::Lambda::Function", {"PackageType": "Image", "Architectures": ["arm64"]}
    )
    dockerfile = (stack.image_function.staged_context / "Dockerfile").read_text()
    assert "FROM scratch" in dockerfile and 'ENTRYPOINT ["/bootstrap"]' in dockerfile
