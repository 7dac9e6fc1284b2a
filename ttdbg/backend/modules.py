"""The ELF files loaded in the guest at a moment: the dynamic loader and every shared object
mapped from its start, each with its load bias, read from the files the recording holds."""

from __future__ import annotations

from .elfheaders import ET_DYN, PT_LOAD, read_headers
from .filestore import FileStore
from .linux.platform import LinuxPlatform

ELF_MAGIC = b"\x7fELF"


def load_span(image: bytes) -> int:
    """How far past its load bias an ELF file's PT_LOAD segments reach (0 if its headers are
    not what Linux would load)."""
    try:
        _header, segments = read_headers(image)
    except ValueError:
        return 0
    return max((s.vaddr + s.memsz for s in segments if s.type == PT_LOAD), default=0)


def loaded_modules(platform: LinuxPlatform, files: FileStore) -> list[tuple[str, bytes, int]]:
    """(path, image, bias) of the loader and of each position-independent ELF file mapped at
    file offset 0 (where its first segment, at address 0 in the file, lands). A later segment
    can be mapped from offset 0 too (a small library's data, on 4 KiB pages): a mapping inside
    a module already found, of the same file, is that module's."""
    modules: list[tuple[str, bytes, int]] = []
    starts: dict[bytes, list[int]] = {}  # digest -> biases of its modules
    interp = platform.program.interp
    if interp is not None:
        image = files.by_path(interp.path)
        if image is not None:
            modules.append((interp.path, image, interp.bias))
            starts[files.paths[interp.path]] = [interp.bias]
    names = {digest: path for path, digest in files.paths.items()}
    for start, _end, digest_hex, offset in sorted(platform.mem.views):
        if offset != 0:
            continue
        digest = bytes.fromhex(digest_hex)
        image = files.get(digest)
        if image is None or not image.startswith(ELF_MAGIC):
            continue
        if int.from_bytes(image[16:18], "little") != ET_DYN:
            continue
        known = starts.setdefault(digest, [])
        if known and any(bias <= start < bias + load_span(image) for bias in known):
            continue
        known.append(start)
        modules.append((names.get(digest, digest_hex[:12]), image, start))
    return modules
