"""Which tools are there, which versions, and what is missing (with the fix for each).

Probes are cheap and cached: executables are identified by (path, size, mtime), so a warm
synth runs neither cargo-lambda nor zig to learn their versions.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .._support import disk_memo, session
from ..errors import ToolchainError
from .targets import Target

FIX_CARGO_LAMBDA = "pip install cargo-lambda ziglang (or see https://www.cargo-lambda.info)"
FIX_ZIG = "pip install ziglang (cargo-lambda cross-compiles with zig)"
FIX_DOCKER = "start a Docker engine, or install cargo-lambda locally"


def _stat_key(path: str) -> str:
    st = os.stat(path)
    return disk_memo.digest([os.path.realpath(path), st.st_size, st.st_mtime_ns])


def cached_version(path: str, argv: List[str]) -> str:
    """First line of ``argv``'s output, cached by the executable's identity."""
    key = _stat_key(path)
    entry = disk_memo.read_json("tools", key)
    if entry and isinstance(entry.get("version"), str):
        return str(entry["version"])
    proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    version = (proc.stdout or proc.stderr).strip().splitlines()[0] if proc.returncode == 0 else ""
    if version:
        disk_memo.write_json("tools", key, {"version": version})
    return version


def find_cargo_lambda() -> Optional[str]:
    """``cargo-lambda`` on PATH, or beside the running Python (a venv that is not activated)."""
    found = shutil.which("cargo-lambda")
    if found:
        return found
    beside = Path(sys.executable).parent / "cargo-lambda"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


@dataclass(frozen=True)
class Zig:
    version: str
    env: Dict[str, str] = field(default_factory=dict)
    """Variables that make cargo-zigbuild find this zig (and never offer to install one)."""


#: The zig lookup, by the variables that decide it.
ZIG: session.MemoKey[Tuple[str, str, str], Optional[Zig]] = session.MemoKey("toolchain.zig")


def find_zig() -> Optional[Zig]:
    """The zig cargo-lambda will use (memoised per app and zig-related variables)."""
    key = (
        os.environ.get("CARGO_ZIGBUILD_ZIG_PATH", ""),
        os.environ.get("CARGO_ZIGBUILD_PYTHON_PATH", ""),
        os.environ.get("PATH", ""),
    )
    _zig_memo = session.current().memo(ZIG)
    if key not in _zig_memo:
        _zig_memo[key] = _find_zig()
    return _zig_memo[key]


def _find_zig() -> Optional[Zig]:
    if os.environ.get("CARGO_ZIGBUILD_ZIG_PATH") or os.environ.get("CARGO_ZIGBUILD_PYTHON_PATH"):
        return Zig(version="user-configured")
    if importlib.util.find_spec("ziglang") is not None:
        return Zig(
            version=f"ziglang {importlib.metadata.version('ziglang')}",
            env={"CARGO_ZIGBUILD_PYTHON_PATH": sys.executable},
        )
    zig = shutil.which("zig")
    if zig:
        return Zig(
            version=cached_version(zig, [zig, "version"]), env={"CARGO_ZIGBUILD_ZIG_PATH": zig}
        )
    python3 = shutil.which("python3")
    if python3:
        version = cached_version(python3, [python3, "-m", "ziglang", "version"])
        if version and version[0].isdigit():
            return Zig(version=version, env={"CARGO_ZIGBUILD_PYTHON_PATH": python3})
    return None


def rustc_command() -> str:
    return os.environ.get("RUSTC") or "rustc"


#: ``rustc -vV`` by (rustc, directory): one run per app.
RUSTC: session.MemoKey[Tuple[str, str], Dict[str, str]] = session.MemoKey("toolchain.rustc")


def rustc_info(cwd: Path) -> Dict[str, str]:
    """``rustc -vV`` as a dict (run in ``cwd`` so rust-toolchain.toml is honoured).

    Raises ToolchainError when rustc cannot tell its version: a fingerprint with a degraded
    toolchain identity would silently miss (or worse, hit) the build cache.
    """
    key = (rustc_command(), str(cwd))
    _rustc_memo = session.current().memo(RUSTC)
    if key not in _rustc_memo:
        try:
            proc = subprocess.run(
                [rustc_command(), "-vV"],
                cwd=cwd,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise ToolchainError(
                f"rustc ({rustc_command()}) is not installed or not on PATH",
                fix="install Rust with rustup (https://rustup.rs)",
            ) from None
        info = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
        if proc.returncode != 0 or "release" not in info:
            raise ToolchainError(
                f"`{rustc_command()} -vV` failed in {cwd}: "
                f"{(proc.stderr or proc.stdout).strip()[:500]}",
                fix="check the Rust toolchain (rustup show) and rust-toolchain.toml",
            )
        _rustc_memo[key] = info
    return _rustc_memo[key]


def rust_std_installed(target: Target, cwd: Path) -> bool:
    """Does the rustc that will build have the std library for ``target``?"""
    try:
        proc = subprocess.run(
            [rustc_command(), "--print", "sysroot"],
            cwd=cwd,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return False
    if proc.returncode != 0:
        return False
    libdir = Path(proc.stdout.strip()) / "lib" / "rustlib" / target.triple / "lib"
    return libdir.is_dir() and any(p.name.startswith("libstd-") for p in libdir.iterdir())


def local_identity(cwd: Path) -> str:
    """Versions of the local toolchain that shape the binary (part of the fingerprint)."""
    info = rustc_info(cwd)
    cargo_lambda = find_cargo_lambda()
    cl_version = (
        cached_version(cargo_lambda, [cargo_lambda, "lambda", "--version"]) if cargo_lambda else ""
    )
    if cargo_lambda and not cl_version:
        raise ToolchainError(
            f"`{cargo_lambda} lambda --version` failed",
            fix=f"reinstall cargo-lambda: {FIX_CARGO_LAMBDA}",
        )
    zig = find_zig()
    return "|".join(
        [
            f"rustc {info['release']} {info.get('commit-hash', '')}",
            cl_version.split(" (")[0] or "cargo-lambda missing",
            zig.version if zig else "zig missing",
        ]
    )


def docker_engine_problem() -> Optional[str]:
    """None when a Docker engine answers, else why not."""
    docker = shutil.which("docker")
    if not docker:
        return "the docker client is not installed"
    try:
        proc = subprocess.run(
            [docker, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return "`docker version` timed out"
    if proc.returncode != 0 or not proc.stdout.strip():
        return (
            "no Docker engine answers (`docker version`: "
            + (proc.stderr.strip().splitlines() or ["no output"])[-1]
            + ")"
        )
    return None


def preflight_local(target: Target, cwd: Path) -> Zig:
    """Everything a local build needs, or one error naming each missing piece and its fix."""
    missing: List[str] = []
    if not shutil.which("cargo"):
        missing.append("cargo is not on PATH → install Rust with rustup (https://rustup.rs)")
    if not find_cargo_lambda():
        missing.append(f"cargo-lambda is not installed → {FIX_CARGO_LAMBDA}")
    zig = find_zig()
    if zig is None:
        missing.append(f"zig is not installed → {FIX_ZIG}")
    if shutil.which(rustc_command()) or os.path.isfile(rustc_command()):
        if not rust_std_installed(target, cwd):
            missing.append(
                f"the Rust standard library for {target.triple} is not installed for "
                f"`{rustc_command()}` → run `rustup target add {target.triple}` (or point RUSTC at "
                "a "
                "rustc that has it), or build in Docker with BundlingOptions(force_docker=True)"
            )
    else:
        missing.append(f"rustc ({rustc_command()}) is not on PATH → install Rust with rustup")
    if missing:
        raise ToolchainError(
            "cannot build locally:\n  - " + "\n  - ".join(missing),
            fix="install what is listed, or set BundlingOptions(force_docker=True) to build in "
            "Docker",
        )
    assert zig is not None
    return zig
