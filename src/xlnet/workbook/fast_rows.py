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
from xlnet.xlsx.read import NotPlain, Package, letters, split_rows

ROW_TOKEN = "\x00"  # stands for the row number in a row's formula template


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
    for offset, block in itertools.chain([first] if first is not None else [], blocks):
        if until is not None and offset + len(block) >= until:
            yield from _row_by_row(pkg, block[:max(0, until - offset)], shape, shared, state)
            return
        s = shape()
        if s is not None and state["kinds"] is not None and seam is not None and seam.layout == s.fingerprint \
                and offset >= seam.head_size:
            run = s.written(block, state["kinds"])
            if run is not None:
                state.update(r=run.first + run.count - 1, kinds=run.kinds)
                yield run.first, None, run
                continue
        yield from _row_by_row(pkg, block, shape, shared, state)


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
    """A run of data rows just as xlnet's writer rendered them: their value cells' texts, a list per column."""
    first: int
    count: int
    texts: list[list[bytes]]
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
        return Written(int(first[1]), rows, [texts[j::k] for j in range(k)], tuple(kind or None for kind in kinds))


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
    in one numpy conversion (as a float array), any other value by value."""
    out = {}
    for k, column in enumerate(columns):
        kinds, texts, slow, where_fast, i = [], [], [], [], 0
        for v in values[column]:
            if v is FAST:
                kinds.append(fast[i][1 + 2 * k])
                texts.append(fast[i][2 + 2 * k])
                where_fast.append(True)
                i += 1
            elif type(v) is Written:
                kinds.extend(itertools.repeat(v.kinds[k], v.count))
                texts.extend(v.texts[k])
                where_fast.extend(itertools.repeat(True, v.count))
            else:
                slow.append(v)
                where_fast.append(False)
        where_fast = np.array(where_fast, bool)
        if not any(kinds) and all(texts) and all(isinstance(v, float) for v in slow):
            column_values = np.empty(len(where_fast))
            column_values[where_fast] = np.array(texts, dtype=float)
            column_values[~where_fast] = slow
            out[column] = column_values
            continue
        if texts and all(kind == b"s" for kind in kinds) and all(texts):  # shared strings, looked up at once
            decoded = iter(_shared_strings(pkg, np.array(texts, dtype=np.int64)))
        else:
            decoded = iter([_decode(pkg, kind, text) for kind, text in zip(kinds, texts)])
        slow_values = iter(slow)
        out[column] = [next(decoded) if is_fast else next(slow_values) for is_fast in where_fast]
    return {**values, **out}


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
