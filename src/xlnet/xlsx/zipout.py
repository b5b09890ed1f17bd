"""Writing a zip package member by member, with what `zipfile` cannot do.

- A member of another zip is copied raw: its compressed bytes as they are, not inflated and deflated again.
- A member is deflated at its own level (long sheets at 1, the rest at 6): level 1 by ISA-L (the `isal` package),
  which deflates a sheet 3.8 times as fast as zlib's level 1 to the same size; CRCs by ISA-L too, 6 times as fast.
- A member may carry a *seam*: a point where the deflate stream is fully flushed, so that what follows depends
  on nothing before it. The bytes before a seam (a sheet's first rows, where its parameter cells are) can then
  be replaced and deflated anew while the rest is copied raw; the cost of a refit stops growing with the data.
  The seam is recorded in the member's central-directory extra field (an ID of xlnet's own, which every zip
  reader skips), with the member's CRC and sizes, so it is trusted only while the member is the one written.
  A *note* may sit beside it (bytes its writer chose, trusted on the same terms), written anew with each head.
"""
from __future__ import annotations

import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, replace
from typing import BinaryIO

from isal import isal_zlib

from .seam import LIMIT, NOTE_ID, SEAM_ID, Seam, note_extra, seam_extra, without

LOCAL = struct.Struct("<4s5H3L2H")
CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
END = struct.Struct("<4s4H2LH")
END64 = struct.Struct("<4sQ2H2L4Q")
LOCATOR64 = struct.Struct("<4sLQL")
ZIP64_ID = 0x0001
UTF8 = 0x800
CHUNK = 1 << 20
EPOCH = (1980, 1, 1, 0, 0, 0)


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A+B from those of A and B and B's length (zlib's crc32_combine, which Python lacks)."""
    def times(matrix: list[int], vector: int) -> int:
        out, i = 0, 0
        while vector:
            if vector & 1:
                out ^= matrix[i]
            vector >>= 1
            i += 1
        return out

    def square(matrix: list[int]) -> list[int]:
        return [times(matrix, matrix[n]) for n in range(32)]

    op = [0xEDB88320] + [1 << n for n in range(31)]  # the operator that appends one zero bit
    op = square(square(square(op)))                    # ... one zero byte
    while len2 > 0:
        if len2 & 1:
            crc1 = times(op, crc1)
        len2 >>= 1
        if len2:
            op = square(op)                            # ... twice as many
    return crc1 ^ crc2


def _dos(date_time: tuple) -> tuple[int, int]:
    y, mo, d, h, mi, s = date_time
    return (y - 1980) << 9 | mo << 5 | d, h << 11 | mi << 5 | s // 2


@dataclass
class _Entry:
    name: bytes
    flags: int
    method: int
    date_time: tuple
    crc: int
    compressed: int
    size: int
    offset: int
    create: tuple[int, int] = (20, 3)  # version made by, system (3: Unix)
    external_attr: int = 0o600 << 16
    extra: bytes = b""


class ZipOut:
    """A zip written to a seekable file, member after member; `close` writes the central directory."""

    def __init__(self, fp: BinaryIO):
        self.fp, self.entries = fp, []

    # --- members --------------------------------------------------------------------------------------------
    def writestr(self, name: str, data: bytes | str, level: int = 6, date_time: tuple = EPOCH) -> None:
        data = data.encode() if isinstance(data, str) else data
        with self.open(name, level, date_time, size_hint=len(data)) as member:
            member.write(data)

    def open(self, name: str, level: int = 6, date_time: tuple = EPOCH, *, size_hint: int | None = None
             ) -> "Member":
        """A member to write as a stream. Without a size_hint it reserves room for ZIP64 sizes."""
        return Member(self, name, level, date_time, zip64=size_hint is None or size_hint >= LIMIT)

    def spooled(self, name: str, level: int = 6, date_time: tuple = EPOCH) -> "Member":
        """A member deflated into a temporary file of its own, added by `add_spooled` once closed: a zip takes one
        member at a time, and this lets several be written side by side."""
        return Member(self, name, level, date_time, zip64=False, spool=tempfile.TemporaryFile())

    def add_spooled(self, member: "Member") -> None:
        e = member.entry
        e.offset = self.fp.tell()
        self._local(e)
        _copy_bytes(member.fp, 0, e.compressed, self.fp)
        member.fp.close()

    def copy(self, source: BinaryIO, info: zipfile.ZipInfo) -> None:
        """`info`'s member of the zip in `source`, compressed bytes and all, as it is."""
        start = data_start(source, info)
        entry = self._entry(info, without(info.extra, {ZIP64_ID}))
        self._local(entry)
        _copy_bytes(source, start, info.compress_size, self.fp)

    def splice(self, source: BinaryIO, info: zipfile.ZipInfo, seam: Seam, head: bytes, level: int,
               fit: tuple[int, int] = (0, 0), note: bytes | None = None) -> None:
        """`info`'s member with the bytes before its seam replaced by `head` (deflated here); the rest copied raw.
        The member keeps a seam, after the new head; `fit`: the seam's fit and fit_ms for the new head; `note`:
        the note beside it (the old one goes: it spoke of the old head)."""
        start = data_start(source, info)
        deflate = deflater(level)
        head_c = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
        tail_size = info.file_size - seam.head_size
        tail_c = info.compress_size - seam.head_compressed
        entry = self._entry(info, without(info.extra, {ZIP64_ID, SEAM_ID, NOTE_ID}))
        entry.crc = crc32_combine(zlib.crc32(head), seam.tail_crc, tail_size)
        entry.size, entry.compressed = len(head) + tail_size, len(head_c) + tail_c
        entry.extra += seam_extra(replace(seam, head_size=len(head), head_compressed=len(head_c), fit=fit[0],
                                           fit_ms=fit[1]), entry) + note_extra(note, entry)
        self._local(entry)
        self.fp.write(head_c)
        _copy_bytes(source, start + seam.head_compressed, tail_c, self.fp)

    def _entry(self, info: zipfile.ZipInfo, extra: bytes) -> _Entry:
        if info.flag_bits & 1:
            raise zipfile.BadZipFile(f"{info.filename} is encrypted")
        name, flags = _name(info.filename)
        return _Entry(name, flags | (info.flag_bits & 0x6), info.compress_type, info.date_time, info.CRC,
                      info.compress_size, info.file_size, self.fp.tell(), (info.create_version, info.create_system),
                      info.external_attr, extra)

    def _local(self, e: _Entry) -> None:
        """The local header of a member whose sizes are known."""
        self.fp.write(_local_header(e, e.size >= LIMIT or e.compressed >= LIMIT))
        self.entries.append(e)

    # --- the end --------------------------------------------------------------------------------------------
    def close(self) -> None:
        start = self.fp.tell()
        for e in self.entries:
            big = [v for v in (e.size, e.compressed, e.offset) if v >= LIMIT]
            zip64 = struct.pack("<2H", ZIP64_ID, 8 * len(big)) + b"".join(struct.pack("<Q", v) for v in big) if big else b""
            extra = zip64 + e.extra
            date, time = _dos(e.date_time)
            version = max(45 if big else 20, e.create[0])
            self.fp.write(CENTRAL.pack(
                b"PK\x01\x02", version, e.create[1], 45 if big else 20, 0, e.flags, e.method, time, date, e.crc,
                min(e.compressed, LIMIT), min(e.size, LIMIT), len(e.name), len(extra), 0, 0, 0, e.external_attr,
                min(e.offset, LIMIT)) + e.name + extra)
        end = self.fp.tell()
        n, size = len(self.entries), end - start
        if n >= 0xFFFF or size >= LIMIT or start >= LIMIT:
            self.fp.write(END64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, size, start))
            self.fp.write(LOCATOR64.pack(b"PK\x06\x07", 0, end, 1))
        self.fp.write(END.pack(b"PK\x05\x06", 0, 0, min(n, 0xFFFF), min(n, 0xFFFF), min(size, LIMIT),
                               min(start, LIMIT), 0))
        self.fp.flush()


class Member:
    """One member being deflated: `write` bytes, `seam()` once at most; the header is completed on close."""

    def __init__(self, out: ZipOut, name: str, level: int, date_time: tuple, zip64: bool, spool=None):
        self.out, self.fp, self.spool = out, spool or out.fp, spool is not None
        name_bytes, flags = _name(name)
        self.entry = _Entry(name_bytes, flags, zipfile.ZIP_DEFLATED, date_time, 0, 0, 0, self.fp.tell())
        self.zip64 = zip64
        if not self.spool:  # room for the local header, written when the sizes are known
            self.fp.write(b"\0" * (LOCAL.size + len(name_bytes) + (20 if zip64 else 0)))
        self.deflate = deflater(level)
        self.crc = self.size = self.compressed = 0
        self.seam: Seam | None = None
        self.note: bytes | None = None  # recorded beside the seam on close
        self.tail_crc = 0

    def write(self, data: bytes) -> None:
        self.crc = isal_zlib.crc32(data, self.crc)
        if self.seam is not None:
            self.tail_crc = isal_zlib.crc32(data, self.tail_crc)
        self.size += len(data)
        self._put(self.deflate.compress(data))

    def mark_seam(self, layout: int = 0, fit: tuple[int, int] = (0, 0)) -> None:
        """Flush the stream fully here: what is written before can later be replaced without touching the rest.
        `layout`: the fingerprint of the layout whose rows follow, as xlnet's writer rendered them (the digest of
        the data they hold comes at the end: seam_data); `fit`: see Seam."""
        if self.seam is None:
            self._put(self.deflate.flush(zlib.Z_FULL_FLUSH))
            self.seam = Seam(self.size, self.compressed, 0, layout, 0, *fit)

    def seam_data(self, data: int) -> None:
        """The digest of the data after the seam, once it is all written (before `close`)."""
        if self.seam is not None:
            self.seam = replace(self.seam, data=data)

    def _put(self, data: bytes) -> None:
        if data:
            self.fp.write(data)
            self.compressed += len(data)

    def close(self) -> None:
        self._put(self.deflate.flush())
        e = self.entry
        e.crc, e.size, e.compressed = self.crc, self.size, self.compressed
        if self.seam is not None:
            e.extra = seam_extra(replace(self.seam, tail_crc=self.tail_crc), e) + note_extra(self.note, e)
        if self.spool:
            self.fp.flush()  # its bytes in the file, for whichever process adds it to the zip
            return
        if not self.zip64 and (e.size >= LIMIT or e.compressed >= LIMIT):
            raise zipfile.LargeZipFile(f"{e.name.decode()} outgrew 4 GiB without room for ZIP64 sizes")
        end = self.fp.tell()
        self.fp.seek(e.offset)
        self.fp.write(_local_header(e, self.zip64))
        self.fp.seek(end)
        self.out.entries.append(e)

    def __enter__(self) -> "Member":
        return self

    def __exit__(self, kind, *_) -> None:
        if kind is None:
            self.close()


def deflater(level: int):
    """A raw deflate stream at `level`: ISA-L's at level 1, zlib's at any other."""
    if level == 1:
        return isal_zlib.compressobj(1, isal_zlib.DEFLATED, -15)
    return zlib.compressobj(level, zlib.DEFLATED, -15)


def _name(name: str) -> tuple[bytes, int]:
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), UTF8


def _local_header(e: _Entry, zip64: bool) -> bytes:
    extra = struct.pack("<2H2Q", ZIP64_ID, 16, e.size, e.compressed) if zip64 else b""
    date, time = _dos(e.date_time)
    return LOCAL.pack(b"PK\x03\x04", 45 if zip64 else 20, e.flags, e.method, time, date, e.crc,
                      LIMIT if zip64 else e.compressed, LIMIT if zip64 else e.size, len(e.name),
                      len(extra)) + e.name + extra


def data_start(source: BinaryIO, info: zipfile.ZipInfo) -> int:
    source.seek(info.header_offset)
    return data_offset(source.read(LOCAL.size), info)


def data_offset(header: bytes, info: zipfile.ZipInfo) -> int:
    """Where a member's data starts, from its local header (the LOCAL.size bytes at its header_offset)."""
    if len(header) != LOCAL.size or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"{info.filename}: bad local header")
    name_len, extra_len = struct.unpack_from("<2H", header, 26)
    return info.header_offset + LOCAL.size + name_len + extra_len


def head_before(source: BinaryIO, info: zipfile.ZipInfo, seam: Seam) -> bytes | None:
    """The inflated bytes before a member's seam, without inflating the rest; None if they are not whole."""
    source.seek(data_start(source, info))
    head = zlib.decompressobj(-15).decompress(source.read(seam.head_compressed))
    return head if len(head) == seam.head_size else None


def _copy_bytes(source: BinaryIO, start: int, n: int, out: BinaryIO) -> None:
    source.seek(start)
    while n > 0:
        chunk = source.read(min(CHUNK, n))
        if not chunk:
            raise zipfile.BadZipFile("the zip ends inside a member")
        out.write(chunk)
        n -= len(chunk)
