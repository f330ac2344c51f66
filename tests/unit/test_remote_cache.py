"""Remote cache configuration, key safety, manifest checks; environment values as digests."""

import json
import os
import sys

import pytest

from constructs_rust import BundlingOptions, ConfigurationError
from constructs_rust._cargo.targets import Target
from constructs_rust._fingerprint.lines import build_settings, secret_digest
from constructs_rust._store.remote import RemoteCache
from constructs_rust._store.remote_config import (
    CONTEXT_MODE,
    CONTEXT_URL,
    ENV_MODE,
    ENV_URL,
    RemoteCacheConfig,
    resolve_config,
)
from constructs_rust._store.remote_manifest import (
    Invalid,
    build_manifest,
    check_manifest,
    safe_relpath,
)
from constructs_rust._support.disk_memo import digest

INPUT_LINES = ["constructs-rust-fingerprint-v3", "setting x", "toolchain rustc 1.95|cl"]
FP = digest(INPUT_LINES)


def _ctx(values):
    return lambda key: values.get(key)


def test_environment_wins_over_context_and_read_is_the_default():
    ctx = _ctx({CONTEXT_URL: "s3://ctx-bucket/ctx", CONTEXT_MODE: "read-write"})
    assert resolve_config({}, ctx) == RemoteCacheConfig("ctx-bucket", "ctx", "read-write")
    env = {ENV_URL: "s3://env-bucket/a/b/", ENV_MODE: "READ"}
    assert resolve_config(env, ctx) == RemoteCacheConfig("env-bucket", "a/b", "read")
    assert resolve_config({ENV_URL: "s3://b-1"}, _ctx({})) == RemoteCacheConfig("b-1", "", "read")
    assert resolve_config({}, _ctx({})) is None
    assert resolve_config({ENV_MODE: "off"}, ctx) is None, "off disables a context URL"
    assert resolve_config({ENV_URL: "s3://b-1", ENV_MODE: "off"}, _ctx({})) is None


@pytest.mark.parametrize(
    "env, match",
    [
        ({ENV_URL: "https://bucket/x"}, "not an s3:// URL"),
        ({ENV_URL: "s3://Bad_Bucket/x"}, "not a bucket name"),
        ({ENV_URL: "s3://bucket/a/../b"}, r"\.\."),
        ({ENV_URL: "s3://bucket/x", ENV_MODE: "write"}, "not a remote cache mode"),
    ],
)
def test_bad_configuration_is_an_early_error_with_the_fix(env, match):
    with pytest.raises(ConfigurationError, match=f"(?s){match}.*Fix:"):
        resolve_config(env, _ctx({}))


@pytest.mark.parametrize(
    "path",
    ["../x", "/etc/passwd", "a/../../b", "a//b", "./a", "a\\b", "", "a/", "x\x00", "a/./b"],
)
def test_unsafe_manifest_paths_are_refused(path):
    with pytest.raises(ValueError):
        safe_relpath(path)


def test_keys_stay_inside_the_prefix():
    cache = RemoteCache(RemoteCacheConfig("bucket", "team/rust", "read"), client=object())
    assert cache.key(FP, "manifest.json") == f"team/rust/v1/{FP}/manifest.json"
    assert cache.key(FP, "sub/dir/file") == f"team/rust/v1/{FP}/files/sub/dir/file"
    for bad in ("../../other/x", "/abs"):
        with pytest.raises(ValueError):
            cache.key(FP, bad)
    with pytest.raises(ValueError):
        cache.key("../x", "bootstrap")


def test_manifest_round_trip_and_checks(tmp_path):
    (tmp_path / "bootstrap").write_bytes(b"\x7fELF binary")
    os.chmod(tmp_path / "bootstrap", 0o755)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "a.txt").write_text("a")
    inputs = INPUT_LINES
    manifest = build_manifest(FP, tmp_path, inputs)
    assert [f["path"] for f in manifest["files"]] == ["bootstrap", "conf/a.txt"]
    assert manifest["files"][0]["executable"] and not manifest["files"][1]["executable"]
    assert manifest["inputs"] == inputs and manifest["toolchain"] == "rustc 1.95|cl"
    assert manifest["created"].endswith("Z")
    assert len(check_manifest(FP, json.loads(json.dumps(manifest)))) == 2
    with pytest.raises(Invalid, match="another fingerprint"):
        check_manifest("cd" * 32, manifest)
    for mutate, match in [
        (lambda m: m["files"].pop(0), "no bootstrap"),
        (lambda m: m["files"][1].update(path="../x"), "unsafe"),
        (lambda m: m["files"][0].update(sha256="zz"), "sha256"),
        (lambda m: m["files"][0].update(size=-1), "size"),
        (lambda m: m.update(format="other"), "not a constructs-rust"),
        (lambda m: m["inputs"].append("read shared/x.txt=0"), "do not hash"),
    ]:
        broken = json.loads(json.dumps(manifest))
        mutate(broken)
        with pytest.raises(Invalid, match=match):
            check_manifest(FP, broken)


def test_environment_values_enter_settings_only_as_digests(monkeypatch):
    monkeypatch.setenv("RUSTFLAGS", "--cfg host_secret_value")
    options = BundlingOptions(environment={"CARGO_REGISTRIES_X_TOKEN": "s3cr3t-token"})
    settings = build_settings(options, Target(lambda_arch="x86_64"), use_docker=False)
    text = "\n".join(settings)
    assert "s3cr3t-token" not in text and "host_secret_value" not in text
    assert (
        "CARGO_REGISTRIES_X_TOKEN=" + secret_digest("CARGO_REGISTRIES_X_TOKEN", "s3cr3t-token")
        in text
    )
    assert "host_env=RUSTFLAGS=" + secret_digest("RUSTFLAGS", "--cfg host_secret_value") in text
    other = build_settings(
        BundlingOptions(environment={"CARGO_REGISTRIES_X_TOKEN": "rotated"}),
        Target(lambda_arch="x86_64"),
        use_docker=False,
    )
    assert other != settings, "a changed value still changes the fingerprint"
    monkeypatch.setenv("RUSTFLAGS", "-C opt-level=2")
    assert build_settings(options, Target(lambda_arch="x86_64"), use_docker=False) != settings


def test_host_cargo_variables_of_the_built_profile_enter_local_settings(monkeypatch):
    """cargo reads CARGO_PROFILE_* from the environment a local build inherits: the same crate
    built with CARGO_PROFILE_RELEASE_OPT_LEVEL=1 is another binary, so another fingerprint.
    Variables that cannot change a release binary stay out (CI runners set them), and a
    container does not inherit the host environment at all."""
    for name in [n for n in os.environ if n.startswith("CARGO_PROFILE_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("CARGO_INCREMENTAL", raising=False)
    target = Target(lambda_arch="x86_64")

    def settings(use_docker: bool = False, **options) -> list:
        return build_settings(BundlingOptions(**options), target, use_docker)

    plain, plain_docker = settings(), settings(use_docker=True)
    monkeypatch.setenv("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
    monkeypatch.setenv("CARGO_PROFILE_DEV_DEBUG", "0")  # another profile
    monkeypatch.setenv("CARGO_INCREMENTAL", "0")  # release's default anyway
    monkeypatch.setenv("CARGO_TERM_COLOR", "never")  # output formatting
    opt_level = "host_env=CARGO_PROFILE_RELEASE_OPT_LEVEL=" + secret_digest(
        "CARGO_PROFILE_RELEASE_OPT_LEVEL", "1"
    )
    assert settings() == plain + [opt_level]
    assert settings(use_docker=True) == plain_docker
    monkeypatch.setenv("CARGO_INCREMENTAL", "1")  # turns it on for release
    incremental = "host_env=CARGO_INCREMENTAL=" + secret_digest("CARGO_INCREMENTAL", "1")
    assert settings() == plain + [incremental, opt_level]
    # dev: its own variables, and CARGO_INCREMENTAL=1 is its default
    dev = settings(profile="dev")
    assert [s for s in dev if s.startswith("host_env=")] == [
        "host_env=CARGO_PROFILE_DEV_DEBUG=" + secret_digest("CARGO_PROFILE_DEV_DEBUG", "0")
    ]
    # a custom profile may inherit release or dev: both count, as do its own
    monkeypatch.setenv("CARGO_PROFILE_LAMBDA_STRIP", "true")
    custom = [s.split("=")[1] for s in settings(profile="lambda") if s.startswith("host_env=")]
    assert custom == [
        "CARGO_INCREMENTAL",
        "CARGO_PROFILE_DEV_DEBUG",
        "CARGO_PROFILE_LAMBDA_STRIP",
        "CARGO_PROFILE_RELEASE_OPT_LEVEL",
    ]
    # A value the options set themselves is fingerprinted (and wins) there, not twice.
    explicit = settings(environment={"CARGO_PROFILE_RELEASE_OPT_LEVEL": "1"})
    assert opt_level not in explicit and not any("host_env=CARGO_PROFILE" in s for s in explicit)


def test_explain_output_shows_no_environment_value(copy_fixture, monkeypatch, capfd):
    import aws_cdk as cdk

    from constructs_rust import RustFunction

    crate = copy_fixture("single")
    monkeypatch.setenv("CONSTRUCTS_RUST_EXPLAIN", "1")
    monkeypatch.setenv("RUSTFLAGS", "--cfg host_secret_value")
    stack = cdk.Stack(cdk.App(), "Explain")  # bundling required: the fingerprint is computed
    RustFunction(
        stack,
        "Fn",
        manifest_path=str(crate),
        bundling=BundlingOptions(environment={"REGISTRY_TOKEN": "s3cr3t-token"}),
    )
    err = capfd.readouterr().err
    assert "fingerprint input: setting environment=REGISTRY_TOKEN=sha256:" in err
    assert "host_env=RUSTFLAGS=sha256:" in err
    assert "s3cr3t-token" not in err and "host_secret_value" not in err


def test_without_boto3_a_configured_remote_is_one_warning(monkeypatch, capfd, tmp_path):
    monkeypatch.setitem(sys.modules, "boto3", None)  # what `import boto3` sees when absent
    cache = RemoteCache(RemoteCacheConfig("bucket", "p", "read-write"))
    assert cache.fetch({FP: (tmp_path / FP, "bootstrap")}) == {}
    (tmp_path / "bootstrap").write_bytes(b"x")
    cache.upload([(FP, tmp_path, ())])
    err = capfd.readouterr().err
    assert err.count("WARNING") == 1, err
    assert "boto3 is not installed" in err and "constructs-rust[remote-cache]" in err
