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
    too: split() refuses that block, as it refuses any row across lines. Memory holds the block being read,
    the bytes read past it, and the block once joined."""
    pieces: list[bytes] = []
    feeds: list[int] = []  # line feeds in each piece
    left = math.inf if most is None else most
    while left > 0:
        data = fp.read(READ)
        if not data:
            if pieces:
                block = b"".join(pieces)
                yield block if block.endswith(b"\n") else block + b"\n"
            return
        pieces.append(data)
        feeds.append(data.count(b"\n"))
        while left > 0 and (sum(feeds) >= min(lines, left) or sum(map(len, pieces)) >= BLOCK_CAP):
            want = min(lines, left, sum(feeds))
            if want == 0:
                yield b"".join(pieces)
                return
            counted = np.cumsum(feeds)
            p = int(np.searchsorted(counted, want))  # the piece with the block's last line feed
            k = want - (int(counted[p - 1]) if p else 0)
            stop = int(np.flatnonzero(np.frombuffer(pieces[p], np.uint8) == LINE_FEED)[k - 1]) + 1
            yield b"".join([*pieces[:p], pieces[p][:stop]])
            rest = pieces[p][stop:]
            pieces, feeds = [rest, *pieces[p + 1:]], [feeds[p] - k, *feeds[p + 1:]]
            left -= want


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

    def __len__(self) -> int:
        return len(self.starts)

    def column(self, k: int) -> tuple[list[str], np.ndarray] | None:
        """Column k as (its distinct texts, unquoted and stripped, in the order first seen; each row's number
        among them), or None where a text does not decode."""
        raw, codes = _numbered(self.data, self.a, self.starts[:, k], self.ends[:, k])
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
    separator = a == ord(delimiter)
    separator |= a == LINE_FEED
    at = np.flatnonzero(separator).astype(np.int32)  # a block is less than 2 GiB (BLOCK_CAP)
    del separator
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


def _numbered(data: bytes, a: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct raw field's first row, in the order first seen, and each row's number among them."""
    lengths = ends - starts
    width = int(lengths.max(initial=0))
    if width > HASHED_UP_TO:
        return _numbered_by_dict(data, starts, ends)
    windows = sliding_window_view(a if len(a) >= 8 else np.zeros(8, np.uint8), 8)  # (a short block: all late)
    words = max(1, -(-width // 8))

    def word(j: int) -> np.ndarray:  # each field's bytes 8j to 8j+7, those past its end masked off
        at = starts + 8 * j
        late = at > len(a) - 8  # within the block's last 7 bytes
        out = windows[np.where(late, 0, at)].view("<u8").ravel()
        if late.any():
            out[late] = [int.from_bytes(data[p:p + 8].ljust(8, b"\0"), "little") for p in at[late].tolist()]
        return out & _BYTE_MASKS[np.clip(lengths - 8 * j, 0, 8)]
    if words == 1:
        keys = word(0)  # the bytes themselves: exact, there being no NUL
    else:
        keys = lengths.astype(np.uint64)
        for j in range(words):
            keys += word(j) * _MULTIPLIERS[j]  # wraps: a hash
    order = keys.argsort()  # not a stable sort: 6-12 times as fast for 8-byte keys
    ordered = keys[order]
    new = np.empty(len(keys), bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    first = np.minimum.reduceat(order, np.flatnonzero(new))  # each key's first row
    codes = np.empty(len(keys), np.int64)
    codes[order] = np.cumsum(new) - 1
    if words > 1:
        firsts = first[codes]
        if not all((w == w[firsts]).all() for w in map(word, range(words))):  # two fields with one hash
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
    order = np.argsort(first)  # no two the same
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
