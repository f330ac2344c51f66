"""Just enough of an ELF64 reader to tell a static executable from a dynamic one: its
interpreter (``PT_INTERP``) and the shared libraries it needs (``DT_NEEDED``). Cross-checked
against ``readelf`` in tests/integration/test_musl.py."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

PT_INTERP, PT_DYNAMIC, PT_LOAD = 3, 2, 1
DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5


@dataclass(frozen=True)
class Linkage:
    interpreter: Optional[str]
    needed: List[str]

    @property
    def static(self) -> bool:
        return self.interpreter is None and not self.needed


def linkage(path: Path) -> Linkage:
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path}: not a little-endian ELF64 file")
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    headers = [struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize) for i in range(phnum)]
    interpreter = None
    dynamic = None
    loads = []
    for p_type, _flags, offset, vaddr, _paddr, filesz, _memsz, _align in headers:
        if p_type == PT_INTERP:
            interpreter = data[offset : offset + filesz].rstrip(b"\0").decode()
        elif p_type == PT_DYNAMIC:
            dynamic = (offset, filesz)
        elif p_type == PT_LOAD:
            loads.append((vaddr, offset, filesz))
    needed_offsets: List[int] = []
    strtab_vaddr = None
    if dynamic is not None:
        offset, size = dynamic
        for i in range(0, size, 16):
            tag, value = struct.unpack_from("<qQ", data, offset + i)
            if tag == DT_NULL:
                break
            if tag == DT_NEEDED:
                needed_offsets.append(value)
            elif tag == DT_STRTAB:
                strtab_vaddr = value
    needed = []
    if needed_offsets and strtab_vaddr is not None:
        strtab = next(o + strtab_vaddr - v for v, o, s in loads if v <= strtab_vaddr < v + s)
        for name_offset in needed_offsets:
            start = strtab + name_offset
            needed.append(data[start : data.index(b"\0", start)].decode())
    return Linkage(interpreter=interpreter, needed=needed)
