"""The one path policy: which files a path written *inside* a user's file may name.

A path given on the command line is the user's own choice and is opened as given. A path written
inside a file (an answers file's ``spec:``, say) comes from whoever wrote that file — a student,
for a grader — and is allowed only if it is

- a bundled spec's name (``hw3-q3``), or
- a relative path to a regular file below the allowed folder (the naming file's own folder, or
  a folder the instructor names), after every symbolic link is followed.

Absolute paths, ``..`` leading out of the folder, links leading out of it, devices, FIFOs,
sockets and folders are refused, with one message that says nothing of the target (whether it
exists, or what it holds). The file is opened without blocking (a FIFO cannot hang a run), read
up to :data:`MAX_BYTES`, and checked to be a regular file on the descriptor actually opened.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from convcalc.errors import ConvcalcError, SpecError, shown

MAX_BYTES = 64 * 1024 * 1024  # as much as a spec file may hold


class PathRefused(ConvcalcError):
    """A path inside a user's file that the policy does not allow, or that cannot be read."""


@dataclass(frozen=True)
class Named:
    """What a path inside a file named: a bundled spec (``bundled``) or a file's text."""

    bundled: str | None = None
    text: str | None = None


def refused(written: str, folder: Path) -> PathRefused:
    """The one refusal: the path as written, the rule, and nothing about the target."""
    return PathRefused(
        f"'{shown(written)}' is neither a bundled spec nor a file below {shown(str(folder))} "
        "(paths here are relative to that folder, without '..' leading out of it)"
    )


def resolve(written: str, folder: Path, bundled: frozenset[str] | set[str]) -> Named:
    """What ``written`` names under the policy: a bundled name, or the text of a regular file
    below ``folder``. :class:`PathRefused` for anything else."""
    if written in bundled:
        return Named(bundled=written)
    if not written or "\x00" in written or os.path.isabs(written) or written.startswith("~"):
        raise refused(written, folder)
    root = folder.resolve()
    try:
        target = (root / written).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a loop of links, a name too long
        raise refused(written, folder) from None
    if not target.is_relative_to(root):
        raise refused(written, folder)
    return Named(text=_read_regular(target, written, folder))


def _read_regular(target: Path, written: str, folder: Path) -> str:
    """The file's text: opened without blocking and without following a link swapped in since
    resolving, then checked to be a regular file on that very descriptor."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags)
    except OSError:
        raise refused(written, folder) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise refused(written, folder)
    with os.fdopen(fd, "rb") as fh:  # a buffered read: one os.read may return less
        raw = fh.read(MAX_BYTES + 1)
    return decode(raw, written)


def decode(raw: bytes, label: str, medium: str = "YAML text") -> str:
    """A text file's bytes as text: at most :data:`MAX_BYTES`, no NUL byte (a binary file),
    UTF-8 (a byte-order mark dropped); else a :class:`SpecError` naming ``label`` and the
    ``medium`` the file was read as (a spec's YAML text, ``print(model)`` text...). Every file
    convcalc reads as text, named on the command line or inside a file, is decoded here."""
    if len(raw) > MAX_BYTES:
        raise SpecError(
            f"larger than {MAX_BYTES // 2**20} MiB: too large to read as {medium}", file=label
        )
    if b"\0" in raw:
        raise SpecError(f"is a binary file, not {medium}", file=label)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"is not UTF-8 text (byte {exc.start}): not {medium}", file=label) from None


# --- files written from a user's text (a student's id): the same policy, outwards ---------------

# names Windows reserves for devices, whatever the extension
_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"{p}{i}" for p in ("COM", "LPT") for i in range(10))}


def file_name(text: str, suffix: str = "", taken: set[str] | None = None) -> str:
    """A file name made from a user's text that can only name a new file in the folder it is
    written to: letters, digits, ``.``, ``_`` and ``-`` kept (anything else, separators and
    ``..`` included, becomes ``_``), no leading dot, at most 80 characters, never a Windows
    device name; ``taken`` (names already used, compared case-folded) gets ``-2``, ``-3``…"""
    import re
    import unicodedata

    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", folded).strip("._")[:80] or "student"
    if stem.split(".")[0].upper() in _DEVICES:
        stem = "_" + stem
    name, n = stem + suffix, 1
    while taken is not None and name.casefold() in taken:
        n += 1
        name = f"{stem}-{n}{suffix}"
    if taken is not None:
        taken.add(name.casefold())
    return name


def write_below(folder: Path, name: str, text: str, mark: str = "") -> Path:
    """``text`` written to the file ``name`` directly in ``folder`` (a name from
    :func:`file_name`): a link or anything but a regular file there is refused, not followed;
    with ``mark``, so is a non-empty file that does not start with it (one convcalc did not
    write: a student whose id is README never replaces the folder's README.md)."""
    if name in ("", ".", "..") or os.sep in name or (os.altsep and os.altsep in name):
        raise PathRefused(f"'{shown(name)}' is not a plain file name")
    target = folder / name
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(target, flags, 0o644)
    except OSError:
        raise PathRefused(f"{shown(str(target))}: not a regular file that can be written") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PathRefused(f"{shown(str(target))}: not a regular file that can be written")
        if mark and os.fstat(fd).st_size and not _starts_with(target, mark):
            raise PathRefused(f"{shown(str(target))}: exists, and convcalc did not write it")
        handle.truncate(0)
        handle.write(text)
    return target


def _starts_with(path: Path, mark: str) -> bool:
    """Whether the regular file at ``path`` begins with ``mark`` (its first bytes only)."""
    size = len(mark.encode("utf-8"))
    try:
        with open(path, "rb") as handle:
            return handle.read(size) == mark.encode("utf-8")
    except OSError:
        return False
