"""``bundling_file_access=VOLUME_COPY``: Docker bundling without bind mounts of host paths.

For engines that cannot see the synthesizing machine's files (a remote ``DOCKER_HOST``,
Docker-in-Docker CI). Per build run:

1. volumes: a fresh one for the workspace and one for the outputs (removed afterwards), plus
   kept ones for the build dir (``/constructs-rust``: cargo's target dir, so rebuilds are
   incremental) per workspace and, with ``docker_cargo_cache``, one for the cargo home;
2. a helper container (created, never started) holding them, so ``docker cp`` can reach them;
   the workspace is streamed in as a tar (without ``target/``, ``.git``, ``cdk.out``,
   ``node_modules``, ``.venv``, ``__pycache__``: what Docker bundling never needs);
3. one ``docker run`` as root that only ``chown``s the writable volume roots to the build
   user; then the build itself, the same ``docker run`` as with bind mounts but with
   ``--mount type=volume`` (the same container paths, so the same bytes);
4. ``docker cp`` of the outputs back, and of cargo's dep-info and build-script ``output``
   files (selected with ``find``, streamed with ``tar``), which tell what the build read.

Every step is an argv (no shell); values of the build environment never appear on one.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from .._cargo.metadata import IGNORED_DIRS
from .._support import paths
from .._support.disk_memo import digest
from ..errors import ConstructsRustError
from . import commands

PREFIX = "constructs-rust"


def _check(proc: "subprocess.CompletedProcess[bytes]", what: str) -> None:
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise ConstructsRustError(
            f"bundling_file_access=VOLUME_COPY: `{what}` failed (exit {proc.returncode}):\n"
            + "\n".join(err),
            prop="bundling.bundling_file_access",
            fix="check that the Docker engine works (`docker volume ls`) and has free space",
        )


@dataclass
class Session:
    """The volumes and helper container of one VOLUME_COPY build run."""

    image: str
    platform: str
    user: str
    env: Dict[str, str]
    """The docker CLI's environment (its engine, config)."""
    workspace_volume: str
    out_volume: str
    build_volume: str
    cargo_volume: Optional[str]
    helper: str
    created: List[str] = field(default_factory=list)

    @property
    def mounts(self) -> List[Tuple[str, str, bool]]:
        """(volume, container path, read-only) for the build container."""
        found = [
            (self.workspace_volume, paths.CONTAINER_WORKSPACE, True),
            (self.build_volume, paths.CONTAINER_BUILD_DIR, False),
            (self.out_volume, paths.CONTAINER_VOLUME_OUT, False),
        ]
        if self.cargo_volume:
            found.append((self.cargo_volume, paths.CONTAINER_CARGO_HOME, False))
        return found

    def docker(self, args: Sequence[str], **kw: object) -> "subprocess.CompletedProcess[bytes]":
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            ["docker", *args], env=self.env, capture_output=True, check=False, **kw
        )

    def _run_helper(
        self, entrypoint: str, args: Sequence[str], *, user: str, stdin: bytes = b""
    ) -> "subprocess.CompletedProcess[bytes]":
        argv = ["run", "--rm", "-i", "--platform", self.platform, "--user", user]
        argv += ["--network", "none"]
        for volume, target, _ in self.mounts:
            argv += ["--mount", commands.mount_spec(source=volume, target=target, kind="volume")]
        argv += ["--entrypoint", entrypoint, self.image, *args]
        return self.docker(argv, input=stdin)

    def start(self, workspace_root: Path, exclude: Sequence[Path]) -> None:
        for volume in (self.workspace_volume, self.out_volume):
            _check(self.docker(["volume", "create", volume]), "docker volume create")
            self.created.append(volume)
        for kept in (self.build_volume, self.cargo_volume):
            if kept:  # kept between builds (created once, `create` is idempotent)
                _check(self.docker(["volume", "create", kept]), "docker volume create")
        argv = ["create", "--name", self.helper, "--platform", self.platform]
        for volume, target, _ in self.mounts:
            argv += ["--mount", commands.mount_spec(source=volume, target=target, kind="volume")]
        argv += ["--entrypoint", "true", self.image]
        _check(self.docker(argv), "docker create (helper container)")
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(
                ["docker", "cp", "-", f"{self.helper}:{paths.CONTAINER_WORKSPACE}"],
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=errors,  # a file: docker's messages can never block the tar stream
            )
            assert proc.stdin is not None
            try:
                with tarfile.open(fileobj=proc.stdin, mode="w|") as tar:
                    for path, arcname in workspace_entries(workspace_root, exclude):
                        tar.add(str(path), arcname=arcname, recursive=False)
            except BrokenPipeError:
                pass  # docker cp stopped reading: its exit status and message say why
            finally:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
                code = proc.wait()
            errors.seek(0)
            _check(
                subprocess.CompletedProcess(proc.args, code, b"", errors.read()),
                "docker cp (workspace into its volume)",
            )
        writable = [t for _, t, read_only in self.mounts if not read_only]
        _check(
            self._run_helper("chown", [self.user, *writable], user="0:0"),
            "chown of the volumes to the build user",
        )

    def copy_back(self, out: Path, container_dir: str, host_dir: Path) -> None:
        """The outputs into ``out``; the dep-info files of ``container_dir`` (cargo's
        ``<target>/<triple>/<profile>``) into ``host_dir``."""
        out.mkdir(parents=True, exist_ok=True)
        _check(
            self.docker(["cp", f"{self.helper}:{paths.CONTAINER_VOLUME_OUT}/.", str(out)]),
            "docker cp (outputs back)",
        )
        found = self._run_helper(
            "find",
            [container_dir, "-maxdepth", "3", "(", "-name", "*.d", "-o", "-name", "output", ")"]
            + ["-type", "f", "-print0"],
            user=self.user,
        )
        _check(found, "find (dep-info files)")
        names = [
            os.path.relpath(p, container_dir)
            for p in found.stdout.decode(errors="surrogateescape").split("\0")
            if p
        ]
        if not names:
            return
        listing = "\0".join(names).encode(errors="surrogateescape") + b"\0"
        packed = self._run_helper(
            "tar",
            ["-C", container_dir, "-cf", "-", "--null", "-T", "-"],
            user=self.user,
            stdin=listing,
        )
        _check(packed, "tar (dep-info files)")
        _extract(packed.stdout, host_dir)

    def remove(self, paths: Sequence[str] = ()) -> None:
        """Remove the helper and the per-run volumes (and ``paths`` in the kept volume)."""
        if paths:
            self._run_helper("rm", ["-rf", *paths], user=self.user)
        self.docker(["rm", "-f", self.helper])
        for volume in self.created:
            self.docker(["volume", "rm", "-f", volume])


def workspace_entries(root: Path, exclude: Sequence[Path]) -> Iterator[Tuple[Path, str]]:
    """What is copied into the workspace volume: everything under ``root`` but build outputs
    and tool folders (``IGNORED_DIRS``) and ``exclude`` (the target dir), sorted; symlinks
    are copied as links, as a bind mount shows them."""
    skip = {os.path.normpath(p) for p in exclude}
    for dirpath, dirnames, filenames in os.walk(root):
        kept = []
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            if d in IGNORED_DIRS or os.path.normpath(full) in skip:
                continue
            if os.path.islink(full):  # os.walk does not descend into it: add the link
                filenames.append(d)
                continue
            kept.append(d)
        dirnames[:] = kept
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            yield Path(dirpath), PurePosixPath(Path(rel).as_posix()).as_posix()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            arc = name if rel == "." else f"{Path(rel).as_posix()}/{name}"
            yield Path(full), arc


def _extract(data: bytes, host_dir: Path) -> None:
    """Regular files of a tar stream into ``host_dir`` (plain relative names only)."""
    import io

    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        for member in tar:
            name = PurePosixPath(member.name)
            if not member.isfile() or name.is_absolute() or ".." in name.parts:
                continue
            source = tar.extractfile(member)
            if source is None:
                continue
            target = host_dir / Path(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read())


def session(
    *,
    workspace_root: Path,
    image: str,
    platform: str,
    user: str,
    env: Dict[str, str],
    cargo_cache: bool,
) -> Session:
    """A session's names: the kept build volume is per workspace root (a digest of its
    path: volume names never carry host paths)."""
    run = uuid.uuid4().hex[:12]
    return Session(
        image=image,
        platform=platform,
        user=user,
        env=env,
        workspace_volume=f"{PREFIX}-src-{run}",
        out_volume=f"{PREFIX}-out-{run}",
        build_volume=f"{PREFIX}-build-{digest([str(workspace_root)])[:16]}",
        cargo_volume=f"{PREFIX}-cargo-home" if cargo_cache else None,
        helper=f"{PREFIX}-copy-{run}",
    )
