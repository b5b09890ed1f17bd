"""Vetting a package before it is parsed, and writing files so that a failure never loses one.

A write goes to a temporary file beside the target (named after this process, so
a leftover of a killed run is recognised and removed by the next), is fsynced,
takes the target's mode and owner, and is renamed over it; the folder is fsynced
after. Writers of one workbook serialise on an advisory lock on the workbook.
"""
from __future__ import annotations

import _thread
import contextlib
import errno
import fcntl
import os
import re
import signal
import socket
import stat
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Iterator

from ..errors import XlnetError
from .formats import other_format

MAX_RATIO = 200        # how much one part may expand; honest sheets stay under 30
SMALL_PART = 1 << 20   # parts under this may expand more (tiny XML compresses well)
PROLOG_BYTES = 1 << 16  # read at a time while looking through an XML part's prolog for a DTD
MAX_PROLOG = 1 << 24    # a prolog longer than this is refused: no workbook part pads its head so
TEMP = re.compile(r"^\.(?P<name>.+)\.xlnet-(?P<pid>\d+)\.tmp$")


def check_package(path: Path) -> None:
    """Refuse a file that is not a zip, a zip bomb, or XML that declares entities (an entity bomb: some
    parsers resolve them), before anything is unpacked or parsed. A spreadsheet of another format is named, with
    the menu path that saves it as .xlsx."""
    try:
        other = other_format(path)
        if other:
            raise XlnetError(f"{path}: {other}.")
        with zipfile.ZipFile(path) as z:
            parts = z.infolist()
            twice = [name for name, n in Counter(p.filename for p in parts).items() if n > 1]
            if twice:
                raise XlnetError(f"{path}: refused: it holds two parts named {twice[0]}, and apps differ on which "
                                 "they read; the file was crafted or corrupted.")
            total = sum(p.file_size for p in parts)
            packed = sum(p.compress_size for p in parts)
            swollen = [p.filename for p in parts
                       if p.file_size > SMALL_PART and p.file_size > MAX_RATIO * p.compress_size]
            if swollen or total > SMALL_PART and total > MAX_RATIO * packed:
                raise XlnetError(f"{path}: refused: it would unpack to {total:,} bytes"
                                 + (f" ({swollen[0]} expands over {MAX_RATIO} times)" if swollen else "")
                                 + "; this is not a workbook xlnet made.")
            for part in parts:
                if part.filename.endswith((".xml", ".rels", ".vml")):
                    with z.open(part) as f:
                        declares = _prolog_declares(f)
                    if declares:
                        raise XlnetError(f"{path}: refused: {part.filename} {declares}, which no workbook "
                                         "needs; the file was crafted or corrupted.")
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile):
        raise XlnetError(f"{path}: not an .xlsx workbook (not a zip file); "
                         "make one with `xlnet build` or save it from Excel as .xlsx.") from None
    except OSError as e:
        raise os_error(path, e, "read") from None


PROLOG = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.S)  # what may come before the root element, but a DTD


def _prolog_declares(f) -> str | None:
    """What an XML part declares before its root element that it must not (a DTD, entities), however long the
    comments and processing instructions that pad its prolog; None for a plain part."""
    buffer, at = b"", 0
    while True:
        m = PROLOG.match(buffer, at)
        if m is not None and m.end() < len(buffer):
            at = m.end()
            continue
        rest = buffer[at:].lstrip(b"\xef\xbb\xbf")
        if rest.startswith(b"<!DOCTYPE") or rest.startswith(b"<!ENTITY"):
            return "declares a DTD or entities"
        if rest[:1] == b"<" and rest[1:2] not in (b"?", b"!", b""):
            return None  # the root element: the prolog is over
        if len(buffer) - at > MAX_PROLOG:
            return "has a prolog of over 16 MiB"
        chunk = f.read(PROLOG_BYTES)
        if not chunk:
            return None
        buffer = buffer[at:] + chunk
        at = 0


def os_error(path: Path, e: OSError, doing: str, elsewhere: bool = True) -> XlnetError:
    """One line for what the OS refused: the path, the cause and what to do (`elsewhere`: the command can write
    elsewhere with --out; else the advice is to run it on a copy)."""
    other = "write elsewhere with --out" if elsewhere else "run it on a copy in a folder you can write"
    hint = {errno.ENOSPC: f"free some space or {other}", errno.EDQUOT: f"free some space or {other}",
            errno.EROFS: other, errno.EACCES: f"check its permissions or {other}",
            errno.EPERM: f"check its permissions or {other}", errno.ENOENT: "check the path",
            errno.EISDIR: "name a file, not a folder", errno.ENOTDIR: "check the path"}.get(e.errno, "")
    return XlnetError(f"{path}: cannot {doing} it ({e.strerror or e})" + (f"; {hint}." if hint else "."))


def check_new_workbook(out: Path, force: bool) -> None:
    """`out` can take a new .xlsx workbook: never a folder, and an existing file only with --force."""
    if out.suffix.lower() != ".xlsx" or out.is_dir() or (out.parent.exists() and not out.parent.is_dir()):
        raise XlnetError(f"{out} is not a path an .xlsx workbook can be written to; choose another --out.")
    if out.exists() and not force:
        raise XlnetError(f"{out} already exists and may hold your Solver results; "
                         "use --force to overwrite it, or --out to write elsewhere.")


def check_not_open(path: Path, elsewhere: bool = True) -> None:
    """Excel's `~$NAME` and LibreOffice's `.~lock.NAME#` say another program has the workbook open."""
    for lock in (path.with_name("~$" + path.name), path.with_name(f".~lock.{path.name}#")):
        if lock.exists():
            app = "Excel" if lock.name.startswith("~$") else "LibreOffice"
            if app == "LibreOffice" and _stale_lock(lock):
                raise XlnetError(f"{path}: {lock.name} is beside it, a LibreOffice lock from this machine, where no "
                                 f"LibreOffice runs: a crash left it. Delete {lock.name} and try again.")
            raise XlnetError(f"{path} looks open in {app} ({lock.name} is beside it); close it and try again"
                             + (", or write to another file with --out." if elsewhere else "."))


def _stale_lock(lock: Path) -> bool:
    """A LibreOffice lock (`,user,host,date,home;`) written on this machine while no LibreOffice process runs."""
    try:
        fields = lock.read_text(encoding="utf-8", errors="replace").split(",")
        running = any(_command(p).startswith(("soffice", "oosplash")) for p in Path("/proc").iterdir()
                      if p.name.isdigit())
    except OSError:
        return False
    return len(fields) > 2 and fields[2] == socket.gethostname() and not running


def _command(proc: Path) -> str:
    try:
        return (proc / "comm").read_text().strip()
    except OSError:
        return ""


def target_of(path: Path, elsewhere: bool = True) -> Path:
    """Where a write to `path` lands: through symlinks to the real file, which must not have other names."""
    real = Path(os.path.realpath(path))
    if real.is_dir():
        raise XlnetError(f"{path}: it is a folder; name a workbook file.")
    try:
        links = real.stat().st_nlink
    except FileNotFoundError:
        return real
    except OSError as e:
        raise os_error(path, e, "write", elsewhere) from None
    if links > 1:
        raise XlnetError(f"{path}: it has {links} hard links; an atomic save would leave the other names with the "
                         "old workbook, so xlnet does not write it. "
                         + ("Write elsewhere with --out, or remove" if elsewhere else "Remove")
                         + " the other links.")
    return real


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(target: Path) -> None:
    """Temporary files of killed xlnet runs beside `target` (their process is gone)."""
    try:
        for p in target.parent.iterdir():
            m = TEMP.match(p.name)
            if m and m["name"] == target.name and not _alive(int(m["pid"])):
                p.unlink(missing_ok=True)
    except OSError:
        pass


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def replacing(path: str | Path, elsewhere: bool = True) -> Iterator[Path]:
    """Yields a temporary path to write; on success it replaces `path` (through symlinks), keeping mode and owner.
    `elsewhere`: the command can write elsewhere with --out (the advice its errors give)."""
    path = Path(path)
    target = target_of(path, elsewhere)
    if not target.parent.is_dir():
        raise XlnetError(f"{path}: the folder {target.parent} does not exist; create it or choose another --out.")
    remove_stale_temps(target)
    tmp = target.with_name(f".{target.name}.xlnet-{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        try:
            st = target.stat()
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        else:
            os.chmod(tmp, st.st_mode & 0o7777)
            with contextlib.suppress(OSError):
                os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except OSError as e:
        _discard(tmp)
        raise os_error(path, e, "write", elsewhere) from None
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: Path) -> None:
    """Remove a temporary file, if there is one and the folder lets it be removed (a read-only one does not)."""
    with contextlib.suppress(OSError):
        os.unlink(tmp)


@contextlib.contextmanager
def exclusive(path: str | Path) -> Iterator[None]:
    """Hold an advisory lock on the workbook while it is read and rewritten: a second writer waits.

    The lock is on the file itself; since a write replaces the file, a waiter that wakes up
    holding the lock of a file that is no longer at `path` locks the new one instead.
    """
    target = Path(os.path.realpath(path))
    while True:
        try:
            fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO would wait for a writer
        except FileNotFoundError:
            yield  # nothing to serialise on yet
            return
        except OSError as e:
            raise os_error(Path(path), e, "open") from None
        try:
            check_regular_mode(Path(path), os.fstat(fd).st_mode)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.fstat(fd).st_ino == os.stat(target).st_ino
            except FileNotFoundError:
                same = False
            if same:
                yield
                return
        finally:
            os.close(fd)  # closing releases the lock


def check_regular_mode(path: Path, mode: int) -> None:
    """A workbook is a regular file: not a FIFO, a socket or a device, which a reader or a lock would wait on."""
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device")):
        if test(mode):
            raise XlnetError(f"{path}: it is {kind}, not a workbook file; name an .xlsx workbook.")


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: temporary files are removed on the way out."""


_signals_seen: list[int] = []  # Ctrl-C and SIGTERM handled while a command runs


def signal_came() -> bool:
    """Whether Ctrl-C or SIGTERM came while the command ran: whatever exception a library turned its exception
    into (openpyxl's `except:` makes a TypeError of it), the command was stopped, not broken."""
    return bool(_signals_seen)


@contextlib.contextmanager
def terminate_like_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM ends it as Ctrl-C does (cleaning up); a process forked meanwhile just exits."""
    owner = os.getpid()

    def handler(signum, frame):
        if os.getpid() != owner:
            os._exit(128 + signum)
        _signals_seen.append(signum)
        raise Terminated()
    with _handling(signal.SIGTERM, handler):
        yield


@contextlib.contextmanager
def signals_never_swallowed() -> Iterator[None]:
    """Ctrl-C's or SIGTERM's exception, raised by its handler where Python cannot let it through (in a weakref
    callback or a __del__, which print it as "Exception ignored", traceback and all, and go on as if no signal
    had come), is not printed: the signal is sent again, from a thread (sent from here, its handler would run at
    once, inside this hook), and its handler raises it in the command, which then ends as on any other Ctrl-C."""
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            signum = signal.SIGTERM if isinstance(unraisable.exc_value, Terminated) else signal.SIGINT
            _thread.start_new_thread(_send_again, (signum,))  # (threading's start would wait for it, here)
        else:
            previous(unraisable)
    sys.unraisablehook = hook
    try:
        yield
    finally:
        # once a signal came, what the code it interrupted left half-made (a multiprocessing Finalize whose
        # __init__ it cut short) may raise when collected, on the way out: the command was stopped, not broken
        sys.unraisablehook = (lambda unraisable: None) if signal_came() else previous


def _send_again(signum: int) -> None:
    time.sleep(0.001)  # the main thread is out of the hook by then
    _thread.interrupt_main(signum)


def interrupt_raises():
    """While a command runs, Ctrl-C raises KeyboardInterrupt (as Python's own handler does), so that the command
    cleans up on its way out, whatever handler was in place before it (the entry point's, which exits at once)."""
    def handler(signum, frame):
        _signals_seen.append(signum)
        raise KeyboardInterrupt
    return _handling(signal.SIGINT, handler)


@contextlib.contextmanager
def _handling(signum: int, handler) -> Iterator[None]:
    """`handler` for the signal while the block runs, then the one before it (only the main thread sets them)."""
    try:
        previous = signal.signal(signum, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signum, previous)
