"""The one argv builder shared by local and Docker bundling (no CDK involved)."""

from constructs_rust import commands


def test_release_build_of_several_binaries():
    argv = commands.cargo_lambda_build_argv(
        manifest_path="/work/my lambdas/Cargo.toml",
        target="aarch64-unknown-linux-gnu",
        profile="release",
        packages=["echo", "hello_http", "echo"],
        binaries=["hello_http", "echo"],
        lambda_dir="/tmp/out dir",
    )
    assert argv == [
        "cargo",
        "lambda",
        "build",
        "--manifest-path",
        "/work/my lambdas/Cargo.toml",
        "--target",
        "aarch64-unknown-linux-gnu",
        "--release",
        "--package",
        "echo",
        "--package",
        "hello_http",
        "--bin",
        "echo",
        "--bin",
        "hello_http",
        "--lambda-dir",
        "/tmp/out dir",
        "--skip-target-check",
        "--color",
        "never",
    ]


def test_custom_profile_features_and_flags():
    argv = commands.cargo_lambda_build_argv(
        manifest_path="Cargo.toml",
        target="x86_64-unknown-linux-gnu.2.26",
        profile="lambda",
        packages=["echo"],
        binaries=["echo"],
        lambda_dir="out",
        features=["json-logs", "extra"],
        no_default_features=True,
        extra_flags=["--locked"],
    )
    assert "--release" not in argv
    assert argv[argv.index("--profile") + 1] == "lambda"
    assert argv[argv.index("--target") + 1] == "x86_64-unknown-linux-gnu.2.26"
    assert argv[argv.index("--features") + 1] == "json-logs,extra"
    assert "--no-default-features" in argv
    assert argv[-1] == "--locked"


def test_encoded_rustflags_keep_spaces_and_add_target_cpu_once():
    flags = commands.encoded_rustflags(
        remaps=[("/home/me/my crates", "/workspace")],
        target_cpu="neoverse-n1",
        user_flags=["-C", "debuginfo=0"],
    )
    parts = flags.split("\x1f")
    assert parts == [
        "-C",
        "debuginfo=0",
        "-C",
        "target-cpu=neoverse-n1",
        "--remap-path-prefix=/home/me/my crates=/workspace",
    ]
    user_cpu = commands.encoded_rustflags(
        remaps=[], target_cpu="haswell", user_flags=["-Ctarget-cpu=native"]
    )
    assert user_cpu.split("\x1f") == ["-Ctarget-cpu=native"]


def test_docker_argv_runs_as_user_on_native_platform_with_mounts():
    inner = commands.cargo_lambda_build_argv(
        manifest_path="/workspace/Cargo.toml",
        target="aarch64-unknown-linux-gnu",
        profile="release",
        packages=["echo"],
        binaries=["echo"],
        lambda_dir="/constructs-rust/lambda-out/x",
    )
    argv = commands.docker_run_argv(
        image="ghcr.io/cargo-lambda/cargo-lambda:1.9.2",
        platform="linux/amd64",
        user="1000:1000",
        command=inner,
        mounts=[
            ("/home/me/my lambdas", "/workspace", True),
            ("/home/me/my lambdas/target/constructs-rust", "/constructs-rust", False),
        ],
        environment={"CARGO_HOME": "/cargo", "HOME": "/tmp"},
    )
    assert argv[:4] == ["docker", "run", "--rm", "--platform"]
    assert argv[argv.index("--platform") + 1] == "linux/amd64"
    assert argv[argv.index("--user") + 1] == "1000:1000"
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "--mount"]
    assert mounts == [
        "type=bind,source=/home/me/my lambdas,target=/workspace,readonly",
        "type=bind,source=/home/me/my lambdas/target/constructs-rust,target=/constructs-rust",
    ]
    assert ["--env", "CARGO_HOME=/cargo"] == argv[
        argv.index("CARGO_HOME=/cargo") - 1 : argv.index("CARGO_HOME=/cargo") + 1
    ]
    # the same cargo-lambda argv, after the image, with cargo as entrypoint
    image_at = argv.index("ghcr.io/cargo-lambda/cargo-lambda:1.9.2")
    assert argv[image_at - 2 : image_at] == ["--entrypoint", "cargo"]
    assert argv[image_at + 1 :] == inner[1:]
