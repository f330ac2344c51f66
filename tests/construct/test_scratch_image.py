"""RustDockerImageFunction(base_image=SCRATCH): the generated context, and the synth errors for
a base that cannot run the binary (no Rust compile: bundling skipped)."""

import hashlib
import os

import certifi
import pytest
from aws_cdk import aws_lambda as lambda_

from constructs_rust import SCRATCH, BundlingOptions, ConfigurationError, Libc
from constructs_rust.container import ContainerBuild, RustDockerImageFunction

from ..conftest import LAMBDAS, skip_bundling_app

MUSL = BundlingOptions(libc=Libc.MUSL)


def _fn(stack_name="S", **kw):
    import aws_cdk as cdk

    stack = cdk.Stack(skip_bundling_app(), stack_name)
    return RustDockerImageFunction(
        stack, "Fn", manifest_path=str(LAMBDAS), binary_name="pi_digits", **kw
    )


def test_scratch_context_holds_bootstrap_and_the_ca_bundle_only():
    fn = _fn(base_image=SCRATCH, bundling=MUSL, architecture=lambda_.Architecture.X86_64)
    context = fn.staged_context
    assert sorted(os.listdir(context)) == [".dockerignore", "Dockerfile", "ca-certificates.crt"]
    lines = [
        line
        for line in (context / "Dockerfile").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "FROM scratch"
    assert "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt" in lines
    assert "COPY bootstrap /bootstrap" in lines
    assert lines[-1] == 'ENTRYPOINT ["/bootstrap"]'
    assert not any(line.startswith(("RUN", "CMD")) for line in lines)
    bundle = (context / "ca-certificates.crt").read_bytes()
    assert bundle == open(certifi.where(), "rb").read()  # never the host's trust store
    digest = hashlib.sha256(bundle).hexdigest()
    assert f"certifi {certifi.__version__} sha256:{digest}" in lines[1]
    assert (context / ".dockerignore").read_text().splitlines()[-3:] == [
        "*",
        "!bootstrap",
        "!ca-certificates.crt",
    ]
    assert "/root" not in (context / "Dockerfile").read_text()
    # same options elsewhere: same image hash; the default base: another one
    assert _fn(
        "T", base_image=SCRATCH, bundling=MUSL, architecture=lambda_.Architecture.X86_64
    ).image_asset.asset_hash == (fn.image_asset.asset_hash)
    al2023 = _fn("U", bundling=MUSL, architecture=lambda_.Architecture.X86_64)
    assert al2023.image_asset.asset_hash != fn.image_asset.asset_hash
    assert (al2023.staged_context / "Dockerfile").read_text().count("provided:al2023") == 1


def test_scratch_with_a_glibc_binary_is_a_synth_error():
    with pytest.raises(ConfigurationError) as info:
        _fn(base_image=SCRATCH)
    message = str(info.value)
    assert "S/Fn" in message and "base_image" in message and "scratch" in message
    assert "Libc.MUSL" in message


@pytest.mark.parametrize("bundling", [MUSL, BundlingOptions()])
def test_in_docker_refuses_musl_and_scratch(bundling):
    with pytest.raises(ConfigurationError, match="PREBUILT"):
        _fn(base_image=SCRATCH, bundling=bundling, build=ContainerBuild.IN_DOCKER)
    if bundling.musl:
        with pytest.raises(ConfigurationError, match="bundling.libc"):
            _fn(bundling=bundling, build=ContainerBuild.IN_DOCKER)
