"""Pure argv builders. The same cargo-lambda argv runs locally and inside Docker.

No shell strings: every element is one argv entry, so paths with spaces or non-ASCII
characters need no quoting (a ``--mount`` value excepted: Docker reads it as one CSV record,
see ``mount_spec``). User command hooks are the only shell commands (see build.py).
"""

from __future__ import annotations

from typing import List, Mapping, Optional, Sequence

from .._support.paths import (
    CONTAINER_WORKSPACE,
)


def cargo_lambda_build_argv(
    *,
    manifest_path: str,
    target: str,
    profile: str,
    packages: Sequence[str],
    binaries: Sequence[str],
    lambda_dir: str,
    features: Sequence[str] = (),
    no_default_features: bool = False,
    extra_flags: Sequence[str] = (),
    extension: bool = False,
    workspace: bool = False,
    skip_target_check: bool = True,
) -> list[str]:
    """``cargo lambda build`` for several binaries of one workspace in one run.

    cargo-lambda writes ``<lambda_dir>/<binary>/bootstrap`` for each binary, or with
    ``extension`` (``--extension``: Lambda extensions) ``<lambda_dir>/extensions/<binary>``.
    ``workspace``: select every member (features unified over the workspace) instead of
    ``packages``; ``--bin`` still picks what is built.
    ``--skip-target-check`` because the construct's preflight already checked the Rust std
    (cargo-lambda would otherwise try ``rustup target add``, which may prompt or download).
    ``skip_target_check=False`` lets cargo-lambda add a missing std with rustup: for a musl
    target in the pinned build image, which carries only the ``-gnu`` std.
    """
    argv = ["cargo", "lambda", "build", "--manifest-path", manifest_path, "--target", target]
    argv += ["--release"] if profile == "release" else ["--profile", profile]
    if workspace:  # resolve features over every member, as a build at the root does
        argv.append("--workspace")
    else:
        for package in sorted(set(packages)):
            argv += ["--package", package]
    for binary in sorted(set(binaries)):
        argv += ["--bin", binary]
    if features:
        argv += ["--features", ",".join(features)]
    if no_default_features:
        argv.append("--no-default-features")
    if extension:
        argv.append("--extension")
    argv += ["--lambda-dir", lambda_dir]
    if skip_target_check:
        argv.append("--skip-target-check")
    argv += ["--color", "never"]
    argv += list(extra_flags)
    return argv


def without_native_cpu(flags: Sequence[str], lambda_cpu: str) -> tuple[List[str], bool]:
    """``flags`` with every ``target-cpu=native`` (``-C target-cpu=native``,
    ``-Ctarget-cpu=native``, ``--codegen target-cpu=native``, ``--codegen=target-cpu=native``)
    replaced by the Lambda CPU, and whether one was. A binary tuned to the build machine dies
    with SIGILL on Lambda hosts of an older CPU; an explicit CPU the user names stays theirs."""
    out: List[str] = []
    replaced = False
    codegen_next = False
    for flag in flags:
        for prefix in ("", "-C", "--codegen="):
            if flag == f"{prefix}target-cpu=native" and (prefix or codegen_next):
                flag = f"{prefix}target-cpu={lambda_cpu}"
                replaced = True
        codegen_next = flag in ("-C", "--codegen")
        out.append(flag)
    return out, replaced


#: The C compiler's spelling of each Lambda CPU (cc-rs passes CFLAGS to gcc/clang/zig cc):
#: the value for ``-march``, and for ``-mcpu``/``-mtune``.
_C_CPU = {
    "aarch64": ("armv8.2-a", "neoverse-n1"),
    "x86_64": ("haswell", "haswell"),
}
#: The variables cc-rs reads C/C++ flags from, without the per-target spellings
#: (``CFLAGS_<triple>``, ``CFLAGS_<triple_with_underscores>``), which ``c_flag_variables`` adds.
_C_FLAG_VARIABLES = ("CFLAGS", "CXXFLAGS", "TARGET_CFLAGS", "TARGET_CXXFLAGS")


def c_flag_variables(triple: str) -> List[str]:
    """Every variable cc-rs takes C and C++ flags for ``triple`` from."""
    names = list(_C_FLAG_VARIABLES)
    for base in ("CFLAGS", "CXXFLAGS"):
        names += [f"{base}_{triple}", f"{base}_{triple.replace('-', '_')}"]
    return names


def without_native_c_flags(value: str, rust_arch: str) -> tuple[str, bool]:
    """A C flags value with ``-march=native``/``-mcpu=native``/``-mtune=native`` replaced by
    the Lambda CPU of ``rust_arch`` (zig cc, gcc and clang would otherwise tune C
    dependencies to the build machine); and whether one was."""
    march, cpu = _C_CPU[rust_arch]
    wanted = {"-march=native": f"-march={march}", "-mcpu=native": f"-mcpu={cpu}"}
    wanted["-mtune=native"] = f"-mtune={cpu}"
    words = value.split()
    out = [wanted.get(word, word) for word in words]
    if out == words:
        return value, False
    return " ".join(out), True


def encoded_rustflags(
    *,
    remaps: Sequence[tuple[str, str]],
    target_cpu: str = "",
    user_flags: Sequence[str] = (),
    lambda_cpu: str = "",
) -> str:
    """``CARGO_ENCODED_RUSTFLAGS`` (0x1f-separated, so paths may contain spaces).

    cargo prefers this variable over RUSTFLAGS, so the ``-C target-cpu`` cargo-lambda would add
    to RUSTFLAGS for release builds is added here instead. A user's ``target-cpu=native``
    becomes ``lambda_cpu`` (default: ``target_cpu``), in every profile.
    """
    flags, _ = without_native_cpu(user_flags, lambda_cpu or target_cpu)
    if target_cpu and not any("target-cpu=" in f for f in flags):
        flags += ["-C", f"target-cpu={target_cpu}"]
    for host, mapped in remaps:
        flags.append(f"--remap-path-prefix={host}={mapped}")
    return "\x1f".join(flags)


#: Container variables the docker CLI reads for itself (its config dir, its and its helpers'
#: executable lookup, its engine and settings). Passed by name, their container values would
#: reconfigure the client rather than reach the container, so they (and only they) are passed
#: as ``NAME=VALUE``: the library's constant ``HOME``, and a ``PATH`` or ``DOCKER_*`` the user
#: set, none of which is where a secret goes.
_CLIENT_VARIABLES = frozenset({"HOME", "PATH"})
_CLIENT_PREFIX = "DOCKER_"


def _client_reads(name: str) -> bool:
    """Does the docker CLI itself read the variable ``name``?"""
    return name in _CLIENT_VARIABLES or name.startswith(_CLIENT_PREFIX)


def _csv_field(field: str) -> str:
    """One field of a CSV record as Go's encoding/csv reads it (Docker parses ``--mount`` so):
    a field holding a comma, a double quote or a line break is quoted, inner quotes doubled."""
    if not any(c in field for c in ',"\r\n'):
        return field
    return '"' + field.replace('"', '""') + '"'


def mount_spec(*, source: str, target: str, read_only: bool = False, kind: str = "bind") -> str:
    """The ``--mount`` value binding host path ``source`` at ``target`` (paths with spaces,
    colons, commas or quotes included); ``kind="volume"``: ``source`` is a named volume."""
    fields = [f"type={kind}", f"source={source}", f"target={target}"]
    if read_only:
        fields.append("readonly")
    return ",".join(_csv_field(field) for field in fields)


def docker_run_argv(
    *,
    image: str,
    platform: str,
    user: str,
    command: Sequence[str],
    mounts: Sequence[tuple[str, str, bool]],
    environment: Mapping[str, str],
    workdir: str = CONTAINER_WORKSPACE,
    network: Optional[str] = None,
    name: Optional[str] = None,
    volumes: Sequence[tuple[str, str, bool]] = (),
    security_options: Sequence[str] = (),
) -> list[str]:
    """``docker run`` of ``command`` in ``image`` as ``user`` (``uid:gid``).

    ``mounts`` are ``(host_path, container_path, read_only)``; ``--mount`` syntax is used so
    host paths with spaces or colons need no escaping (commas and quotes are CSV-quoted).
    ``volumes`` are ``(volume_name, container_path, read_only)`` of named Docker volumes;
    ``security_options`` become ``--security-opt`` values.
    ``environment`` is passed by NAME (``--env NAME``): the docker CLI takes each value from
    its own environment, so values never show on a command line (``ps`` shows every user's).
    Run the argv with ``docker_client_env(...)``; only the few variables the CLI reads itself
    (``_CLIENT_VARIABLES``, ``DOCKER_*``) go as ``NAME=VALUE``.
    """
    argv = ["docker", "run", "--rm", "--platform", platform, "--user", user, "--workdir", workdir]
    if name:  # so an interrupted synth can stop the container (see runner.py)
        argv += ["--name", name]
    if network:
        argv += ["--network", network]
    for option in security_options:
        argv += ["--security-opt", option]
    for host, container, read_only in mounts:
        argv += ["--mount", mount_spec(source=host, target=container, read_only=read_only)]
    for volume, container, read_only in volumes:
        spec = mount_spec(source=volume, target=container, read_only=read_only, kind="volume")
        argv += ["--mount", spec]
    for key in sorted(environment):
        argv += ["--env", f"{key}={environment[key]}" if _client_reads(key) else key]
    argv += ["--entrypoint", command[0], image, *command[1:]]
    return argv


def docker_client_env(*, base: Mapping[str, str], environment: Mapping[str, str]) -> dict[str, str]:
    """The environment to run ``docker_run_argv(environment=environment)`` in: ``base`` (the
    synth's own, so the CLI finds its engine, config and credentials) with the container's
    values of the variables the argv passes by name."""
    env = dict(base)
    env.update({k: v for k, v in environment.items() if not _client_reads(k)})
    return env
