"""Reading a model sheet's data rows fast: a row just as xlnet wrote it is matched by one regex over its bytes
(its formulas are then the layout's), a run of rows its writer rendered and nobody changed since is taken whole
(the seam says so), and a column of plain numbers is decoded in one numpy conversion. Any other row comes as its
parsed cells."""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from xlnet.workbook.layout import SheetLayout
from xlnet.xlsx.parts import escape
from xlnet.workers import can_fork, in_background
from xlnet.xlsx.read import NotPlain, Package, letters, split_rows

ROW_TOKEN = "\x00"  # stands for the row number in a row's formula template
SPLIT_FROM = 32 << 20  # inflated bytes after the seam: more, and a second process reads part of them ...
SHARE = 0.6            # ... this process those before this share of them (the other inflates them too, unparsed)
RAW_BACK = 8 << 20     # bytes of blocks that are not runs it hands back to be parsed here, before it stops


def rows_of(pkg: Package, name: str, shape: Callable[[], "RowShape | None"], shared: dict, until: int | None = None
          ) -> Iterator[tuple]:
    """(row number, cells or None, match or None) of each row. A row that matches the sheet's row pattern (asked
    for row by row: it is known once the header is read) comes as its match, unparsed; any other as its cells,
    parsed lazily from the match's string. A run of rows that xlnet's writer rendered for this very layout, and
    that nobody has changed since, comes whole as a Written run. A sheet that raw_blocks cannot scan comes cell
    by cell. `until`: stop at this offset of the inflated sheet (a seam: a row ends there)."""
    seam = pkg.seam(name)
    try:
        blocks = pkg.raw_blocks(name)
        first = next(blocks, None)
    except NotPlain:
        for r, cells in pkg.rows(name):
            yield r, cells, None
        return
    state = {"r": 0, "kinds": None}  # the last row's number, and the value cells' types in the last row matched
    size = pkg.zip.getinfo(pkg.sheet(name).part).file_size
    may_split = until is None and seam is not None and size - seam.head_size > SPLIT_FROM and can_fork()
    blocks = itertools.chain([first] if first is not None else [], blocks)
    for offset, block in blocks:
        if until is not None and offset + len(block) >= until:
            yield from _row_by_row(pkg, block[:max(0, until - offset)], shape, shared, state)
            return
        s = shape()
        if s is not None and state["kinds"] is not None and seam is not None and seam.layout == s.fingerprint \
                and offset >= seam.head_size:
            if may_split and size - offset > SPLIT_FROM:
                yield from _split_tail(pkg, name, s, shared, state, offset, block, blocks, size)
                return
            yield from _block(pkg, block, s, shape, shared, state)
            continue
        yield from _row_by_row(pkg, block, shape, shared, state)


def _block(pkg: Package, block: bytes, s: "RowShape", shape: Callable, shared: dict, state: dict) -> Iterator[tuple]:
    """A block after the seam: a Written run where it is one, else its rows one by one."""
    run = s.written(block, state["kinds"])
    if run is None:
        yield from _row_by_row(pkg, block, shape, shared, state)
        return
    state.update(r=run.first + run.count - 1, kinds=run.kinds)
    yield run.first, None, run


def _split_tail(pkg: Package, name: str, s: "RowShape", shared: dict, state: dict, offset: int, block: bytes,
                blocks: Iterator[tuple[int, bytes]], size: int) -> Iterator[tuple]:
    """The rows after the seam, from `block` on, read by two processes: this one takes the blocks up to `middle`,
    a forked one those after it (inflating the stream up to there too, without parsing it: a deflate stream
    cannot be entered half-way). A block that is not a Written run comes back as its bytes and is parsed here;
    where the other process meets too many of them, this one reads on from there."""
    middle = offset + int((size - offset) * SHARE)
    kinds = state["kinds"]

    def rest() -> tuple[list[tuple[int, Written | bytes]], int | None]:
        with pkg.again() as own:
            return _runs_from(own, name, s, kinds, middle)
    shape = lambda: s  # noqa: E731
    with in_background(rest) as result:
        beyond: list[tuple[int, bytes]] = []  # the first block past the middle, once met
        for at, data in itertools.chain([(offset, block)], blocks):
            if at >= middle:
                beyond.append((at, data))
                break
            yield from _block(pkg, data, s, shape, shared, state)
        items, stopped = result()
    for _, item in items:
        if type(item) is Written:
            state.update(r=item.first + item.count - 1, kinds=item.kinds)
            yield item.first, None, item
        else:
            yield from _row_by_row(pkg, item, shape, shared, state)
    if stopped is not None:
        for at, data in itertools.chain(beyond, blocks):
            if at >= stopped:
                yield from _block(pkg, data, s, shape, shared, state)


def _runs_from(pkg: Package, name: str, s: "RowShape", kinds: tuple, start: int
               ) -> tuple[list[tuple[int, "Written | bytes"]], int | None]:
    """The blocks at `start` and after as Written runs (or their bytes where they are not one), and the offset
    from which they were left unread (None: none were): past RAW_BACK bytes given back unparsed."""
    items, raw = [], 0
    for offset, block in pkg.raw_blocks(name):
        if offset < start:
            continue
        run = s.written(block, kinds)
        if run is None:
            raw += len(block)
            if raw > RAW_BACK:
                return items, offset
        else:
            kinds = run.kinds
        items.append((offset, run if run is not None else block))
    return items, None


def _row_by_row(pkg: Package, block: bytes, shape: Callable[[], "RowShape | None"], shared: dict, state: dict
                ) -> Iterator[tuple]:
    for raw in split_rows(block):
        s = shape()
        m = s.pattern.fullmatch(raw) if s is not None else None
        if m is not None:
            state.update(r=int(m[1]), kinds=m.groups()[1::2])
            yield state["r"], None, m
            continue
        for element in pkg.parse_rows(raw):
            state["r"] = int(element.get("r") or state["r"] + 1)
            yield state["r"], pkg.row_cells(element, state["r"], shared), None


@dataclass
class Written:
    """A run of data rows just as xlnet's writer rendered them: their value cells, decoded a column at a time (a
    float array for numbers, an int64 array of shared-string indexes for text)."""
    first: int
    count: int
    values: list[np.ndarray]
    kinds: tuple  # per column, the type attribute of its cells (None: a number)


class RowShape:
    """What a data row of this layout holds, to recognise the rows xlnet wrote: the regex of one row, and the
    counts a run of rows rendered by xlnet's writer must show."""

    VALUE = re.compile(rb"<v>([^<]*)</v>")
    ROW = re.compile(rb'\s*<row r="(\d+)"')

    def __init__(self, at: SheetLayout):
        self.pattern, self.columns = row_pattern(at)
        self.fingerprint = at.fingerprint()
        self.formulas = len(at.row_formulas(ROW_TOKEN))

    def written(self, block: bytes, kinds: tuple) -> Written | None:
        """The run of rows in `block`, which xlnet's writer rendered for this layout (zipout's seam says so), or
        None where it holds anything but whole data rows (an empty cell, an error value, a row of notes)."""
        first, last = self.ROW.match(block), self.ROW.match(block, block.rfind(b"<row "))
        if first is None or last is None or any(kind not in (None, b"", b"s") for kind in kinds):
            return None
        # The writer numbers its rows one after another, and each data row has the layout's formulas (any other
        # row, such as the labels of parameters below the data, has none): so these counts say it is all data,
        # every value cell holds a value, and the only types are those of the text columns (a column is written
        # from one typed array: text, or numbers, where t="e" or t="b" would mark a value that is neither).
        rows, k, text = int(last[1]) - int(first[1]) + 1, len(self.columns), sum(1 for kind in kinds if kind)
        texts = self.VALUE.findall(block)
        if rows < 1 or len(texts) != rows * k or block.count(b"<f>") != rows * self.formulas \
                or block.count(b' t="') != rows * text:
            return None
        kinds = tuple(kind or None for kind in kinds)
        try:
            values = [np.array(texts[j::k], dtype=np.int64 if kinds[j] else float) for j in range(k)]
        except (ValueError, OverflowError):  # an empty <v/>, or a text that is no number: row by row
            return None
        return Written(int(first[1]), rows, values, kinds)


def row_pattern(at: SheetLayout) -> tuple[re.Pattern, list[str]]:
    """A data row just as xlnet writes it, as a regex over its bytes: each formula exactly (for that row's number),
    any style, a cached value allowed; two groups (type, text) per value cell. Returns the value columns in the
    order of their groups."""
    formulas = at.row_formulas(ROW_TOKEN)
    values = set(at.values) | ({"Set"} if at.split else set())
    parts, columns = [rb'<row r="(\d+)"[^>]*>'], []
    for name, c in sorted(at.col.items(), key=lambda item: item[1]):
        head = b'<c r="' + letters(c).encode() + rb'\1"(?: s="\d+")?'
        if name in formulas:
            body = rb"\1".join(re.escape(piece.encode()) for piece in escape(formulas[name][1:]).split(ROW_TOKEN))
            parts.append(head + rb'(?: t="\w+")?><f>' + body + rb"</f>(?:<v>[^<]*</v>)?</c>")
        elif name in values:
            parts.append(head + rb'(?:/>|(?: t="([nsbe])")?><v>([^<]*)</v></c>)')  # t="str": parsed
            columns.append(name)
        else:  # the rows of an array formula below its first
            parts.append(head + rb'(?:/>|(?: t="\w+")?><v>[^<]*</v></c>)')
    return re.compile(b"".join(parts) + b"</row>", re.S), columns


FAST = object()  # a value still in the groups of its row's match


def merge_fast(pkg: Package, values: dict[str, list], fast: list[tuple], columns: list[str]) -> dict:
    """The value columns, with the cells of the rows matched whole decoded into place: a column of plain numbers
    as one float array, shared strings looked up at once, any other value by value."""
    out = {}
    for k, column in enumerate(columns):
        pieces = _pieces(values[column], fast, k)
        numbers = all(_numeric(kind, data) for kind, data in pieces)
        if numbers:
            out[column] = np.concatenate([_as_floats(kind, data) for kind, data in pieces] or [np.empty(0)])
        else:
            shared = all(kind == "slow" or _shared(kind, data) for kind, data in pieces)
            out[column] = [v for kind, data in pieces for v in _decoded(pkg, kind, data, shared)]
    return {**values, **out}


def _pieces(items: list, fast: list[tuple], k: int) -> list[tuple]:
    """A column's values in row order as pieces: ("fast", (kinds, texts)) for rows matched one by one, ("run",
    (kind, array)) for a Written run, ("slow", values) for cells parsed one by one."""
    pieces: list[tuple] = []
    i = 0
    for v in items:
        if v is FAST:
            kind, data = "fast", (fast[i][1 + 2 * k], fast[i][2 + 2 * k])
            i += 1
        elif type(v) is Written:
            pieces.append(("run", (v.kinds[k], v.values[k])))
            continue
        else:
            kind, data = "slow", v
        if pieces and pieces[-1][0] == kind:
            pieces[-1][1].append(data)
        else:
            pieces.append((kind, [data]))
    return pieces


def _numeric(kind: str, data) -> bool:
    if kind == "run":
        return data[0] is None
    if kind == "fast":
        return all(not t for t, _ in data) and all(text for _, text in data)
    return all(isinstance(v, float) for v in data)


def _as_floats(kind: str, data) -> np.ndarray:
    if kind == "run":
        return data[1]
    return np.array([text for _, text in data] if kind == "fast" else data, dtype=float)


def _shared(kind: str, data) -> bool:
    if kind == "run":
        return data[0] == b"s"
    return all(t == b"s" and text for t, text in data)


def _decoded(pkg: Package, kind: str, data, shared: bool) -> list:
    if kind == "slow":
        return data
    if kind == "run":
        t, array = data
        return _shared_strings(pkg, array) if t == b"s" else array.tolist()
    if shared:
        return _shared_strings(pkg, np.array([text for _, text in data], dtype=np.int64))
    return [_decode(pkg, t, text) for t, text in data]


def _shared_strings(pkg: Package, index: np.ndarray) -> list:
    """The shared strings at these indexes; None (refused by the value rules) for an index out of range."""
    strings = np.array(pkg.shared_strings + [None], dtype=object)
    return strings[np.where((index >= 0) & (index < len(strings) - 1), index, -1)].tolist()


def _decode(pkg: Package, kind: bytes | None, text: bytes | None):
    """A value cell's value from its type and text (as Package.row_cells reads them)."""
    if text is None:
        return None
    if kind is None or kind == b"n":
        return float(text) if text else None
    if kind == b"s":
        return pkg.shared_strings[int(text)]
    if kind == b"b":
        return text in (b"1", b"true")
    return text.decode()  # an error's text: refused by the value rules
