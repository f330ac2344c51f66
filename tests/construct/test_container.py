"""RustDockerImageFunction's Dockerfiles, asset manifest entries and template (no Rust compile).

Stand-in tests skip bundling (no cargo at all); IN_DOCKER tests with a real context run only
``cargo metadata``; PREBUILT tests that need the real fingerprint construct but never synthesize,
so no build runs.
"""

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Annotations, Match, Template

from constructs_rust import (
    BundlingOptions,
    CommandHooks,
    ConfigurationError,
    RustFunction,
    UrlOptions,
)
from constructs_rust._construct.image import (
    IN_DOCKER_LAMBDA_DIR,
    IN_DOCKER_OUTPUT,
    IN_DOCKER_TARGET_DIR,
    render_in_docker_dockerfile,
)
from constructs_rust.container import (
    DEFAULT_BASE_IMAGE,
    DEFAULT_BUILD_IMAGE,
    ContainerBuild,
    RustDockerImageFunction,
)

from ..conftest import FIXTURES, LAMBDAS, skip_bundling_app


def _skip_stack():
    return cdk.Stack(skip_bundling_app(), "S")


def _real_stack(tmp_path: Path):
    return cdk.Stack(cdk.App(outdir=str(tmp_path / "cdk.out")), "S")


def _docker_assets(stack: cdk.Stack) -> dict:
    assembly = cdk.Stage.of(stack).synth()
    manifest = json.loads(
        (Path(assembly.directory) / f"{stack.stack_name}.assets.json").read_text()
    )
    return manifest.get("dockerImages", {})


def _only_function(stack: cdk.Stack) -> dict:
    functions = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
    assert len(functions) == 1
    return next(iter(functions.values()))["Properties"]


# ----------------------------------------------------------------------------- PREBUILT


def test_prebuilt_defaults_template_manifest_and_dockerfile(monkeypatch):
    def forbidden(*a, **k):
        raise AssertionError(f"subprocess run while bundling is skipped: {a}")

    monkeypatch.setattr(subprocess, "run", forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    stack = _skip_stack()
    fn = RustDockerImageFunction(stack, "Api", manifest_path=str(LAMBDAS), binary_name="hello_http")
    assert fn.build_mode is ContainerBuild.PREBUILT and fn.binary_name == "hello_http"

    props = _only_function(stack)
    assert props["PackageType"] == "Image"
    assert "Handler" not in props and "Runtime" not in props
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == 256 and props["Timeout"] == 10
    image_uri = json.dumps(props["Code"]["ImageUri"])
    assert "container-assets" in image_uri and fn.image_asset.asset_hash in image_uri
    assert "LoggingConfig" in props  # the shared log-group wiring

    dockerfile = (fn.staged_context / "Dockerfile").read_text()
    lines = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert lines[0] == f"FROM {DEFAULT_BASE_IMAGE}"
    assert "COPY bootstrap ${LAMBDA_RUNTIME_DIR}/bootstrap" in lines
    assert lines[-1] == 'CMD ["bootstrap"]'
    assert not any(line.startswith(("RUN", "ARG")) for line in lines), (
        "no toolchain in a prebuilt image"
    )
    assert re.search(r'constructs-rust\.binary="hello_http"', dockerfile)
    assert (fn.staged_context / ".dockerignore").read_text().splitlines()[-2:] == [
        "*",
        "!bootstrap",
    ]
    assert sorted(os.listdir(fn.staged_context)) == [".dockerignore", "Dockerfile"]

    (entry,) = _docker_assets(stack).values()
    assert entry["source"]["platform"] == "linux/arm64"
    assert entry["source"]["directory"] == fn.staged_context.name
    assert "dockerBuildArgs" not in entry["source"] and "dockerFile" not in entry["source"]


def test_prebuilt_x86_64_platform_and_architecture():
    stack = _skip_stack()
    fn = RustDockerImageFunction(
        stack,
        "Api",
        manifest_path=str(LAMBDAS),
        binary_name="hello_http",
        architecture=lambda_.Architecture.X86_64,
    )
    assert _only_function(stack)["Architectures"] == ["x86_64"]
    (entry,) = _docker_assets(stack).values()
    assert entry["source"]["platform"] == "linux/amd64"
    arm = RustDockerImageFunction(
        cdk.Stack(skip_bundling_app(), "T"),
        "Api",
        manifest_path=str(LAMBDAS),
        binary_name="hello_http",
    )
    assert arm.image_asset.asset_hash != fn.image_asset.asset_hash


@pytest.mark.build  # the first construct of a new machine builds (no record yet)
def test_prebuilt_real_context_follows_the_input_fingerprint(copy_fixture, tmp_path):
    crate = copy_fixture("single")

    def build_once(name: str) -> RustDockerImageFunction:
        stack = cdk.Stack(cdk.App(outdir=str(tmp_path / name)), "S")
        return RustDockerImageFunction(
            stack, "Fn", manifest_path=str(crate), architecture=lambda_.Architecture.X86_64
        )

    first, again = build_once("a"), build_once("b")
    assert first.binary_name == "fx_single"
    assert first.image_asset.asset_hash == again.image_asset.asset_hash  # deterministic
    # The generated context lives under the crate's cargo target dir, content-addressed.
    contexts = list((crate / "target" / "constructs-rust" / "image-context").iterdir())
    assert [c.name.startswith("prebuilt-") for c in contexts] == [True]
    label = re.search(
        r'fingerprint="([0-9a-f]{64})"', (first.staged_context / "Dockerfile").read_text()
    )
    assert label, "the Dockerfile carries the input fingerprint"
    # A new machine has no record of what the binary reads: the first construct built it
    # (so its hash covers every input) and staged it; the second found it cached.
    assert (first.staged_context / "bootstrap").is_file()
    assert (again.staged_context / "bootstrap").read_bytes() == (
        first.staged_context / "bootstrap"
    ).read_bytes()

    main = crate / "src" / "main.rs"
    main.write_text(main.read_text() + "\n// changed\n")

    changed = build_once("c")
    assert changed.image_asset.asset_hash != first.image_asset.asset_hash


# ----------------------------------------------------------------------------- IN_DOCKER


@pytest.fixture
def workspace(copy_fixture):
    root = copy_fixture("workspace")
    # Things that must never reach the Docker context.
    for junk in (
        "target/debug/big.bin",
        ".git/HEAD",
        "cdk.out/x.json",
        "members/api/target/y",
        "node_modules/m.js",
    ):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("junk")
    return root


def test_in_docker_manifest_context_build_args_and_platform(workspace, tmp_path):
    stack = _real_stack(tmp_path)
    api = RustDockerImageFunction(
        stack,
        "Api",
        manifest_path=str(workspace),
        binary_name="fx_api",
        build=ContainerBuild.IN_DOCKER,
    )
    worker = RustDockerImageFunction(
        stack,
        "Worker",
        manifest_path=str(workspace / "members" / "worker"),
        build=ContainerBuild.IN_DOCKER,
        architecture=lambda_.Architecture.X86_64,
    )
    assert worker.binary_name == "fx_worker"
    # One generated Dockerfile serves every binary and both architectures.
    assert api.dockerfile == worker.dockerfile
    assert re.fullmatch(
        r"target/constructs-rust/image-context/in-docker-[0-9a-f]{32}/Dockerfile", api.dockerfile
    )

    entries = {e["displayName"]: e["source"] for e in _docker_assets(stack).values()}
    assert entries["Api/AssetImage"]["dockerBuildArgs"] == {"PACKAGE": "fx_api", "BINARY": "fx_api"}
    assert entries["Api/AssetImage"]["platform"] == "linux/arm64"
    assert entries["Api/AssetImage"]["dockerFile"] == api.dockerfile
    assert entries["Worker/AssetImage"]["dockerBuildArgs"] == {
        "PACKAGE": "fx_worker",
        "BINARY": "fx_worker",
    }
    assert entries["Worker/AssetImage"]["platform"] == "linux/amd64"

    # The context is the workspace root, filtered.
    staged = api.staged_context
    files = sorted(
        Path(dp, f).relative_to(staged).as_posix() for dp, _, fs in os.walk(staged) for f in fs
    )
    assert "Cargo.toml" in files and "Cargo.lock" in files
    assert "members/api/src/main.rs" in files and "members/shared/src/lib.rs" in files
    assert api.dockerfile in files and api.dockerfile + ".dockerignore" in files
    leaked = [
        f
        for f in files
        if re.match(r"(.*/)?(target|\.git|cdk\.out|node_modules)/", f)
        and not f.startswith("target/constructs-rust/image-context/in-docker-")
    ]
    assert leaked == []
    assert (
        len([f for f in files if f.startswith("target/")]) == 2
    )  # our Dockerfile + its ignore file

    ignore = (staged / (api.dockerfile + ".dockerignore")).read_text().splitlines()
    assert {"**/target", "**/.git", "**/cdk.out"} <= set(ignore)
    assert f"!{api.dockerfile}" in ignore

    dockerfile = (staged / api.dockerfile).read_text()
    assert (
        dockerfile.splitlines()[4]
        == f"FROM --platform=$BUILDPLATFORM {DEFAULT_BUILD_IMAGE} AS build"
    )
    assert f"FROM {DEFAULT_BASE_IMAGE}" in dockerfile
    assert (
        "COPY --from=build /constructs-rust/bootstrap ${LAMBDA_RUNTIME_DIR}/bootstrap" in dockerfile
    )
    for arg in ("TARGETPLATFORM", "PACKAGE", "BINARY"):
        assert f"ARG {arg}" in dockerfile

    for arch in ("arm64", "x86_64"):  # api is arm64, worker x86_64
        props = Template.from_stack(stack).find_resources(
            "AWS::Lambda::Function", {"Properties": {"Architectures": [arch]}}
        )
        (resource,) = props.values()
        assert resource["Properties"]["PackageType"] == "Image"
        assert "Handler" not in resource["Properties"] and "Runtime" not in resource["Properties"]


def test_in_docker_hash_is_deterministic_and_follows_sources(workspace, tmp_path):
    def hash_of(name: str) -> str:
        stack = cdk.Stack(cdk.App(outdir=str(tmp_path / name)), "S")
        fn = RustDockerImageFunction(
            stack,
            "Api",
            manifest_path=str(workspace),
            binary_name="fx_api",
            build=ContainerBuild.IN_DOCKER,
        )
        return fn.image_asset.asset_hash

    first = hash_of("a")
    (workspace / "target" / "debug" / "other.bin").write_text("build output changes nothing")
    assert hash_of("b") == first
    (workspace / "members" / "shared" / "src" / "lib.rs").write_text(
        "// changed\n", encoding="utf-8"
    )
    assert hash_of("c") != first


def _run_script(dockerfile: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run the build stage's RUN script with sh and a fake cargo (no Docker)."""
    joined = dockerfile.replace("\\\n", " ")
    run = next(line for line in joined.splitlines() if line.startswith("RUN "))
    script = run[run.index("set -eu;") :]
    root = tmp_path / "root"
    for path in (IN_DOCKER_TARGET_DIR, IN_DOCKER_LAMBDA_DIR, IN_DOCKER_OUTPUT):
        script = script.replace(path, str(root) + path)
    (root / "constructs-rust").mkdir(parents=True, exist_ok=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "cargo"
    fake.write_text(
        "#!/bin/sh\n"
        'printf "%s\\n" "$@" > "$ARGV_FILE"\n'
        'printf "%s" "$CARGO_ENCODED_RUSTFLAGS" > "$ARGV_FILE.rustflags"\n'
        'while [ $# -gt 0 ]; do case "$1" in --lambda-dir) dir=$2;; --bin) bin=$2;; esac; shift; '
        "done\n"
        'mkdir -p "$dir/$bin" && echo built > "$dir/$bin/bootstrap"\n'
    )
    fake.chmod(0o755)
    full_env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "ARGV_FILE": str(tmp_path / "argv"), **env}
    return subprocess.run(["sh", "-c", script], env=full_env, capture_output=True, text=True)


@pytest.mark.parametrize(
    "platform,triple",
    [("linux/amd64", "x86_64-unknown-linux-gnu"), ("linux/arm64", "aarch64-unknown-linux-gnu")],
)
def test_in_docker_script_maps_platform_to_triple(tmp_path, platform, triple):
    dockerfile = render_in_docker_dockerfile(
        base_image=DEFAULT_BASE_IMAGE,
        build_image=DEFAULT_BUILD_IMAGE,
        options=BundlingOptions(features=["json-logs"], cargo_lambda_flags=["--locked"]),
        user_rustflags={triple: ["--cfg", "user flag"]},
    )
    proc = _run_script(
        dockerfile, tmp_path, TARGETPLATFORM=platform, PACKAGE="fx_api", BINARY="fx_api"
    )
    assert proc.returncode == 0, proc.stderr
    flags = (tmp_path / "argv.rustflags").read_text().split("\x1f")
    assert flags[:2] == ["--cfg", "user flag"], "the user's config rustflags come first"
    assert flags[2] == "-C" and flags[3].startswith("target-cpu=")
    assert flags[4] == "--remap-path-prefix=/usr/local/cargo=/cargo" and len(flags) == 5
    argv = (tmp_path / "argv").read_text().splitlines()
    assert argv[:2] == ["lambda", "build"]
    assert argv[argv.index("--target") + 1] == triple
    assert (
        argv[argv.index("--bin") + 1] == "fx_api" and argv[argv.index("--package") + 1] == "fx_api"
    )
    assert argv[argv.index("--features") + 1] == "json-logs"
    assert "--release" in argv and argv[-1] == "--locked"
    assert (tmp_path / "root" / IN_DOCKER_OUTPUT.lstrip("/")).read_text() == "built\n"


def test_in_docker_script_rejects_other_platforms_and_missing_args(tmp_path):
    dockerfile = render_in_docker_dockerfile(
        base_image=DEFAULT_BASE_IMAGE, build_image=DEFAULT_BUILD_IMAGE, options=BundlingOptions()
    )
    proc = _run_script(dockerfile, tmp_path, TARGETPLATFORM="linux/s390x", PACKAGE="p", BINARY="b")
    assert proc.returncode == 1
    assert "unsupported TARGETPLATFORM 'linux/s390x'" in proc.stderr
    assert "linux/arm64 or linux/amd64" in proc.stderr
    assert not (tmp_path / "argv").exists(), "cargo must not run"
    proc = _run_script(dockerfile, tmp_path, TARGETPLATFORM="linux/amd64", PACKAGE="p")
    assert proc.returncode != 0 and "BINARY" in proc.stderr


def test_in_docker_profile_and_quoting():
    dockerfile = render_in_docker_dockerfile(
        base_image="example.com/base:1",
        build_image="example.com/build:2",
        options=BundlingOptions(
            profile="dev", no_default_features=True, cargo_lambda_flags=["--config=x y"]
        ),
    )
    assert "--profile dev" in dockerfile and "--release" not in dockerfile
    assert "--no-default-features" in dockerfile
    assert shlex.quote("--config=x y") in dockerfile
    assert "FROM --platform=$BUILDPLATFORM example.com/build:2 AS build" in dockerfile
    assert "\nFROM example.com/base:1\n" in dockerfile


def test_in_docker_rejects_options_it_cannot_honour(workspace, tmp_path):
    with pytest.raises(
        ConfigurationError, match=r"bundling.command_hooks.*ContainerBuild.IN_DOCKER"
    ):
        RustDockerImageFunction(
            _real_stack(tmp_path),
            "Api",
            manifest_path=str(workspace),
            binary_name="fx_api",
            build=ContainerBuild.IN_DOCKER,
            bundling=BundlingOptions(command_hooks=CommandHooks(before_build=["true"])),
        )


# ----------------------------------------------------------------------------- ECR


def test_existing_ecr_image_builds_nothing(monkeypatch, tmp_path):
    def forbidden(*a, **k):
        raise AssertionError(f"subprocess run for an ECR image: {a}")

    monkeypatch.setattr(subprocess, "run", forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    stack = _real_stack(tmp_path)  # bundling required, still nothing to build
    repo = ecr.Repository(stack, "Repo")
    fn = RustDockerImageFunction(stack, "Tagged", repository=repo, tag_or_digest="v1.2.3")
    RustDockerImageFunction(
        stack,
        "Pinned",
        repository=repo,
        tag_or_digest="sha256:" + "a" * 64,
        architecture=lambda_.Architecture.X86_64,
    )
    assert fn.build_mode is None and fn.image_asset is None and fn.staged_context is None
    t = Template.from_stack(stack)
    uris = json.dumps(
        [
            r["Properties"]["Code"]["ImageUri"]
            for r in t.find_resources("AWS::Lambda::Function").values()
        ]
    )
    assert ":v1.2.3" in uris and "@sha256:" + "a" * 64 in uris
    assert _docker_assets(stack) == {}


def test_ecr_needs_a_tag_and_checks_a_given_manifest(tmp_path):
    stack = _skip_stack()
    repo = ecr.Repository(stack, "Repo")
    with pytest.raises(
        ConfigurationError,
        match=r"\[S/Fn\] tag_or_digest: repository and tag_or_digest go together",
    ):
        RustDockerImageFunction(stack, "Fn", repository=repo)
    with pytest.raises(ConfigurationError, match=r"manifest_path=.*does not exist"):
        RustDockerImageFunction(
            stack, "Fn2", repository=repo, tag_or_digest="v1", manifest_path=str(tmp_path / "nope")
        )
    with pytest.raises(
        ConfigurationError, match=r"manifest_path: is required unless repository is given"
    ):
        RustDockerImageFunction(stack, "Fn3")


# ----------------------------------------------------------------------------- wiring


def test_url_log_group_and_role_wiring_match_rust_function():
    stack = _skip_stack()
    fn = RustDockerImageFunction(
        stack,
        "Api",
        manifest_path=str(LAMBDAS),
        binary_name="hello_http",
        url=UrlOptions(auth_type=lambda_.FunctionUrlAuthType.NONE),
        environment={"RUST_LOG": "info"},
        memory_size=512,
    )
    assert fn.url is not None
    assert fn.log_group.node.path == "S/Api/LogGroup"
    assert fn.role is not None and fn.role.node.path == "S/Api/ServiceRole"
    t = Template.from_stack(stack)
    role = t.find_resources("AWS::IAM::Role")[stack.get_logical_id(fn.role.node.default_child)]
    assert "ManagedPolicyArns" not in role["Properties"]
    t.has_resource_properties("AWS::Lambda::Url", {"AuthType": "NONE"})
    t.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    t.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": ["logs:CreateLogStream", "logs:PutLogEvents"]})]
                )
            }
        },
    )
    props = _only_function(stack)
    assert props["MemorySize"] == 512 and props["Environment"] == {
        "Variables": {"RUST_LOG": "info"}
    }
    Annotations.from_stack(stack).has_warning(
        "/S/Api", Match.string_like_regexp("anyone on the internet")
    )


# ----------------------------------------------------------------------------- bad input


def _errors(make, tmp_path) -> tuple:
    """The error text of RustFunction and of both container modes for the same props."""
    texts = []
    for i, factory in enumerate(
        (
            lambda s, **kw: RustFunction(s, "Fn", **kw),
            lambda s, **kw: RustDockerImageFunction(s, "Fn", **kw),
            lambda s, **kw: RustDockerImageFunction(s, "Fn", build=ContainerBuild.IN_DOCKER, **kw),
        )
    ):
        stack = cdk.Stack(cdk.App(outdir=str(tmp_path / f"out{i}")), "S")
        with pytest.raises(ConfigurationError) as info:
            make(factory, stack)
        texts.append(str(info.value))
    return tuple(texts)


def test_missing_manifest_same_error_as_rust_function(tmp_path):
    missing = str(tmp_path / "nowhere" / "Cargo.toml")
    rust, prebuilt, in_docker = _errors(lambda f, s: f(s, manifest_path=missing), tmp_path)
    assert "does not exist" in rust and rust.startswith("[S/Fn] manifest_path=")
    assert prebuilt == rust and in_docker == rust


def test_unknown_binary_same_error_as_rust_function(copy_fixture, tmp_path):
    crate = copy_fixture("multi_bin")
    rust, prebuilt, in_docker = _errors(
        lambda f, s: f(s, manifest_path=str(crate), binary_name="gamma"), tmp_path
    )
    assert "no such binary; the binaries are: alpha, beta" in rust
    assert prebuilt == rust and in_docker == rust


def test_library_only_crate_same_error_as_rust_function(tmp_path):
    rust, prebuilt, in_docker = _errors(
        lambda f, s: f(s, manifest_path=str(FIXTURES / "lib_only")), tmp_path
    )
    assert "no binary target" in rust
    assert prebuilt == rust and in_docker == rust


def test_unsupported_platform_same_error_as_rust_function(tmp_path):
    s390x = lambda_.Architecture.custom("s390x", "linux/s390x")
    rust, prebuilt, in_docker = _errors(
        lambda f, s: f(s, manifest_path=str(LAMBDAS), binary_name="hello_http", architecture=s390x),
        tmp_path,
    )
    assert "architecture='s390x': unsupported architecture" in rust
    assert prebuilt == rust and in_docker == rust


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"base_image": "alpine\nRUN rm -rf /"}, r"base_image=.*not a Docker image reference"),
        ({"build_image": ""}, r"build_image=.*not a Docker image reference"),
        ({"build": "in-docker"}, r"build='in-docker': is not a ContainerBuild"),
        ({"layers": []}, r"layers: container-image functions cannot use layers"),
        ({"handler": "x"}, r"handler: is not supported"),
        ({"binary_name": "../x"}, r"binary_name='../x': is not a cargo binary target name"),
    ],
)
def test_bad_props(kwargs, pattern):
    kwargs.setdefault("binary_name", "hello_http")
    with pytest.raises(ConfigurationError, match=pattern):
        RustDockerImageFunction(_skip_stack(), "Fn", manifest_path=str(LAMBDAS), **kwargs)


def test_runtime_is_not_a_pass_through_option_of_an_image_function():
    """DockerImageFunction has no runtime: the image (base_image) brings it."""
    with pytest.raises(ConfigurationError) as err:
        RustDockerImageFunction(
            _skip_stack(),
            "Fn",
            manifest_path=str(LAMBDAS / "echo"),
            runtime=lambda_.Runtime.PROVIDED_AL2023,
        )
    message = str(err.value)
    assert message.startswith("[S/Fn] runtime: is set by the construct")
    assert "base_image" in message
