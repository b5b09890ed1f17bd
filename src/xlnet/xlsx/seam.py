"""A seam: the point in a sheet's deflated zip member where xlnet's writer fully flushed the stream, recorded in
the member's central-directory extra field. The bytes before it (a sheet's first rows, where its parameter cells
are) can be deflated anew while the rest is copied raw (zipout), and a reader can tell the rows after it are as
xlnet's writer rendered them for a layout (the model sheets' fast read). Shared by the writer and the reader.
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
