"""The ELF files loaded in the guest at a moment: the dynamic loader and every shared object
mapped from its start, each with its load bias, read from the files the recording holds."""

from __future__ import annotations

from .filestore import FileStore
from .linux.platform import LinuxPlatform

ELF_MAGIC = b"\x7fELF"
ET_DYN = 3


def loaded_modules(platform: LinuxPlatform, files: FileStore) -> list[tuple[str, bytes, int]]:
    """(path, image, bias) of the loader and of each position-independent ELF file mapped at
    file offset 0 (where its first segment, at address 0 in the file, lands)."""
    modules: list[tuple[str, bytes, int]] = []
    interp = platform.program.interp
    if interp is not None:
        image = files.by_path(interp.path)
        if image is not None:
            modules.append((interp.path, image, interp.bias))
    names = {digest: path for path, digest in files.paths.items()}
    for start, _end, digest_hex, offset in platform.mem.views:
        if offset != 0:
            continue
        digest = bytes.fromhex(digest_hex)
        image = files.get(digest)
        if image is None or not image.startswith(ELF_MAGIC):
            continue
        if int.from_bytes(image[16:18], "little") != ET_DYN:
            continue
        modules.append((names.get(digest, digest_hex[:12]), image, start))
    return modules
