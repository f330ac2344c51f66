"""Every input of a Rust asset's hash, in one place: the hash and its "why it changed" come
from one list of lines (``Inputs.lines``), and nothing else decides an asset hash.

A binary's inputs are what cargo's own freshness check covers: STATIC lines known before
any build (``tree``, ``dep``, ``path``, ``root``, ``config``, ``setting``, ``toolchain``,
``source``), ASSET lines that change the zip but not the binary (``include``), and DISCOVERED
lines from cargo's records of the last build of the same static inputs (``read`` for files
and watched directories, ``env``; see ``discover``). What each line covers, and why, is
written once, for users, in docs/bundling.md ("The asset hash: everything cargo reads").

A binary with no record yet (a new machine, no shared record) is built at plan time, so its
hash includes the discovered lines from its first synth on (see ``bundling.plan_bundle``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from .._cargo import cargo_config
from .._cargo.depgraph import Graph, Lock, read_lock, read_manifest
from .._cargo.metadata import IGNORED_DIRS, Package, Workspace
from .._cargo.targets import Target
from .._support import paths
from .._support.disk_memo import atomic_write, digest
from ..options import BundlingOptions

VERSION = "constructs-rust-fingerprint-v3"
#: Files of the workspace root that count as a whole.
ROOT_FILES = ("rust-toolchain", "rust-toolchain.toml", "CargoLambda.toml")
#: Root-manifest sections that change binaries without showing in the resolved graph
#: (``[workspace.dependencies]`` acts through the graph: versions, and features per node).
ROOT_SECTIONS = (
    ("profile",),
    ("patch",),
    ("replace",),
    ("workspace", "package"),
    ("workspace", "metadata"),
    ("package", "metadata"),
)
#: Variables cargo sets for rustc and build scripts itself (derived from the manifest, profile
#: and target, all hashed elsewhere; ``CARGO`` is a host path).
_CARGO_SET_ENV = re.compile(
    r"^(CARGO|CARGO_PKG_\w+|CARGO_MANIFEST_\w+|CARGO_CRATE_NAME|CARGO_BIN_NAME|CARGO_BIN_EXE_\w+|"
    r"CARGO_PRIMARY_PACKAGE|CARGO_TARGET_TMPDIR|CARGO_RUSTC_CURRENT_DIR|CARGO_CFG_\w+|"
    r"CARGO_FEATURE_\w+|CARGO_ENCODED_RUSTFLAGS|CARGO_MAKEFLAGS|OUT_DIR|TARGET|HOST|PROFILE|"
    r"OPT_LEVEL|DEBUG|NUM_JOBS|RUSTC|RUSTDOC|RUSTC_LINKER|RUSTC_WORKSPACE_WRAPPER|"
    r"RUSTC_WRAPPER)$"
)


# -- files and trees -------------------------------------------------------------------------


def file_digest(path: Path) -> str:
    """Content and executable bit of a file (symlinks followed); ``absent``/``unreadable``."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        executable = bool(os.stat(path).st_mode & stat.S_IXUSR)
    except FileNotFoundError:
        return "absent"
    except OSError:
        return "unreadable"
    return f"{h.hexdigest()}:{'x' if executable else '-'}"


#: Never part of a package tree: build outputs and tool folders (``IGNORED_DIRS``), cargo's
#: own config folder (it counts by its tables, see ``config_lines``), caches and editor folders.
TREE_SKIP = IGNORED_DIRS | {
    ".cargo",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".idea",
    ".vscode",
    ".direnv",
}

_tree_memo: Dict[Tuple[Path, Optional[Path]], str] = {}
_tree_files: Dict[Tuple[Path, Optional[Path]], Tuple[str, ...]] = {}


def hash_tree(directory: Path, target_dir: Optional[Path] = None) -> str:
    """Content hash of a package directory: every file, relative paths, executable bits.

    Symlinked files and directories are followed (cargo reads through them); a link cycle is
    entered once. Subdirectories holding their own Cargo.toml are other packages and are skipped
    (hashed as dependencies when the binary depends on them), as are build outputs and tool
    folders (``TREE_SKIP``, and the target dir wherever it is) and ``Cargo.lock`` (it counts
    through the graph's entries).
    """
    memo_key = (directory, target_dir)
    if memo_key in _tree_memo:
        return _tree_memo[memo_key]
    entries: List[str] = []
    seen: Set[str] = set()
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        keep = []
        for d in sorted(dirnames):
            sub = Path(dirpath) / d
            if d in TREE_SKIP or sub == target_dir or (sub / "Cargo.toml").is_file():
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name != "Cargo.lock" and (path.is_file() or path.is_symlink()):
                entries.append(f"{path.relative_to(directory).as_posix()}={file_digest(path)}")
    result = digest(entries)
    _tree_memo[memo_key] = result
    _tree_files[memo_key] = tuple(entries)
    return result


def watched_dir_digest(directory: Path, skip: Sequence[Path] = ()) -> str:
    """A directory a build watches (``cargo:rerun-if-changed=<dir>``, which cargo scans
    recursively): every file and subdirectory under it, added and removed ones included, with
    no editor or tool folder skipped (cargo skips none); only target dirs (``skip``), which the
    build itself writes."""
    skipped = {os.path.normpath(p) for p in skip}
    entries: List[str] = []
    seen: Set[str] = set()
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(
            d for d in dirnames if os.path.normpath(os.path.join(dirpath, d)) not in skipped
        )
        base = Path(dirpath).relative_to(directory).as_posix()
        entries.extend(f"{base}/{d}/" for d in dirnames)
        for name in sorted(filenames):
            entries.append(f"{base}/{name}={file_digest(Path(dirpath) / name)}")
    return "dir:" + digest(entries)


def read_digest(path: Path, target_dir: Optional[Path] = None) -> str:
    """The digest of one discovered read: a file's content, or a watched directory's tree."""
    if path.is_dir():
        return watched_dir_digest(path, [target_dir] if target_dir is not None else [])
    return file_digest(path)


def tree_files(directory: Path, target_dir: Optional[Path] = None) -> Tuple[str, ...]:
    """The ``<relative path>=<file digest>`` entries ``hash_tree`` hashed for ``directory``:
    kept with the history (not hashed again) so "why did it change" can name the files."""
    hash_tree(directory, target_dir)
    return _tree_files[(directory, target_dir)]


def rel(workspace: Workspace, path: Path) -> str:
    return Path(os.path.relpath(path, workspace.root)).as_posix()


# -- settings and environment ----------------------------------------------------------------


def secret_digest(name: str, value: str) -> str:
    """How a build-environment VALUE enters the fingerprint: a digest, never the value.

    Values of ``BundlingOptions.environment`` and of host variables can be secrets (private
    registry tokens); the lines end up in the remote cache's manifest and in
    ``CONSTRUCTS_RUST_EXPLAIN`` output, so only this digest (salted with the name) appears.
    """
    return "sha256:" + digest(["constructs-rust-env-v1", name, value])[:32]


#: The built-in profiles ``cargo lambda build`` uses, with cargo's default for incremental
#: compilation in each (the value ``CARGO_INCREMENTAL`` would have to differ from).
_BUILT_IN_PROFILES = {"release": "0", "dev": "1"}


def output_changing_host_variables(options: BundlingOptions, target: Target) -> List[str]:
    """Host variables a local build inherits that change the binary: the built profile's
    ``CARGO_PROFILE_<NAME>_*`` (a custom profile's also ``RELEASE``/``DEV``, which it may
    inherit), ``CARGO_INCREMENTAL`` where it differs from the profile's default, the target's
    ``CARGO_TARGET_<TRIPLE>_*`` (linker, rustflags) and the rustflags variables cargo reads.
    Others stay out, so a CI runner's usual ``CARGO_INCREMENTAL=0`` or
    ``CARGO_PROFILE_DEV_DEBUG=0`` does not split a team's release hashes."""
    profiles = [options.profile.upper().replace("-", "_")]
    if options.profile not in _BUILT_IN_PROFILES:
        profiles += ["RELEASE", "DEV"]
    prefixes = tuple(f"CARGO_PROFILE_{p}_" for p in profiles)
    triple = target.triple.upper().replace("-", "_")
    names = [
        name
        for name in os.environ
        if name.startswith(prefixes)
        or (name.startswith(f"CARGO_TARGET_{triple}_") and not name.endswith("_RUNNER"))
        or name in ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS")
    ]
    incremental = os.environ.get("CARGO_INCREMENTAL")
    if incremental is not None and incremental != _BUILT_IN_PROFILES.get(options.profile):
        names.append("CARGO_INCREMENTAL")
    return sorted(name for name in names if name not in options.environment)


def build_settings(options: BundlingOptions, target: Target, use_docker: bool) -> List[str]:
    """Everything about HOW a binary is built, as stable strings (grouping key + fingerprint).

    Environment variable NAMES appear in clear, their VALUES only as ``secret_digest``.
    """
    hooks = options.command_hooks
    # A container gets the variables of docker_env_files too (environment wins).
    environment = options.container_environment() if use_docker else dict(options.environment)
    settings = [
        f"target={target.cargo_lambda_target}",
        f"profile={options.profile}",
        f"features={','.join(sorted(options.features))}",
        f"no_default_features={options.no_default_features}",
        f"flags={chr(31).join(options.effective_flags())}",
        "environment="
        + chr(31).join(f"{k}={secret_digest(k, v)}" for k, v in sorted(environment.items())),
        "before_build=" + chr(31).join(hooks.before_build if hooks else ()),
        "after_build=" + chr(31).join(hooks.after_build if hooks else ()),
        f"mode={'docker ' + options.docker_image if use_docker else 'local'}",
    ]
    if target.musl:  # its own line (the target line says it too); glibc hashes are unchanged
        settings.append("libc=musl")
    if not use_docker:  # a local build inherits the host environment; a container does not
        settings.extend(
            f"host_env={name}={secret_digest(name, os.environ[name])}"
            for name in output_changing_host_variables(options, target)
        )
    return settings


def standin(
    *, binary_name: Optional[str], options: BundlingOptions, target: Target, kind: Sequence[str]
) -> str:
    """The hash of an asset whose stack is not bundled (``cdk ls``, ``-e OtherStack``): from
    the options only, so no cargo runs."""
    settings = build_settings(options, target, options.force_docker)
    return digest(["standin", binary_name or "", *settings, *kind])


def ca_bundle() -> Tuple[str, str]:
    """The CA bundle a FROM-scratch image carries, and the line naming it.

    certifi's (Mozilla's roots): the same bytes on every machine with the same certifi
    version, so the image's hash never depends on the host's trust store or paths. Its content
    is in the image context (CDK hashes it) and its line in the Dockerfile's label."""
    import certifi

    path = Path(certifi.where())
    text = path.read_text(encoding="utf-8")
    return text, f"certifi {certifi.__version__} sha256:{hashlib.sha256(text.encode()).hexdigest()}"


# -- graph and root lines --------------------------------------------------------------------


def graph_lines(graph: Graph, lock: Lock, workspace: Workspace) -> List[str]:
    """Registry and git packages with versions, checksums and features; path packages with
    the features they are compiled with (their sources count as trees)."""
    lines = []
    for n in graph.nodes:
        macro = " proc-macro" if n.proc_macro else ""
        if n.path is None:
            checksum = lock.checksums(n.name, n.version) or "-"
            lines.append(
                f"dep {n.name} {n.version} {n.source}{macro} features=[{n.features}] "
                f"checksum={checksum}"
            )
        else:
            lines.append(f"path {rel(workspace, n.path)} {n.name}{macro} features=[{n.features}]")
    return lines


def root_lines(workspace: Workspace) -> List[str]:
    manifest = read_manifest(workspace.root_manifest)
    lines: List[str] = []
    if manifest is None:
        lines.append("root Cargo.toml=unreadable")
    else:
        for section in ROOT_SECTIONS:
            value: Any = manifest
            for part in section:
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                lines.append(f"root [{'.'.join(section)}]={_json_digest(value)}")
    for name in ROOT_FILES:
        lines.append(f"root {name}={file_digest(workspace.root / name)}")
    return lines


def _json_digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def config_lines(workspace: Workspace, use_docker: bool) -> List[str]:
    """The output-changing tables of each cargo config file the build reads (a Docker build
    reads the workspace root's own only)."""
    lines = []
    for config in cargo_config.config_files(workspace.root, include_outside=not use_docker):
        for table, value in sorted(cargo_config.output_tables(config.data).items()):
            lines.append(f"config {config.label} [{table}]={_json_digest(value)}")
    return lines


# -- discovered inputs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """What the last build of one binary read beyond its static inputs."""

    files: Tuple[str, ...] = ()
    """Paths relative to the workspace root (posix)."""
    env: Tuple[str, ...] = ()
    """Variable names."""

    def union(self, other: "Record") -> "Record":
        return Record(
            files=tuple(sorted(set(self.files) | set(other.files))),
            env=tuple(sorted(set(self.env) | set(other.env))),
        )

    def covers(self, other: "Record") -> bool:
        return set(other.files) <= set(self.files) and set(other.env) <= set(self.env)

    def to_json(self) -> Dict[str, Any]:
        return {"files": list(self.files), "env": list(self.env)}

    @staticmethod
    def from_json(value: Any) -> Optional["Record"]:
        """A record from the local store or the remote (untrusted): plain relative paths and
        variable names only, else None."""
        if not isinstance(value, dict):
            return None
        files, env = value.get("files"), value.get("env")
        if not isinstance(files, list) or not isinstance(env, list):
            return None
        if not all(isinstance(f, str) and f and not f.startswith("/") for f in files):
            return None
        if not all(isinstance(e, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", e) for e in env):
            return None
        return Record(files=tuple(sorted(set(files))), env=tuple(sorted(set(env))))


def env_value(name: str, options: BundlingOptions, use_docker: bool) -> Optional[str]:
    """The value a build sees for ``name``: the bundling environment (in a container also
    its env files), else (locally) the host's; a container sees no host variable."""
    if use_docker:
        return options.container_environment().get(name)
    if name in options.environment:
        return options.environment[name]
    return os.environ.get(name)


def extra_lines(
    workspace: Workspace, record: Record, options: BundlingOptions, use_docker: bool
) -> List[str]:
    lines = [
        f"read {f}={read_digest(workspace.root / f, workspace.target_dir)}" for f in record.files
    ]
    for name in record.env:
        value = env_value(name, options, use_docker)
        lines.append(f"env {name}={'unset' if value is None else secret_digest(name, value)}")
    return lines


@dataclass(frozen=True)
class Inputs:
    """The inputs of one binary: the hash is the digest of ``lines``."""

    static: Tuple[str, ...]
    extra: Tuple[str, ...] = ()
    record: Optional[Record] = None
    """The discovered inputs the extra lines were computed from (None: not known yet)."""
    zip: Tuple[str, ...] = ()
    """``include …`` lines: the function's extra files in the zip (``extra_files.lines``).
    They change the ASSET hash but not the binary, so they are not part of ``lines``/
    ``fingerprint`` (the artifact cache key, local and remote): editing an extra file
    restages the asset from the cached binary, without cargo."""
    trees: Tuple[Tuple[str, Tuple[str, ...]], ...] = field(default=(), compare=False)
    """Per ``tree`` line, its label and the file entries behind its digest: what the history
    keeps to name the files an edit added, removed or changed. Not part of the hash (the
    ``tree`` line's digest already covers them)."""

    @property
    def static_key(self) -> str:
        """Names the record store entry: the static inputs only."""
        return digest(self.static)

    @property
    def lines(self) -> Tuple[str, ...]:
        return self.static + self.extra

    @property
    def fingerprint(self) -> str:
        """The binary's fingerprint (its artifact's key)."""
        return digest(self.lines)

    @property
    def asset_lines(self) -> Tuple[str, ...]:
        """Every line of the asset: the binary's and the extra files' (what "why did my
        function redeploy" compares)."""
        return self.lines + self.zip

    @property
    def asset_hash(self) -> str:
        """The asset hash: the binary's fingerprint, or with extra files the digest of
        ``asset_lines``."""
        return digest(self.asset_lines) if self.zip else self.fingerprint

    def with_record(
        self, workspace: Workspace, record: Record, options: BundlingOptions, use_docker: bool
    ) -> "Inputs":
        extra = tuple(extra_lines(workspace, record, options, use_docker))
        return Inputs(
            static=self.static, extra=extra, record=record, zip=self.zip, trees=self.trees
        )


def static_inputs(
    *,
    workspace: Workspace,
    package: Package,
    binary: str,
    graph: Graph,
    options: BundlingOptions,
    target: Target,
    use_docker: bool,
    toolchain: str,
    extension: bool,
    source: Sequence[str] = (),
) -> Inputs:
    """Every input known before a build, one readable line each. ``source``: where the
    workspace came from (``source git commit=…`` for a git source, see git_source.py)."""
    lines: List[str] = [VERSION, f"package={package.name}", f"binary={binary}", *source]
    trees = []
    for directory in sorted({package.directory, *graph.path_dirs}):
        tree = hash_tree(directory, workspace.target_dir)
        lines.append(f"tree {rel(workspace, directory)}={tree}")
        trees.append((rel(workspace, directory), tree_files(directory, workspace.target_dir)))
    lines += graph_lines(graph, read_lock(workspace), workspace)
    lines += root_lines(workspace)
    lines += config_lines(workspace, use_docker)
    lines += [f"setting {s}" for s in build_settings(options, target, use_docker)]
    if extension:
        lines.append("setting kind=extension")
    lines.append(f"toolchain {toolchain}")
    return Inputs(static=tuple(lines), trees=tuple(trees))


# -- the record store ------------------------------------------------------------------------


def _store(workspace: Workspace) -> Path:
    return paths.records_dir(workspace.target_dir)


def slot(package: Package, binary: str, settings: Sequence[str]) -> str:
    """One binary built one way (the previous record of a binary whose sources changed)."""
    return digest(["slot", package.name, binary, *settings])


def read_record(workspace: Workspace, static_key: str) -> Optional[Record]:
    try:
        value = json.loads((_store(workspace) / f"{static_key}.json").read_text())
    except (OSError, ValueError):
        return None
    return Record.from_json(value.get("used")) if isinstance(value, dict) else None


def previous_record(workspace: Workspace, slot_key: str) -> Optional[Record]:
    """What the binary read at its previous build (under other static inputs)."""
    try:
        value = json.loads((_store(workspace) / "last" / f"{slot_key}.json").read_text())
    except (OSError, ValueError):
        return None
    return Record.from_json(value)


def write_record(
    workspace: Workspace, static_key: str, slot_key: str, used: Record, discovered: Record
) -> None:
    """``used``: the lines the hash of these static inputs covers from now on (what was used
    plus what the build discovered); ``discovered``: exactly what the build read (the
    starting point after the next source change)."""
    try:
        atomic_write(
            _store(workspace) / f"{static_key}.json",
            json.dumps({"used": used.to_json(), "discovered": discovered.to_json()}).encode(),
        )
        atomic_write(
            _store(workspace) / "last" / f"{slot_key}.json",
            json.dumps(discovered.to_json()).encode(),
        )
    except OSError:
        pass  # a record that cannot be kept costs a build at the next synth, never staleness


# -- discovery from cargo's records ----------------------------------------------------------


def parse_dep_info(text: str) -> Tuple[List[str], List[str]]:
    """A Makefile-style dep-info file → (every prerequisite path, ``# env-dep:`` names)."""
    files: List[str] = []
    env: List[str] = []
    for raw in text.splitlines():
        if raw.startswith("# env-dep:"):
            env.append(raw[len("# env-dep:") :].split("=", 1)[0])
            continue
        if raw.startswith("#") or ":" not in raw:
            continue
        # "target: dep1 dep2" with "\ " escaping spaces; the target may hold ':' only on Windows.
        _, _, deps = raw.partition(": ")
        if not deps.strip():
            continue
        for item in re.split(r"(?<!\\) ", deps.strip()):
            if item:
                files.append(item.replace("\\ ", " "))
    return files, env


def profile_dir(options: BundlingOptions) -> str:
    return {"release": "release", "dev": "debug"}.get(options.profile, options.profile)


@dataclass(frozen=True)
class BuildPlace:
    """Where one build's outputs are, and how its paths map back to the host."""

    out_dir: Path
    """``<target-dir>/<triple>/<profile>`` on the host."""
    host_dir: Path
    """``<target-dir>/<profile>`` on the host: proc macros and build scripts (host code)."""
    workspace_prefix: str
    """The workspace root as the build saw it (the host path, or ``/workspace`` in Docker)."""
    skip_prefixes: Tuple[str, ...] = field(default_factory=tuple)
    """Paths covered by other lines (cargo home, sysroot, target dir) or not the host's."""


def _crate(name: str) -> str:
    return name.replace("-", "_")


def discover(
    place: BuildPlace,
    *,
    workspace: Workspace,
    package: Package,
    binary: str,
    graph: Graph,
    build_started: float,
) -> Tuple[Record, List[str]]:
    """What one built binary read beyond its static inputs, from cargo's own records; and the
    files that changed while it was built (the artifact must not be cached then)."""
    files: Set[str] = set()
    racing: List[str] = []
    covered = tree_covered({package.directory, *graph.path_dirs}, workspace.target_dir)
    try:
        text = (place.out_dir / f"{binary}.d").read_text(errors="replace")
    except OSError:
        text = ""
    seen_files, _ = parse_dep_info(text)
    for name in seen_files:
        label = host_label(name, place, workspace, covered)
        if label is not None:
            files.add(label)
        # Any source rustc read (in a package tree or not) edited after cargo started: the
        # binary may hold the old content under a hash computed from the new, or vice versa.
        host = _host_path(name, place, workspace)
        try:
            if host is not None and os.stat(host).st_mtime >= build_started:
                racing.append(rel(workspace, host))
        except OSError:
            pass
    crates = {_crate(n.name) for n in graph.nodes} | {_crate(binary), _crate(package.name)}
    env: Set[str] = set()
    # The target's outputs, and the host's (``<target-dir>/<profile>``): with ``--target``,
    # proc macros and build scripts are compiled for the host there, and cargo rebuilds them
    # (and so the binary) on their env-deps too.
    for out_dir in (place.out_dir, place.host_dir):
        for dep_info in _glob(out_dir / "deps", ".d"):
            stem = dep_info.name[: -len(".d")].rsplit("-", 1)[0]
            if stem in crates:
                env.update(parse_dep_info(_read(dep_info))[1])
        for build_dir in _glob(out_dir / "build", ""):
            if _crate(build_dir.name.rsplit("-", 1)[0]) not in crates:
                continue
            for script_info in _glob(build_dir, ".d"):  # the build script's own compilation
                env.update(parse_dep_info(_read(script_info))[1])
            for line in _read(build_dir / "output").splitlines():
                for prefix in ("cargo:rerun-if-env-changed=", "cargo::rerun-if-env-changed="):
                    if line.startswith(prefix):
                        env.add(line[len(prefix) :].strip())
    env = {e for e in env if e and not _CARGO_SET_ENV.match(e)}
    return Record(files=tuple(sorted(files)), env=tuple(sorted(env))), racing


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _glob(directory: Path, suffix: str, nested: bool = False) -> List[Path]:
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return []
    if nested:
        return [e / suffix for e in entries if (e / suffix).is_file()]
    return [e for e in entries if e.name.endswith(suffix)]


def _host_path(name: str, place: BuildPlace, workspace: Workspace) -> Optional[Path]:
    """A dep-info path → the host file, or None when no line of the user's covers it (the
    cargo home, the target dir, a path of the build image)."""
    path = os.path.normpath(name)
    if not os.path.isabs(path):
        path = os.path.normpath(os.path.join(place.workspace_prefix, path))
    if any(path == p or path.startswith(p.rstrip("/") + "/") for p in place.skip_prefixes):
        return None
    if place.workspace_prefix != str(workspace.root):
        prefix = place.workspace_prefix.rstrip("/") + "/"
        if not path.startswith(prefix):
            return None  # a path of the build image, identified by the image name
        path = str(workspace.root / path[len(prefix) :])
    return Path(path)


def host_label(
    name: str, place: BuildPlace, workspace: Workspace, covered: Set[str]
) -> Optional[str]:
    """A dep-info path → its label relative to the workspace root, or None when another line
    covers it (a file a package tree hashed, the cargo home, generated files, the image)."""
    host = _host_path(name, place, workspace)
    if host is None or os.path.normpath(host) in covered:
        return None
    return rel(workspace, host)


def tree_covered(trees: Iterable[Path], target_dir: Optional[Path]) -> Set[str]:
    """Exactly the files the package trees hashed (normalised host paths). A read is dropped
    only when its file is one of them: never because its directory is one the tree skips
    (``.vscode/``, a nested package, the target dir), and never for a directory."""
    covered: Set[str] = set()
    for tree in trees:
        for entry in tree_files(tree, target_dir):
            covered.add(os.path.normpath(tree / entry.rsplit("=", 1)[0]))
    return covered


def build_place(
    *,
    workspace: Workspace,
    target: Target,
    options: BundlingOptions,
    use_docker: bool,
    target_dir: Path,
    sysroot: str = "",
) -> BuildPlace:
    out_dir = target_dir / target.triple / profile_dir(options)
    host_dir = target_dir / profile_dir(options)
    if use_docker:
        return BuildPlace(
            out_dir=out_dir,
            host_dir=host_dir,
            workspace_prefix=paths.CONTAINER_WORKSPACE,
            skip_prefixes=(paths.CONTAINER_BUILD_DIR,),
        )
    skips = [str(cargo_config.cargo_home()), str(workspace.target_dir), str(target_dir)]
    if sysroot:
        skips.append(sysroot)
    return BuildPlace(
        out_dir=out_dir,
        host_dir=host_dir,
        workspace_prefix=str(workspace.root),
        skip_prefixes=tuple(skips),
    )


def forget_memo() -> None:
    _tree_memo.clear()
    _tree_files.clear()
