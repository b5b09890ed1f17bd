"""CSV lines split into text columns by numpy, where they are plain enough to be split exactly as Python's csv
module splits them; the reader parses anything else with the csv module (reading.CsvSource).

Plain means: every row on a line of its own with as many fields as the header; each field either free of
quotes or quoted whole, its inner quotes doubled (`"Braund, Mr. ""Owen"" Harris"`); no NUL byte; no carriage
return but the one before a line's break; no field longer than the csv module's limit; and an encoding in which
a byte below 0x80 is always that ASCII character (UTF-8, Windows-1252, Latin-1). For such lines a separator is
a delimiter or a line break with an even count of quotes before it, which numpy finds for a block of lines at
once; each column's distinct raw fields are numbered through a sort of 8-byte keys (the bytes themselves up to
8 bytes wide, a hash checked byte for byte beyond), and only the distinct ones are decoded, unquoted and stripped.
The tests hold the two readers to the same columns over generated CSVs.
"""
from __future__ import annotations

import csv
import math
from typing import BinaryIO, Callable, Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

QUOTE, LINE_FEED, CARRIAGE_RETURN = 34, 10, 13
READ = 1 << 22  # bytes read at a time
BLOCK_CAP = 1 << 26  # bytes of whole lines a block holds at most (a longer line goes to split() as it is, to be
                     # refused)
HASHED_UP_TO = 256  # bytes: a wider field is numbered through a dict of its bytes
_BYTE_MASKS = np.array([(1 << 8 * n) - 1 for n in range(9)], np.uint64)  # a key's first n bytes
_MULTIPLIERS = np.random.default_rng(20261204).integers(1, 1 << 63, HASHED_UP_TO // 8, dtype=np.uint64) \
    | np.uint64(1)  # odd: a word's every bit reaches the hash


def line_blocks(fp: BinaryIO, lines: int, most: int | None = None) -> Iterator[bytes]:
    """The rest of a binary file as blocks of `lines` lines, or of as many as BLOCK_CAP bytes hold, `most` lines in
    all, each ending with a line feed (a final line without one gets one). A line feed inside quotes ends a block
    too: split() refuses that block, as it refuses any row across lines."""
    pending, left = b"", math.inf if most is None else most
    while left > 0:
        data = fp.read(READ)
        buffer = pending + data if pending else data
        if not data:
            if buffer:
                yield buffer if buffer.endswith(b"\n") else buffer + b"\n"
            return
        ends = np.flatnonzero(np.frombuffer(buffer, np.uint8) == LINE_FEED)
        start = taken = 0
        while left > 0:
            want = min(lines, left, len(ends) - taken)
            if want < min(lines, left) and len(buffer) - start < BLOCK_CAP:
                break  # read on for the rest of the block
            if want == 0:
                yield buffer[start:]
                return
            stop = int(ends[taken + want - 1]) + 1
            yield buffer[start:stop]
            start, taken, left = stop, taken + want, left - want
        pending = buffer[start:]


def _outside(quotes: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Whether an even count of quotes comes before each of the positions `at` (in order): those between the
    first quote and the second, the third and the fourth, … are inside. Looked up from the quotes' side, as a
    block has fewer quotes than separators."""
    lo, hi = np.searchsorted(at, quotes[0::2]), np.searchsorted(at, quotes[1::2])
    outside = np.ones(len(at), bool)
    counts = hi - lo
    if counts.any():
        ends = np.cumsum(counts)
        outside[np.repeat(lo - (ends - counts), counts) + np.arange(int(ends[-1]))] = False
    return outside


class Split:
    """A block of lines split into fields: each column's texts on demand, and whether a row is blank."""

    def __init__(self, data: bytes, a: np.ndarray, starts: np.ndarray, ends: np.ndarray, encoding: str,
                 delimiter: str):
        self.data, self.a, self.starts, self.ends = data, a, starts, ends
        self.encoding, self.delimiter = encoding, delimiter
        self.padded: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.starts)

    def column(self, k: int) -> tuple[list[str], np.ndarray] | None:
        """Column k as (its distinct texts, unquoted and stripped, in the order first seen; each row's number
        among them), or None where a text does not decode."""
        if self.padded is None:
            self.padded = np.frombuffer(self.data + bytes(HASHED_UP_TO), np.uint8)
        raw, codes = _numbered(self.data, self.padded, self.starts[:, k], self.ends[:, k])
        starts, ends = self.starts[raw, k], self.ends[raw, k]
        texts = _decoded(self.a, starts, ends, self.encoding)
        if texts is None:
            return None
        if (self.a[starts] == QUOTE).any():
            texts = [t[1:-1].replace('""', '"') if t.startswith('"') else t for t in texts]
        return [t.strip() for t in texts] if _may_strip(self.a, starts, ends) else texts, codes

    def row_blank(self, i: int) -> bool:
        """Whether row i holds nothing but spaces, in every field."""
        line = self.data[self.starts[i, 0]:self.ends[i, -1]].decode(self.encoding)
        return not "".join(next(csv.reader([line], delimiter=self.delimiter), [])).strip()


def split(data: bytes, width: int, delimiter: str, encoding: str, limit: int) -> Split | None:
    """The block's rows as fields, `width` to a row, or None where the block is not plain (see the module)."""
    a = np.frombuffer(data, np.uint8)
    if not data.endswith(b"\n") or b"\x00" in data:  # a NUL would pass for the padding of a short field's key
        return None
    quotes = np.flatnonzero(a == QUOTE)
    if len(quotes) % 2:
        return None  # a block of rows ends outside quotes
    at = np.flatnonzero((a == ord(delimiter)) | (a == LINE_FEED))
    if len(quotes):
        at = at[_outside(quotes, at)]
    if len(at) % width:
        return None
    ends = at.reshape(-1, width)
    if not (a[ends[:, -1]] == LINE_FEED).all() or len(ends) != data.count(b"\n") or \
            (width > 1 and (a[ends[:, :-1]] == LINE_FEED).any()):
        return None  # a row of another width, or a line break inside quotes
    starts = np.empty_like(ends)
    starts.ravel()[1:] = ends.ravel()[:-1] + 1
    starts[0, 0] = 0
    ends = ends.copy()
    returns = (ends[:, -1] > starts[:, -1]) & (a[np.maximum(ends[:, -1] - 1, 0)] == CARRIAGE_RETURN)
    ends[:, -1] -= returns
    if int(returns.sum()) != data.count(b"\r") or int((ends - starts).max(initial=0)) > limit:
        return None
    if len(quotes) and not _quoted_whole(a, quotes, starts.ravel(), ends.ravel()):
        return None
    return Split(data, a, starts, ends, encoding, delimiter)


def _quoted_whole(a: np.ndarray, quotes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> bool:
    """Whether every field with a quote in it is quoted whole: a quote first and last, and every run of quotes
    between them of even length (doubled quotes). `quotes`: the quotes' positions."""
    breaks = np.flatnonzero(np.diff(quotes) != 1)
    run_starts = quotes[np.concatenate([[0], breaks + 1])]
    run_ends = quotes[np.concatenate([breaks, [len(quotes) - 1]])] + 1
    field = np.searchsorted(starts, run_starts, side="right") - 1  # runs never cross a separator
    opening = run_starts == starts[field]
    closing = run_ends == ends[field]
    inner = run_ends - run_starts - opening - closing
    if (inner < 0).any() or (inner % 2).any():
        return False
    with_quotes = field[np.concatenate([[True], field[1:] != field[:-1]])]  # in order already
    return bool((a[starts[with_quotes]] == QUOTE).all() and (a[ends[with_quotes] - 1] == QUOTE).all()
                and (ends[with_quotes] - starts[with_quotes] >= 2).all())


def _may_strip(a: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> bool:
    """Whether a field may start or end with a space (str.strip's, Unicode's included: any byte from 0x80), or is
    quoted (its spaces inside the quotes)."""
    edges = np.concatenate([a[starts], a[np.maximum(ends - 1, 0)]])[np.tile(ends > starts, 2)]
    return bool(((edges <= 32) | (edges >= 128) | (edges == QUOTE)).any())


def _numbered(data: bytes, padded: np.ndarray, starts: np.ndarray, ends: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct raw field's first row, in the order first seen, and each row's number among them. `padded`:
    the block's bytes and HASHED_UP_TO zero bytes after them."""
    lengths = ends - starts
    width = int(lengths.max(initial=0))
    if width > HASHED_UP_TO:
        return _numbered_by_dict(data, starts, ends)
    words = -(-width // 8)
    fields = sliding_window_view(padded, 8 * max(words, 1))[starts]
    if width <= 8:  # the bytes themselves, those past a field's end masked off: exact, there being no NUL
        keys = fields.view("<u8").ravel() & _BYTE_MASKS[lengths]
    else:  # a hash of the field's 8-byte words
        fields[np.arange(8 * words) >= lengths[:, None]] = 0
        keys = fields.view("<u8") @ _MULTIPLIERS[:words] + lengths.astype(np.uint64)
    order = keys.argsort(kind="stable")
    ordered = keys[order]
    new = np.empty(len(keys), bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    first = order[new]  # each key's first row: the sort is stable
    codes = np.empty(len(keys), np.int64)
    codes[order] = np.cumsum(new) - 1
    if width > 8 and not (fields == fields[first[codes]]).all():  # two fields with one hash
        return _numbered_by_dict(data, starts, ends)
    return _in_order_seen(first, codes)


def _numbered_by_dict(data: bytes, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    index: dict[bytes, int] = {}
    number: Callable[[bytes], int] = lambda b: index.setdefault(b, len(index))
    codes = np.fromiter((number(data[s:e]) for s, e in zip(starts.tolist(), ends.tolist())), np.int64,
                        len(starts))
    first = np.full(len(index), len(starts))
    np.minimum.at(first, codes, np.arange(len(starts)))
    return first, codes.astype(np.int32)


def _in_order_seen(first: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[codes].astype(np.int32)


def _decoded(a: np.ndarray, starts: np.ndarray, ends: np.ndarray, encoding: str) -> list[str] | None:
    """The fields' texts, decoded at once: their bytes joined by line feeds (which no field of a plain block holds)."""
    if not len(starts):
        return []
    lengths = ends - starts + 1
    stops = np.cumsum(lengths)
    joined = a[np.repeat(starts - (stops - lengths), lengths) + np.arange(int(stops[-1]))]
    joined[stops - 1] = LINE_FEED
    try:
        return joined.tobytes().decode(encoding).split("\n")[:-1]
    except UnicodeDecodeError:
        return None
