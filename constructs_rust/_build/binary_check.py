"""The binary check: before a function's artifact is staged, is its bootstrap (or extension) an
executable the runtime it is deployed to can start?

Lambda says nothing about a bad binary until the first invoke (``version `GLIBC_2.36' not
found``, ``exec format error``, ``Runtime.InvalidEntrypoint``), so every artifact is read here
first, whatever made it (a local or Docker build, the local store, the team cache):

- the ELF machine is the function's architecture;
- a glibc binary asks for the architecture's loader and needs no ``GLIBC_x.y`` symbol version
  newer than the runtime's glibc (2.34 on provided.al2023, 2.26 on provided.al2, which
  extensions are built for so that one layer runs on both);
- a musl binary, and any binary of a FROM-scratch image, is static (no loader, no library);
- the binary is executable;
- a zip asset (function or layer) is within Lambda's 250 MB unzipped quota.

ELF is read with pyelftools, headers and the small dynamic sections only (never the whole
binary). A violation raises ``BinaryError`` naming the binary, what was found, what the runtime
has and the fix; the pipeline attributes it to the construct.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection, GNUVerSymSection
from elftools.elf.sections import SymbolTableSection
from elftools.elf.segments import InterpSegment

from .._cargo.targets import Target
from ..errors import BinaryError

#: glibc of provided.al2023 (Amazon Linux 2023), the default runtime and image base.
AL2023_GLIBC = "2.34"
#: Lambda's quota on a function's unzipped deployment package, layers included: "250 MB",
#: which Lambda's API enforces as 262,144,000 bytes.
UNZIPPED_QUOTA = 262_144_000
#: The ELF machine of each Lambda architecture, and the glibc loader it asks for.
MACHINES = {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}
LOADERS = {"x86_64": "/lib64/ld-linux-x86-64.so.2", "arm64": "/lib/ld-linux-aarch64.so.1"}
_ARCH_OF_MACHINE = {"EM_X86_64": "x86_64", "EM_AARCH64": "arm64", "EM_386": "x86 (32-bit)"}
_GLIBC = re.compile(r"GLIBC_(\d+(?:\.\d+)+)$")
#: The image base whose glibc is known (any other base: glibc versions are not checked).
_AL2023_IMAGE = "public.ecr.aws/lambda/provided:al2023"
SCRATCH_IMAGE = "scratch"


@dataclass(frozen=True)
class Linkage:
    """What the ELF file says about itself."""

    machine: str
    interpreter: Optional[str]
    needed: Tuple[str, ...]
    glibc: Optional[Tuple[str, str]]
    """The newest ``GLIBC_x.y`` version it needs and one symbol that needs it."""

    @property
    def static(self) -> bool:
        return self.interpreter is None and not self.needed


def _version_key(version: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def read_linkage(path: Path, name: str = "", *, glibc: Optional[str] = None) -> Linkage:
    """The machine, loader, libraries and newest glibc version of the ELF file ``path``, with
    a symbol that needs it when it is newer than ``glibc`` (``BinaryError`` when it is not an
    ELF file)."""
    try:
        with path.open("rb") as handle:
            elf = ELFFile(handle)
            machine = str(elf["e_machine"])
            interpreter = None
            for segment in elf.iter_segments("PT_INTERP"):
                if isinstance(segment, InterpSegment):
                    interpreter = segment.get_interp_name()
            needed: List[str] = []
            dynamic = elf.get_section_by_name(".dynamic")
            if isinstance(dynamic, DynamicSection):
                tags = dynamic.iter_tags("DT_NEEDED")
                needed = [str(tag.needed) for tag in tags]  # type: ignore[attr-defined]
            return Linkage(machine, interpreter, tuple(needed), _newest_glibc(elf, glibc))
    except (ELFError, ValueError, IndexError, KeyError) as exc:
        raise BinaryError(
            f"is not an ELF executable Lambda can start ({exc})",
            prop=name or path.name,
            fix="make sure the build (or an after_build hook) leaves the compiled binary there",
        ) from None


def _newest_glibc(elf: ELFFile, above: Optional[str]) -> Optional[Tuple[str, str]]:
    """(newest GLIBC_x.y among the versions needed, one undefined symbol bound to it when that
    version is newer than ``above``: the symbols are scanned only for the error, else "")."""
    verneed = elf.get_section_by_name(".gnu.version_r")
    if not isinstance(verneed, GNUVerNeedSection):
        return None
    versions: Dict[int, str] = {}
    for _file, auxiliaries in verneed.iter_versions():
        for aux in auxiliaries:
            match = _GLIBC.match(str(aux.name))
            if match:
                versions[int(aux["vna_other"])] = match.group(1)
    if not versions:
        return None
    newest = max(versions.values(), key=_version_key)
    symbol = "?"
    if above is None or _version_key(newest) <= _version_key(above):
        return newest, ""
    versym = elf.get_section_by_name(".gnu.version")
    dynsym = elf.get_section_by_name(".dynsym")
    if isinstance(versym, GNUVerSymSection) and isinstance(dynsym, SymbolTableSection):
        wanted = {index for index, version in versions.items() if version == newest}
        for number, sym in enumerate(dynsym.iter_symbols()):
            ndx = versym.get_symbol(number)["ndx"]
            if isinstance(ndx, int) and ndx & 0x7FFF in wanted:
                symbol = str(sym.name)
                break
    return newest, symbol


def runtime_label(target: Target, *, extension: bool, image: Optional[str]) -> str:
    """Where the binary runs, as the user reads it in an error."""
    if image == SCRATCH_IMAGE:
        return "a FROM-scratch image (no C library, no loader)"
    if image is not None:
        return f"the image {image}"
    if extension:
        return "provided.al2 and provided.al2023 (an extension is linked for AL2's glibc)"
    return "provided.al2" if target.glibc else "provided.al2023"


def check_binary(
    path: Path,
    target: Target,
    *,
    name: str = "",
    extension: bool = False,
    image: Optional[str] = None,
) -> None:
    """Raise ``BinaryError`` unless ``path`` runs on ``target``'s runtime (``name``: the
    binary as the error names it; ``image``: a container image function's base,
    ``SCRATCH_IMAGE`` for FROM scratch; None for a zip asset)."""
    name = name or path.name
    where = runtime_label(target, extension=extension, image=image)
    if not os.access(path, os.X_OK):
        raise BinaryError(
            f"is not executable (mode {oct(path.stat().st_mode & 0o777)}); Lambda could not "
            f"start it on {where}",
            prop=name,
            fix="keep the executable bit: an after_build hook that rewrites the binary must "
            "`chmod +x` it",
        )
    with path.open("rb") as handle:
        script = handle.read(2) == b"#!"
    if script:  # a wrapper script (an after_build hook's): its interpreter must be there
        if image == SCRATCH_IMAGE:
            raise BinaryError(
                f"is a script, but {where} has no interpreter to run it with",
                prop=name,
                fix="make the bootstrap the static binary itself (no wrapper script)",
            )
        return
    known = image is None or image.startswith(_AL2023_IMAGE)
    have = target.glibc or AL2023_GLIBC
    linkage = read_linkage(path, name, glibc=have if known else None)
    want = MACHINES[target.lambda_arch]
    if linkage.machine != want:
        found = _ARCH_OF_MACHINE.get(linkage.machine, linkage.machine)
        raise BinaryError(
            f"is built for {found} ({linkage.machine}), but the function runs on "
            f"{target.lambda_arch} ({want}): Lambda would fail with `exec format error`",
            prop=name,
            fix=f"set architecture= to match the binary, or remove what puts a {found} "
            "binary there (an after_build hook that replaces it, a linker wrapper that ignores "
            f"the target); the function's build target is {target.triple}",
        )
    if target.musl or image == SCRATCH_IMAGE:
        if not linkage.static:
            parts = [f"loader {linkage.interpreter}"] if linkage.interpreter else []
            parts += [f"needs {', '.join(linkage.needed)}"] if linkage.needed else []
            raise BinaryError(
                f"is dynamically linked ({'; '.join(parts)}), but {where} has no loader or "
                "shared library to start it with",
                prop=name,
                fix="build a static binary: libc=Libc.MUSL without `-C target-feature="
                "-crt-static` (RUSTFLAGS, .cargo/config.toml), or use a base image with glibc",
            )
        return
    loader = LOADERS[target.lambda_arch]
    if linkage.interpreter is not None and linkage.interpreter != loader:
        raise BinaryError(
            f"asks for the loader {linkage.interpreter}, but {where} starts programs with {loader}",
            prop=name,
            fix="link with cargo-lambda's default linker (zig) for "
            f"{target.cargo_lambda_target}, not a linker of another system (e.g. a Nix or "
            "musl gcc in .cargo/config.toml)",
        )
    if known and linkage.glibc is not None:
        newest, symbol = linkage.glibc
        if _version_key(newest) > _version_key(have):
            raise BinaryError(
                f"needs GLIBC_{newest} (e.g. `{symbol}`), but {where} has glibc {have}: "
                f"Lambda would fail at the first invoke with `version GLIBC_{newest} not "
                "found`",
                prop=name,
                fix=f"link against glibc {have}: let cargo-lambda link with zig for "
                f"{target.cargo_lambda_target} (remove the `linker` or `-C linker=` for "
                f"{target.triple} from .cargo/config.toml and RUSTFLAGS; a build image's own "
                "gcc links against ITS glibc), or use libc=Libc.MUSL",
            )


def check_size(directory: Path, *, who: str) -> None:
    """Raise ``BinaryError`` when the files under ``directory`` (a staged zip asset) exceed
    Lambda's unzipped quota (sizes from ``stat``; nothing is read)."""
    total = 0
    for dirpath, _dirs, filenames in os.walk(directory):
        for name in filenames:
            total += os.lstat(os.path.join(dirpath, name)).st_size
    if total > UNZIPPED_QUOTA:
        raise BinaryError(
            f"is {total:,} bytes unzipped; Lambda allows {UNZIPPED_QUOTA:,} bytes (250 MB) "
            "unzipped for a function and all its layers",
            prop=who,
            fix="make the binary smaller ([profile.release] strip = true, debug = 0, "
            "opt-level = 's', lto = true), move large files out of extra_files (S3, EFS), or "
            "ship it as a container image (RustDockerImageFunction, 10 GB)",
        )
