"""A seam: the point in a sheet's deflated zip member where xlnet's writer fully flushed the stream, recorded in
the member's central-directory extra field. The bytes before it (a sheet's first rows, where its parameter cells
are) can be deflated anew while the rest is copied raw (zipout), and a reader can tell the rows after it are as
xlnet's writer rendered them for a layout (the model sheets' fast read). Beside it a note (bytes whose meaning
the writer chose: what it computed from the member's rows) is trusted on the same terms, the member's CRC and
compressed size. Shared by the writer and the reader.
"""
from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from typing import Iterator

SEAM_ID = 0x6C78  # "xl"
SEAM = struct.Struct("<2H2Q7L")  # id, size; head bytes (inflated, deflated), CRC of the rest, layout, data, fit,
                                 # fit's milliseconds; member CRC, compressed size
LIMIT = 0xFFFFFFFF
NOTE_ID = 0x6E78  # "xn": a note beside the seam, bytes its writer chose, trusted while the member is as written
NOTE_HEAD = struct.Struct("<2H2L")  # id, size; member CRC, compressed size; then the note's bytes
NOTE_MAX = 0xFFFF - SEAM.size - NOTE_HEAD.size - 32  # an extra field holds 64 KiB in all (room for ZIP64 sizes)


@dataclass(frozen=True)
class Seam:
    head_size: int         # inflated bytes before the seam
    head_compressed: int   # deflated bytes before it (the rest starts at this offset, byte-aligned)
    tail_crc: int          # CRC-32 of the inflated bytes after it
    layout: int = 0        # the rows after it as the writer rendered them for this layout (0: not known)
    data: int = 0          # ... from these data (a digest: sheets written with the same data show the same)
    fit: int = 0           # the head's parameters are xlnet's fit of this member's rows under these settings (a
    fit_ms: int = 0        # digest; 0: not known), which took this long


def seam_of(info: zipfile.ZipInfo) -> Seam | None:
    """The seam recorded for a member, if it still describes the member's bytes."""
    for tag, start, end in _records(info.extra):
        if tag == SEAM_ID and end - start == SEAM.size:
            _, _, head, head_c, tail_crc, layout, data, fit, fit_ms, crc, compressed = SEAM.unpack_from(info.extra,
                                                                                                        start)
            if crc == info.CRC and compressed == info.compress_size & LIMIT and head_c <= info.compress_size \
                    and head <= info.file_size and info.compress_type == zipfile.ZIP_DEFLATED:
                return Seam(head, head_c, tail_crc, layout, data, fit, fit_ms)
            return None
    return None


def seam_extra(seam: Seam, e) -> bytes:
    return SEAM.pack(SEAM_ID, SEAM.size - 4, seam.head_size, seam.head_compressed, seam.tail_crc, seam.layout,
                     seam.data, seam.fit, min(seam.fit_ms, LIMIT), e.crc, e.compressed & LIMIT)


def note_of(info: zipfile.ZipInfo) -> bytes | None:
    """The note recorded beside a member's seam, if the member is still the one it was written with."""
    for tag, start, end in _records(info.extra):
        if tag == NOTE_ID and end - start >= NOTE_HEAD.size:
            _, _, crc, compressed = NOTE_HEAD.unpack_from(info.extra, start)
            if crc == info.CRC and compressed == info.compress_size & LIMIT:
                return info.extra[start + NOTE_HEAD.size:end]
            return None
    return None


def note_extra(note: bytes | None, e) -> bytes:
    """The extra-field record of a note for the member `e` (none for no note, or one too long to hold)."""
    if note is None or len(note) > NOTE_MAX:
        return b""
    return NOTE_HEAD.pack(NOTE_ID, NOTE_HEAD.size - 4 + len(note), e.crc, e.compressed & LIMIT) + note


def _records(extra: bytes) -> Iterator[tuple[int, int, int]]:
    """(tag, start, end) of each record of a zip extra field."""
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<2H", extra, i)
        yield tag, i, i + 4 + size
        i += 4 + size


def without(extra: bytes, tags: set[int]) -> bytes:
    """An extra field without the records of these tags (the ZIP64 sizes: this writer adds its own)."""
    return b"".join(extra[start:end] for tag, start, end in _records(extra) if tag not in tags)
