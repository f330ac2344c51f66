"""The binary check's rules on real executables of this machine (a dynamic x86_64 glibc binary,
/bin/true) and on files that are no executable at all; the real-build cases are in
tests/integration/test_binary_check.py."""

import os
import shutil
from pathlib import Path

import pytest

from constructs_rust import BinaryError
from constructs_rust._build.binary_check import UNZIPPED_QUOTA, check_binary, check_size
from constructs_rust._cargo.targets import AL2_GLIBC, Target

HOST = Path("/bin/true")
AL2023 = Target(lambda_arch="x86_64")


@pytest.fixture
def host_binary(tmp_path):
    if os.uname().machine != "x86_64" or not HOST.is_file():
        pytest.skip("needs an x86_64 glibc host")
    copy = tmp_path / "bootstrap"
    shutil.copy2(HOST, copy)
    return copy


def test_a_binary_that_runs_on_its_runtime_passes(host_binary):
    check_binary(host_binary, AL2023)  # Debian 12's /bin/true needs GLIBC_2.34 at most


def test_an_extension_is_held_to_al2s_glibc(host_binary):
    with pytest.raises(BinaryError) as err:
        check_binary(
            host_binary,
            Target(lambda_arch="x86_64", glibc=AL2_GLIBC),
            name="extensions/ext",
            extension=True,
        )
    text = str(err.value)
    assert text.startswith("extensions/ext: needs GLIBC_2.")
    assert "but provided.al2 and provided.al2023 (an extension is linked for AL2's glibc) " in text
    assert "has glibc 2.26" in text


def test_an_image_on_an_unknown_base_is_not_held_to_a_glibc(host_binary):
    check_binary(host_binary, Target(lambda_arch="x86_64", glibc="2.17"), image="debian:12")


def test_a_musl_target_wants_a_static_binary(host_binary):
    with pytest.raises(BinaryError, match=r"is dynamically linked \(loader /lib64/"):
        check_binary(host_binary, Target(lambda_arch="x86_64", musl=True))


def test_the_executable_bit_is_required(host_binary):
    host_binary.chmod(0o644)
    with pytest.raises(BinaryError) as err:
        check_binary(host_binary, AL2023)
    assert "bootstrap: is not executable (mode 0o644)" in str(err.value)
    assert "chmod +x" in str(err.value)


def test_a_file_that_is_no_elf_is_refused(tmp_path):
    junk = tmp_path / "bootstrap"
    junk.write_bytes(b"MZ\x90\x00" + b"\0" * 200)  # e.g. a Windows build
    junk.chmod(0o755)
    with pytest.raises(BinaryError, match="bootstrap: is not an ELF executable"):
        check_binary(junk, AL2023)


def test_a_wrapper_script_runs_where_there_is_a_shell(tmp_path):
    script = tmp_path / "bootstrap"
    script.write_text('#!/bin/sh\nexec "$LAMBDA_TASK_ROOT/app"\n')
    script.chmod(0o755)
    check_binary(script, AL2023)
    with pytest.raises(BinaryError, match="bootstrap: is a script, but a FROM-scratch image"):
        check_binary(script, Target(lambda_arch="x86_64", musl=True), image="scratch")


def test_a_zip_asset_over_the_unzipped_quota_is_refused(tmp_path):
    (tmp_path / "bootstrap").write_bytes(b"x")
    check_size(tmp_path, who="bootstrap")
    with (tmp_path / "model.bin").open("wb") as handle:  # sparse: no disk used
        handle.truncate(UNZIPPED_QUOTA)
    with pytest.raises(BinaryError) as err:
        check_size(tmp_path, who="bootstrap")
    assert "is 262,144,001 bytes unzipped; Lambda allows 262,144,000 bytes (250 MB)" in str(
        err.value
    )
