"""Extended attributes: get, list, set and remove, by path, by path without following a
last symlink, and by open file."""

from __future__ import annotations

from collections.abc import Callable

from ..errnos import E2BIG, EOPNOTSUPP, ERANGE
from ..fdtable import OpenFile
from ..platform import LinuxPlatform
from . import procfs
from .table import AT_FDCWD, EBADF, EINVAL, Args, Kind, at_path, open_file, syscall

XATTR_NAME_MAX = 255
XATTR_SIZE_MAX = 65536  # the largest value (and name list) Linux hands out or takes
XATTR_CREATE, XATTR_REPLACE = 1, 2
VARIANTS = {"": True, "l": False, "f": None}  # prefix -> follow the last symlink (None: an fd)

Target = OpenFile | str


def _target(p: LinuxPlatform, arg: int, follow: bool | None) -> Target | int:
    """The open file or the path a call names; an errno for a bad fd or an empty path."""
    if follow is None:
        f = open_file(p, arg)
        return -EBADF if f is None else f
    gp = at_path(p, AT_FDCWD, arg)
    return gp if isinstance(gp, int) else gp.path


def _emulated(p: LinuxPlatform, target: Target) -> bool:
    """Whether the target is one of the guest's own /proc entries (they hold no xattrs)."""
    if isinstance(target, OpenFile):
        return target.kind in procfs.KINDS
    return procfs.classify(p, procfs.normalize(p, target, None)) is not None


def _name(p: LinuxPlatform, addr: int) -> bytes:
    """The attribute name, cut one byte past the longest Linux takes: the host's kernel
    then refuses an empty or long name with ERANGE, after the path's own errors, as Linux
    orders them."""
    return p.m.read_cstring(addr, XATTR_NAME_MAX + 1)


def _refusal(name: bytes) -> int:
    """What an emulated entry answers a get, set or remove: ERANGE for a bad name, else
    EOPNOTSUPP (/proc holds no extended attributes)."""
    return -EOPNOTSUPP if 0 < len(name) <= XATTR_NAME_MAX else -ERANGE


def _answer(p: LinuxPlatform, result: int, data: bytes, buf: int, size: int) -> int:
    """Hand a value or name list to the guest as Linux does: size 0 asks for its length,
    a smaller buffer is ERANGE."""
    if result < 0 or size == 0:
        return result
    if len(data) > size:
        return -ERANGE
    p.m.write(buf, data)
    return len(data)


def _get(p: LinuxPlatform, a: Args, target: Target, follow: bool, emulated: bool) -> int:
    name = _name(p, a[1])
    if emulated:
        return _refusal(name)
    result, data = p.host_call(lambda: p.live.xattr_get(target, name, follow))
    return _answer(p, result, data, a[2], min(a[3], XATTR_SIZE_MAX))


def _list(p: LinuxPlatform, a: Args, target: Target, follow: bool, emulated: bool) -> int:
    if emulated:
        return 0
    result, data = p.host_call(lambda: p.live.xattr_list(target, follow))
    return _answer(p, result, data, a[1], min(a[2], XATTR_SIZE_MAX))


def _set(p: LinuxPlatform, a: Args, target: Target, follow: bool, emulated: bool) -> int:
    name, flags = _name(p, a[1]), a[4]
    if emulated:
        if flags & ~(XATTR_CREATE | XATTR_REPLACE):
            return -EINVAL
        refused = _refusal(name)
        return -E2BIG if refused == -EOPNOTSUPP and a[3] > XATTR_SIZE_MAX else refused
    # The host's kernel checks the flags, name and size after the path, as Linux orders them;
    # a value it would refuse as too large is not read from the guest.
    value = p.m.read(a[2], a[3]) if a[3] <= XATTR_SIZE_MAX else bytes(XATTR_SIZE_MAX + 1)
    return p.host_call(lambda: p.live.xattr_set(target, name, value, flags, follow))[0]


def _remove(p: LinuxPlatform, a: Args, target: Target, follow: bool, emulated: bool) -> int:
    name = _name(p, a[1])
    if emulated:
        return _refusal(name)
    return p.host_call(lambda: p.live.xattr_remove(target, name, follow))[0]


# An operation on the file a call names, whether to follow its last symlink (False for an
# open file) and whether it is one of the guest's own /proc entries.
Operation = Callable[[LinuxPlatform, Args, Target, bool, bool], int]
OPERATIONS: dict[str, Operation] = {"get": _get, "list": _list, "set": _set, "remove": _remove}


def _on_target(op: Operation, follow: bool | None) -> Callable[[LinuxPlatform, Args], int]:
    """`op` on the target the call's first argument names, or its errno for a bad fd or
    path before anything else is read."""

    def call(p: LinuxPlatform, a: Args) -> int:
        target = _target(p, a[0], follow)
        if isinstance(target, int):
            return target
        return op(p, a, target, bool(follow), _emulated(p, target))

    return call


for _prefix, _follow in VARIANTS.items():
    for _op, _fn in OPERATIONS.items():
        syscall(f"{_prefix}{_op}xattr", kind=Kind.HOST)(_on_target(_fn, _follow))
