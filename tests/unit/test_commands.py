"""The one argv builder shared by local and Docker bundling (no CDK involved)."""

from constructs_rust._build import commands


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
        remaps=[], target_cpu="haswell", user_flags=["-Ctarget-cpu=znver3"]
    )
    assert user_cpu.split("\x1f") == ["-Ctarget-cpu=znver3"], "the user's explicit CPU stays"


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
    # by name: the docker CLI takes the value from its environment (see docker_client_env)
    assert ["--env", "CARGO_HOME"] == argv[
        argv.index("CARGO_HOME") - 1 : argv.index("CARGO_HOME") + 1
    ]
    # the same cargo-lambda argv, after the image, with cargo as entrypoint
    image_at = argv.index("ghcr.io/cargo-lambda/cargo-lambda:1.9.2")
    assert argv[image_at - 2 : image_at] == ["--entrypoint", "cargo"]
    assert argv[image_at + 1 :] == inner[1:]


def _docker_argv(*, mounts=(("/w", "/workspace", True),), environment=None, command=("cargo", "x")):
    return commands.docker_run_argv(
        image="img:1",
        platform="linux/amd64",
        user="1000:1000",
        command=list(command),
        mounts=list(mounts),
        environment=environment or {},
    )


def _flag_values(argv, flag):
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_docker_argv_names_environment_variables_and_never_holds_their_values():
    """Issue 20: ``ps`` shows every local user a command line, so values stay off it; the
    docker CLI takes them from its own environment (``--env NAME``)."""
    environment = {
        "DB_PASSWORD": "s3cr3t-value",
        "EMPTY": "",
        "WITH_EQUALS": "a=b=c",
        "CARGO_ENCODED_RUSTFLAGS": "-C\x1fdebuginfo=0",
    }
    argv = _docker_argv(environment=environment)
    assert _flag_values(argv, "--env") == sorted(environment)
    assert not any(value and value in arg for value in environment.values() for arg in argv)
    env = commands.docker_client_env(
        base={"DOCKER_HOST": "unix:///s", "HOME": "/root"}, environment=environment
    )
    assert env == {"DOCKER_HOST": "unix:///s", "HOME": "/root", **environment}


def test_variables_the_docker_cli_reads_itself_do_not_reconfigure_it():
    """HOME (the CLI's config, contexts and credentials), PATH (which docker, which credential
    helper) and DOCKER_* (which engine) keep the synth's values in the CLI's environment; the
    container gets its own on the argv (none of them is where a secret goes)."""
    environment = {"HOME": "/tmp", "PATH": "/opt/bin", "DOCKER_HOST": "tcp://x:1", "TOKEN": "t"}
    argv = _docker_argv(environment=environment)
    assert _flag_values(argv, "--env") == [
        "DOCKER_HOST=tcp://x:1",
        "HOME=/tmp",
        "PATH=/opt/bin",
        "TOKEN",
    ]
    base = {"HOME": "/root", "PATH": "/usr/bin", "DOCKER_HOST": "unix:///s"}
    env = commands.docker_client_env(base=base, environment=environment)
    assert env == {**base, "TOKEN": "t"}


def test_mount_paths_with_commas_and_quotes_are_csv_quoted():
    """Docker reads a ``--mount`` value as one CSV record (Go's encoding/csv): a field with a
    comma, a double quote or a line break is quoted whole, inner quotes doubled."""
    argv = _docker_argv(
        mounts=[
            ("/tmp/a,b", "/workspace", True),
            ('/tmp/we,ird"dir', "/constructs-rust", False),
            ('/tmp/say "hi"', "/cargo", False),
            ("/tmp/two\nlines", "/x", False),
        ]
    )
    assert _flag_values(argv, "--mount") == [
        'type=bind,"source=/tmp/a,b",target=/workspace,readonly',
        'type=bind,"source=/tmp/we,ird""dir",target=/constructs-rust',
        'type=bind,"source=/tmp/say ""hi""",target=/cargo',
        'type=bind,"source=/tmp/two\nlines",target=/x',
    ]


def test_plain_mount_paths_are_unchanged():
    plain = "/home/me/my lambdas: v2/it's=ok"
    argv = _docker_argv(mounts=[(plain, "/workspace", False)])
    assert _flag_values(argv, "--mount") == [f"type=bind,source={plain},target=/workspace"]


def test_target_cpu_native_never_reaches_a_lambda_binary_in_any_spelling():
    from constructs_rust._build.commands import without_native_cpu

    spellings = [
        (["-C", "target-cpu=native"], ["-C", "target-cpu=neoverse-n1"]),
        (["-Ctarget-cpu=native"], ["-Ctarget-cpu=neoverse-n1"]),
        (["--codegen", "target-cpu=native"], ["--codegen", "target-cpu=neoverse-n1"]),
        (["--codegen=target-cpu=native"], ["--codegen=target-cpu=neoverse-n1"]),
    ]
    for flags, want in spellings:
        assert without_native_cpu(flags, "neoverse-n1") == (want, True), flags
    kept = ["-C", "target-cpu=neoverse-v1", "-C", "target-feature=+sve", "--cfg", "native"]
    assert without_native_cpu(kept, "neoverse-n1") == (kept, False), "the user's explicit CPU"
    assert without_native_cpu(["target-cpu=native"], "x") == (["target-cpu=native"], False), (
        "not a codegen option on its own"
    )


def test_encoded_rustflags_replaces_native_in_debug_too_and_keeps_an_explicit_cpu():
    from constructs_rust._build.commands import encoded_rustflags

    debug = encoded_rustflags(
        remaps=(), user_flags=["-C", "target-cpu=native"], lambda_cpu="haswell"
    )
    assert debug.split("\x1f") == ["-C", "target-cpu=haswell"]
    release = encoded_rustflags(
        remaps=(), target_cpu="haswell", user_flags=["-Ctarget-cpu=native", "-Copt-level=2"]
    )
    assert release.split("\x1f") == ["-Ctarget-cpu=haswell", "-Copt-level=2"], "no second cpu"
    mine = encoded_rustflags(remaps=(), target_cpu="haswell", user_flags=["-Ctarget-cpu=znver3"])
    assert mine.split("\x1f") == ["-Ctarget-cpu=znver3"]


def test_native_c_flags_become_the_lambda_cpu_for_every_variable_cc_reads():
    from constructs_rust._build.commands import c_flag_variables, without_native_c_flags

    assert without_native_c_flags("-O2 -march=native -mtune=native", "x86_64") == (
        "-O2 -march=haswell -mtune=haswell",
        True,
    )
    assert without_native_c_flags("-mcpu=native", "aarch64") == ("-mcpu=neoverse-n1", True)
    assert without_native_c_flags("-O2 -march=znver3", "x86_64") == ("-O2 -march=znver3", False)
    names = c_flag_variables("aarch64-unknown-linux-gnu")
    for name in ("CFLAGS", "CXXFLAGS", "TARGET_CFLAGS", "CFLAGS_aarch64-unknown-linux-gnu"):
        assert name in names
    assert "CFLAGS_aarch64_unknown_linux_gnu" in names
