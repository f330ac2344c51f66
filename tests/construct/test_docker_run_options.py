"""Docker run options of Docker bundling (issue 23): the argv they give, what they do to the
fingerprint (env files' values do, as digests; caches, user, security options, network and
file access do not), validation errors, and the VOLUME_COPY argv (no host path mounted)."""

from __future__ import annotations

import os
from pathlib import Path

import aws_cdk as cdk
import pytest

from constructs_rust import BundlingOptions, ConfigurationError, DockerVolume
from constructs_rust._build import failure, invoke, volume_copy
from constructs_rust._cargo import toolchain
from constructs_rust._cargo.targets import Target
from constructs_rust._fingerprint import lines

from .test_docker_bundling import _request


def _argv(crate: Path, options: BundlingOptions, session=None):
    request = _request(crate, options)
    out = request.workspace.target_dir / "constructs-rust" / "lambda-out" / "x"
    return invoke.docker_invocation([request], out, None, session)


def _mounts(argv):
    return [argv[i + 1] for i, a in enumerate(argv) if a == "--mount"]


def test_volumes_user_and_security_options_reach_docker_run(copy_fixture, monkeypatch, tmp_path):
    monkeypatch.setattr(toolchain, "docker_engine_problem", lambda: None)
    cache = tmp_path / "sccache"
    cache.mkdir()
    options = BundlingOptions(
        force_docker=True,
        docker_user="1234:5678",
        docker_security_options=["no-new-privileges", "seccomp=unconfined"],
        docker_volumes=[
            DockerVolume(container_path="/sccache", host_path=str(cache)),
            DockerVolume(container_path="/mirror", volume_name="crates-mirror", read_only=True),
        ],
        docker_network="host",
    )
    argv, _ = _argv(copy_fixture("workspace"), options)
    assert argv[argv.index("--user") + 1] == "1234:5678"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--security-opt"] == [
        "no-new-privileges",
        "seccomp=unconfined",
    ]
    mounts = _mounts(argv)
    assert f"type=bind,source={cache},target=/sccache" in mounts
    assert "type=volume,source=crates-mirror,target=/mirror,readonly" in mounts
    assert argv[argv.index("--network") + 1] == "host"


def test_env_file_values_ride_the_client_environment_and_are_hashed_as_digests(
    copy_fixture, monkeypatch, tmp_path
):
    monkeypatch.setattr(toolchain, "docker_engine_problem", lambda: None)
    env_file = tmp_path / "build.env"
    env_file.write_text("# comment\n\nAPI_TOKEN=tok,en=42\nSHARED=from-file\nFROM_HOST\n")
    monkeypatch.setenv("FROM_HOST", "host-value")
    options = BundlingOptions(
        force_docker=True, docker_env_files=[str(env_file)], environment={"SHARED": "explicit"}
    )
    assert options.container_environment() == {
        "API_TOKEN": "tok,en=42",
        "SHARED": "explicit",  # environment wins over the file
        "FROM_HOST": "host-value",
    }
    argv, env = _argv(copy_fixture("workspace"), options)
    assert not any("tok,en=42" in a or "host-value" in a for a in argv), "never on argv"
    assert argv[argv.index("API_TOKEN") - 1] == "--env"
    assert env["API_TOKEN"] == "tok,en=42" and env["SHARED"] == "explicit"
    target = Target("arm64")
    settings = lines.build_settings(options, target, use_docker=True)
    line = next(s for s in settings if s.startswith("environment="))
    assert "API_TOKEN=sha256:" in line and "tok,en=42" not in line
    env_file.write_text("API_TOKEN=rotated\n")
    assert lines.build_settings(options, target, use_docker=True) != settings


def test_what_cannot_change_the_binary_is_not_fingerprinted_but_groups_apart(
    copy_fixture, monkeypatch, tmp_path
):
    monkeypatch.setattr(toolchain, "docker_engine_problem", lambda: None)
    crate = copy_fixture("workspace")
    plain = BundlingOptions(force_docker=True)
    target = Target("arm64")
    for other in (
        BundlingOptions(force_docker=True, docker_user="0:0"),
        BundlingOptions(force_docker=True, docker_security_options=["no-new-privileges"]),
        BundlingOptions(
            force_docker=True,
            docker_volumes=[DockerVolume(container_path="/c", volume_name="cache")],
        ),
        BundlingOptions(force_docker=True, bundling_file_access=cdk.BundlingFileAccess.VOLUME_COPY),
    ):
        assert lines.build_settings(other, target, True) == lines.build_settings(
            plain, target, True
        )
        a, b = _request(crate, plain), _request(crate, other)
        assert a.group_key != b.group_key, "one container run needs the same run options"
        assert "Docker run options differ" in failure.split_reason(a, b)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(docker_user="root; rm -rf /"), "not a Docker user"),
        (dict(docker_security_options=["a\nb"]), "line break"),
        (
            dict(docker_volumes=[DockerVolume(container_path="/workspace/x", volume_name="v")]),
            "overlaps /workspace",
        ),
        (dict(docker_volumes=[DockerVolume(container_path="/", volume_name="v")]), "of its own"),
        (
            dict(docker_volumes=[DockerVolume(container_path="rel", volume_name="v")]),
            "normalized absolute",
        ),
        (dict(docker_volumes=[DockerVolume(container_path="/c")]), "exactly one of"),
        (
            dict(docker_volumes=[DockerVolume(container_path="/c", host_path="/no/such/dir")]),
            "is not a directory",
        ),
        (
            dict(docker_volumes=[DockerVolume(container_path="/c", volume_name="-bad")]),
            "not a Docker volume name",
        ),
        (dict(docker_env_files=["/no/such.env"]), "is not a file"),
        (dict(bundling_file_access="VOLUME_COPY"), "BundlingFileAccess"),
    ],
)
def test_bad_docker_run_options_are_synth_errors(options, message):
    with pytest.raises(ConfigurationError, match=message) as err:
        BundlingOptions(**options).validate()
    assert "Fix:" in str(err.value)


def test_env_file_syntax_error_names_file_and_line_never_a_value(tmp_path):
    env_file = tmp_path / "bad.env"
    env_file.write_text("GOOD=secret-value\n9BAD=x\n")
    with pytest.raises(ConfigurationError) as err:
        BundlingOptions(docker_env_files=[str(env_file)]).validate()
    assert "line 2" in str(err.value) and str(env_file) in str(err.value)
    assert "secret-value" not in str(err.value)


def test_volume_copy_mounts_volumes_only(copy_fixture, monkeypatch):
    monkeypatch.setattr(toolchain, "docker_engine_problem", lambda: None)
    crate = copy_fixture("workspace")
    options = BundlingOptions(
        force_docker=True, bundling_file_access=cdk.BundlingFileAccess.VOLUME_COPY
    )
    session = volume_copy.session(
        workspace_root=crate,
        image=options.docker_image,
        platform="linux/amd64",
        user="1000:1000",
        env={},
        cargo_cache=True,
    )
    argv, _ = _argv(crate, options, session)
    mounts = _mounts(argv)
    assert all(m.startswith("type=volume,") for m in mounts), mounts
    assert not any(str(crate) in a for a in argv), "no host path reaches the engine"
    assert f"type=volume,source={session.workspace_volume},target=/workspace,readonly" in mounts
    assert f"type=volume,source={session.build_volume},target=/constructs-rust" in mounts
    assert "type=volume,source=constructs-rust-cargo-home,target=/cargo" in mounts
    assert argv[argv.index("--lambda-dir") + 1] == "/constructs-rust-out"
    assert str(crate) not in session.build_volume


def test_volume_copy_workspace_entries_skip_build_outputs(tmp_path):
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.rs").write_text("")
    (root / ".cargo").mkdir()
    (root / ".cargo" / "config.toml").write_text("")
    for skipped in ("target", ".git", "cdk.out", "node_modules", "custom-target"):
        (root / skipped).mkdir()
        (root / skipped / "x").write_text("")
    os.symlink("src", root / "linked")
    names = [arc for _, arc in volume_copy.workspace_entries(root, [root / "custom-target"])]
    assert sorted(names) == [".cargo", ".cargo/config.toml", "linked", "src", "src/main.rs"]
