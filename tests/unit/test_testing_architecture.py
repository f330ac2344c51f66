"""constructs_rust.testing runs a bootstrap as the architecture it was built for (ELF header),
unless the caller names one. Hand-made ELF headers: nothing is built or started."""

import struct
import sys
from pathlib import Path

import pytest

from constructs_rust.testing import (
    ExtensionSimulator,
    LambdaEmulator,
    binary_architecture,
    bootstrap,
    extensions,
)
from constructs_rust.testing.bootstrap import host_arch

EM_X86_64 = 0x3E
EM_AARCH64 = 0xB7
EM_ARM = 0x28  # 32-bit ARM: Lambda does not run it


def _elf(tmp_path: Path, name: str, machine: int, *, big_endian: bool = False) -> Path:
    """A 64-byte ELF64 header (ET_EXEC) for ``machine``: all binary_architecture reads."""
    order = ">" if big_endian else "<"
    ident = b"\x7fELF" + bytes([2, 2 if big_endian else 1, 1, 0]) + bytes(8)
    header = ident + struct.pack(order + "HHI", 2, machine, 1) + bytes(64 - 24)
    path = tmp_path / name
    path.write_bytes(header)
    return path


@pytest.mark.parametrize("machine, arch", [(EM_X86_64, "x86_64"), (EM_AARCH64, "arm64")])
def test_the_elf_header_names_the_architecture(tmp_path, machine, arch):
    assert binary_architecture(_elf(tmp_path, "bootstrap", machine)) == arch
    big = _elf(tmp_path, "big", machine, big_endian=True)
    assert binary_architecture(big) == arch, "e_machine is read in the file's byte order"


def test_a_real_executable(tmp_path):
    interpreter = Path(sys.executable).resolve()
    if interpreter.read_bytes()[:4] != b"\x7fELF":
        pytest.skip("the Python interpreter is not an ELF executable on this platform")
    assert binary_architecture(interpreter) == host_arch()


@pytest.mark.parametrize(
    "content",
    [b"#!/bin/sh\nexec ./handler\n", b"", b"\x7fELF\x02"],
    ids=["shell-script", "empty", "truncated"],
)
def test_not_an_elf_executable_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bootstrap"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not an ELF executable.*pass architecture="):
        binary_architecture(path)


def test_a_machine_lambda_cannot_run_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="ELF machine 0x28, not x86_64.*or aarch64"):
        binary_architecture(_elf(tmp_path, "bootstrap", EM_ARM))


class _Stop(Exception):
    """Raised by the stand-in runner_prefix: nothing is started."""


@pytest.fixture
def prefixes(monkeypatch):
    """The architectures runner_prefix is asked for (it then stops the helper)."""
    asked = []

    def record(architecture):
        asked.append(architecture)
        raise _Stop

    monkeypatch.setattr(bootstrap, "runner_prefix", record)
    return asked


@pytest.mark.parametrize("machine, arch", [(EM_X86_64, "x86_64"), (EM_AARCH64, "arm64")])
def test_invoke_runs_the_bootstrap_as_the_architecture_it_was_built_for(
    tmp_path, prefixes, machine, arch
):
    bootstrap = _elf(tmp_path, "bootstrap", machine)
    emulator = LambdaEmulator()  # not entered: no emulator process
    with pytest.raises(_Stop):
        emulator.invoke(bootstrap, {"x": 1})
    with pytest.raises(_Stop):
        emulator.invoke_many(bootstrap, [{"x": 1}])
    assert prefixes == [arch, arch]


def test_an_explicit_architecture_still_wins(tmp_path, prefixes):
    bootstrap = _elf(tmp_path, "bootstrap", EM_AARCH64)
    with pytest.raises(_Stop):
        LambdaEmulator().invoke(bootstrap, {}, architecture="x86_64")
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(_Stop):
        LambdaEmulator().invoke(script, {}, architecture="arm64")  # not read at all
    assert prefixes == ["x86_64", "arm64"]


def test_invoke_of_a_non_elf_bootstrap_fails_before_starting_anything(tmp_path, prefixes):
    script = tmp_path / "bootstrap"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(ValueError, match="not an ELF executable"):
        LambdaEmulator().invoke(script, {})
    assert prefixes == []


def test_extension_simulator_detects_and_refuses_a_mismatched_extension(
    tmp_path, prefixes, monkeypatch
):
    def no_harness():
        raise AssertionError("the harness must not be built")

    monkeypatch.setattr(extensions, "harness_binary", no_harness)
    bootstrap = _elf(tmp_path, "bootstrap", EM_AARCH64)
    same = _elf(tmp_path, "same", EM_AARCH64)
    other = _elf(tmp_path, "other", EM_X86_64)
    with pytest.raises(_Stop):
        ExtensionSimulator().run(bootstrap, [same], [{}])
    assert prefixes == ["arm64"]
    with pytest.raises(ValueError, match=r"other is built for x86_64 .* for arm64.*exec format"):
        ExtensionSimulator().run(bootstrap, [same, other], [{}])
    with pytest.raises(_Stop):  # an explicit architecture is the caller's word for all
        ExtensionSimulator().run(bootstrap, [other], [{}], architecture="x86_64")
    assert prefixes == ["arm64", "x86_64"]
