"""Writing xlnet's sheets into a new workbook: the model sheets, the data as read, and the spec.

What goes where is the layout's business; this module only turns it into rows.
"""
from __future__ import annotations

import contextlib
import fcntl
import math
import multiprocessing
import zlib

import numpy as np

from xlnet.model.net import Model
from xlnet.model.spec import Spec, parse_number
from xlnet.table.reading import Table, TextColumn, pointed
from xlnet.workers import can_fork, in_background
from xlnet.workbook.layout import DATA_SHEET, FIRST_ROW, HEADER_ROW, SPEC_SHEET, TITLE_ROW, SheetLayout
from xlnet.xlsx.parts import (OPEN, PRINT_TITLES, ROW_MARK, Formula, RowTemplate, Style, sheet_ref, value_tail,
                              value_tails)
from xlnet.xlsx.read import letters as letter
from xlnet.xlsx.write import Writer

HEAD = Style(bold=True, align="center")
TITLE = Style(bold=True)
VALUE = Style(align="center")
PARAM = Style(num_fmt="0.0000", fill="FFFFF2CC", border=True)  # looks like an input: a fill and a border
COMPUTED = Style(num_fmt="0.000")
METRIC = Style(num_fmt="0.000000", bold=True)
# A number's size is not known where the target is a number (a loss of 18,281,459.98, a price of 3,801.13): there
# General shows what fits the column, where a fixed number of decimals would show ###.
OPEN_ENDED = {PARAM: Style(fill="FFFFF2CC", border=True), COMPUTED: Style(), METRIC: Style(bold=True)}
STATISTIC = Style()          # the largest value of a raw column: its own size
METRIC_WIDTH, PARAM_WIDTH = 13, 11
DUMMY = Style(num_fmt="0", align="center")
FORMATS = {"Fare": Style(num_fmt="0.00", align="center")}
CHUNK_ROWS = 8192  # rows whose value cells are rendered at once
PARALLEL_ROWS = 50_000  # rows from which a worker writes all the model sheets but the first
PIPE_BYTES = 1 << 20  # Linux's largest pipe for a user, unless raised (fs.pipe-max-size)
SPEC_CHUNK = 30_000  # characters of the spec's JSON per cell (a cell holds 32,767)


def _plain_list(values: np.ndarray) -> list:
    """_plain of each value, fast for a float column."""
    if values.dtype.kind == "f":
        out = values.tolist()
        if np.isnan(values).any():
            out = [None if x != x else x for x in out]
        return out
    out = values.tolist()
    if all(type(v) is str or v is None for v in out):  # a text column as typed: nothing to convert
        return out
    return [_plain(v) for v in out]


def _plain(v):
    """A value as the writer wants it: a Python float, int or str; None for missing."""
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


class ModelSheets:
    """The model sheets, side by side, written a chunk of rows at a time (`add`): each chunk's value cells are
    rendered once for every sheet. From PARALLEL_ROWS rows on, a forked worker writes all the sheets but the
    first (a `_Helper`); used as a context manager, so that worker never outlives the block."""

    def __init__(self, w: Writer, spec: Spec, models: dict[str, Model], thetas: dict[str, np.ndarray], n: int,
                 split: bool):
        """`n` rows of data are to come, with a `Set` column if `split`."""
        self.sheets = [ModelSheet(w, spec, model, thetas[name], n, split, side_by_side=True)
                       for name, model in models.items()]
        self.strings = w.strings
        self.columns = self.sheets[0].columns if self.sheets else ()
        self.digest = DataDigest(len(self.columns))
        self.done = 0
        parallel = n >= PARALLEL_ROWS and len(self.sheets) > 1 and can_fork()
        for sheet in self.sheets if parallel else ():
            sheet.stream.settle()  # no thread of ours running when the worker forks
        self.helper = _Helper(w, self.sheets[1:]) if parallel else None
        self.own = self.sheets[:1] if parallel else self.sheets

    def __enter__(self) -> "ModelSheets":
        return self

    def __exit__(self, *exc) -> None:
        if self.helper is not None:
            self.helper.stop()

    def add(self, env: dict) -> None:
        """The next rows: their value columns (each sheet's `columns`) in `env`."""
        data = [env[c] for c in self.columns]
        self.digest.add(data)
        n = len(data[0]) if data else 0
        for start in range(0, n, CHUNK_ROWS):
            part = [values[start:start + CHUNK_ROWS] for values in data]
            tails = [value_tails(_plain_list(values), self.strings) for values in part]
            if self.helper is not None:
                self.helper.send(self.done + start, part, tails)
            for sheet in self.own:
                sheet.rows(self.done + start, part, tails)
        self.done += n

    def close(self) -> dict[str, SheetLayout]:
        data = self.digest.value()
        for sheet in self.own:
            sheet.close(data)
        if self.helper is not None:
            for sheet, entry in zip(self.helper.sheets, self.helper.close(data)):
                sheet.close(data, entry)
        return {sheet.model.name: sheet.at for sheet in self.sheets}


class _Helper:
    """A forked worker writing some of the model sheets. Each chunk's rows go to it with their value cells (rendered
    here, where the shared strings are registered) and the texts added to the shared strings since the last chunk,
    so its copy of them stays the same as this one; it finishes the sheets into the spools this process shares,
    and sends back their zip entries. It must add no string or style of its own: those would be lost (checked)."""

    def __init__(self, w: Writer, sheets: list["ModelSheet"]):
        self.w, self.sheets, self.sent = w, sheets, len(w.strings.new)
        w.fp.flush()  # nothing buffered for the worker's copy of the file to hold too
        receive, self.conn = multiprocessing.get_context("fork").Pipe(duplex=False)
        with contextlib.suppress(OSError, AttributeError):  # room for a chunk or two, so neither waits on the other
            fcntl.fcntl(self.conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self.stack = contextlib.ExitStack()
        try:
            self.result = self.stack.enter_context(
                in_background(lambda: _render(receive, self.conn, w, sheets)))
        finally:
            receive.close()  # the worker has its own

    def _texts(self) -> list[str]:
        new = self.w.strings.new
        texts, self.sent = new[self.sent:], len(new)
        return texts

    def send(self, first: int, part: list[np.ndarray], tails: list[list[str]]) -> None:
        self._send(("rows", first, part, tails, self._texts()))

    def _send(self, message: tuple) -> None:
        try:
            self.conn.send(message)
        except OSError:  # the worker is gone: raise what it raised, or that it was killed
            self.result()
            raise

    def close(self, data: int) -> list:
        """The worker's sheets' zip entries, once it has finished them; `data`: their DataDigest."""
        self._send(("end", data, self._texts(), len(self.w.strings.items), len(self.w.styles.cache)))
        entries = self.result()
        self.stop()
        return entries

    def stop(self) -> None:
        self.conn.close()
        self.stack.close()


def _render(receive, send, w: Writer, sheets: list["ModelSheet"]) -> list:
    """In the worker: the sheets' rows as they come, then the sheets finished; their zip entries."""
    send.close()
    while (message := receive.recv())[0] == "rows":
        _, first, part, tails, texts = message
        _register(w.strings, texts)
        for sheet in sheets:
            sheet.rows(first, part, tails)
    _, data, texts, n_strings, n_styles = message
    _register(w.strings, texts)
    entries = [sheet.finish(data) for sheet in sheets]
    if (len(w.strings.items), len(w.styles.cache)) != (n_strings, n_styles):
        raise RuntimeError("a model sheet written in a worker added a shared string or style of its own")
    return entries


def _register(strings, texts: list[str]) -> None:
    for text in texts:
        strings(text)


class DataDigest:
    """A CRC of the value columns, never 0, fed a chunk of rows at a time: model sheets written from the same data
    record the same one (in zipout's seam), so a reader may take their rows from one of them."""

    def __init__(self, n_columns: int):
        self.crcs = [0] * n_columns

    def add(self, columns: list[np.ndarray]) -> None:
        for k, values in enumerate(columns):
            raw = values.tobytes() if values.dtype != object else "".join(f"{v!r}\x00" for v in values).encode(
                "utf-8", "replace")
            self.crcs[k] = zlib.crc32(raw, self.crcs[k])

    def value(self) -> int:
        return zlib.crc32(np.array(self.crcs, np.uint32).tobytes()) or 1


class ModelSheet:
    """One model sheet being written: its header rows on creation, then its data rows chunk by chunk."""

    def __init__(self, w: Writer, spec: Spec, model: Model, theta: np.ndarray, n: int, split: bool,
                 side_by_side: bool):
        self.w, self.model, self.n = w, model, n
        self.at = at = SheetLayout(spec, model, n, split=split)
        self.columns = columns = at.values + (("Set",) if at.split else ())
        open_ended = spec.task == "continuous"

        def style(s: Style) -> int:
            return w.style(OPEN_ENDED.get(s, s) if open_ended else s)
        self.style = style
        self.fixed = fixed = {}

        def put(c: int, r: int, value, s: Style) -> None:
            fixed.setdefault(r, {})[c] = (value, style(s))

        widths: dict[int, float] = {}
        for (c, r), text in {**at.titles(), **at.param_labels()}.items():
            put(c, r, text, TITLE if r < HEADER_ROW or c < at.param_col + 1 else HEAD)
            widths[c] = max(widths.get(c, 9), len(str(text)) + 2)
        for c, text in at.headers().items():
            put(c, HEADER_ROW, text, HEAD)
            widths[c] = max(widths.get(c, 9), len(text) + 2)
        for (c, r), formula in at.fixed_formulas().items():
            metric = r < HEADER_ROW and c >= at.col["Loss"]
            put(c, r, Formula(formula), METRIC if metric else STATISTIC)
            widths[c] = max(widths.get(c, 9), METRIC_WIDTH if metric else 10)
        for (c, r), value in zip(at.param_cells(), np.ravel(theta)):
            put(c, r, float(value), PARAM)
            widths[c] = max(widths.get(c, 9), PARAM_WIDTH)
        if at.decay_cell_at:
            put(*at.decay_cell_at, float(spec.weight_decay), PARAM)

        for value, _ in (cell for cells in fixed.values() for cell in cells.values()):
            if type(value) is str:  # registered now, as the rows that hold it may be written by a worker
                w.strings(value)
        settable = at.param_cells() + ([at.decay_cell_at] if at.decay_cell_at else [])
        self.stream = w.sheet(model.name, widths=widths, freeze=(0, HEADER_ROW), rows=n,
                              seam_after=max(r for _, r in settable), layout=at.fingerprint(),
                              side_by_side=side_by_side)
        for r in range(TITLE_ROW, FIRST_ROW):
            self.stream.row(r, sorted((c, *v) for c, v in fixed.get(r, {}).items()))
        self.value_styles = [(at.col[c], style(FORMATS.get(c, VALUE))) for c in columns]
        self.formula_styles = {name: style(DUMMY if type(op).__name__ == "Dummy" else COMPUTED)
                               for name, op in at.features if op is not None}
        self.formula_styles.update({name: style(VALUE) for name, _ in at.derived})
        self.formula_styles.update({name: style(COMPUTED) for name in model.column_names})
        self.arrays = {at.col[names[0]]: Formula(formula, rng) for rng, formula, names in at.arrays}
        self.array_cells = [at.col[name] for name in at.array_columns]
        row_cells = {c: (OPEN, s) for c, s in self.value_styles}
        row_cells.update({at.col[name]: (Formula(f), self.formula_styles[name])
                          for name, f in at.row_formulas(ROW_MARK).items()})
        row_cells.update({c: (None, style(COMPUTED)) for c in self.array_cells})
        self.template = RowTemplate(sorted((c, *v) for c, v in row_cells.items()), w.strings)
        position = {at.col[name]: k for k, name in enumerate(columns)}
        self.order = [position[c] for c in self.template.open_columns]

    def rows(self, first: int, data: list[np.ndarray], tails: list[list[str]]) -> None:
        """The data's rows from row `first` (from 0): `data` the values of each of `columns`, `tails` their
        value_tail."""
        at, fixed, stream, template = self.at, self.fixed, self.stream, self.template
        for k, row_tails in enumerate(zip(*(tails[j] for j in self.order))):
            i = first + k
            r = FIRST_ROW + i
            if i > 0 and r not in fixed:
                stream.raw_row(template.render(r, row_tails))
                continue
            cells = {c: (_plain(values[k]), s) for (c, s), values in zip(self.value_styles, data)}
            for name, formula in at.row_formulas(r).items():
                cells[at.col[name]] = (Formula(formula), self.formula_styles[name])
            for c in self.array_cells:
                cells[c] = (self.arrays.get(c) if i == 0 else None, self.style(COMPUTED))
            cells.update(fixed.get(r, {}))
            stream.row(r, sorted((c, *v) for c, v in cells.items()))

    def close(self, data: int, entry=None) -> None:
        """`data`: the DataDigest of the rows written; `entry`: the sheet's zip entry where a worker finished it."""
        if entry is None:
            self._last_rows()
            self.stream.close(data=data)
        else:
            self.stream.add_finished(entry)
        for key, value in self.at.solver_names().items():
            self.w.define(key, value, sheet=self.model.name, hidden=True)
        for key, value in self.at.metric_names().items():
            self.w.define(key, value, sheet=self.model.name)
        self.w.define(PRINT_TITLES, sheet_ref(self.model.name, f"$1:${HEADER_ROW}"), sheet=self.model.name)

    def finish(self, data: int):
        """In a worker: all of `close` but adding the sheet to the zip; the sheet's zip entry."""
        self._last_rows()
        self.stream.finish(data=data)
        return self.stream.member.entry

    def _last_rows(self) -> None:
        """The fixed rows below the data (parameters of a sheet with fewer rows than parameters)."""
        for r in sorted(k for k in self.fixed if k > self.at.last_row):
            self.stream.row(r, sorted((c, *v) for c, v in self.fixed[r].items()))


class DataSheet:
    """Every CSV column as read, a chunk of rows at a time: numbers where the column holds only numbers (`numeric`,
    one flag a column), text otherwise, empty when missing."""

    def __init__(self, w: Writer, header: list[str], numeric: list[bool], decimal_comma: bool, n: int):
        self.strings, self.numeric, self.comma = w.strings, numeric, decimal_comma
        self.stream = w.sheet(DATA_SHEET, widths={c: min(40, max(10, len(h) + 2)) for c, h in enumerate(header, 1)},
                              freeze=(0, 1), rows=n, side_by_side=True)
        head = w.style(HEAD)
        self.stream.row(1, [(c, h, head) for c, h in enumerate(header, 1)])
        self.done = 0

    def add(self, table: Table) -> None:
        """The next rows, as read."""
        for start in range(0, len(table), CHUNK_ROWS):
            stop = min(len(table), start + CHUNK_ROWS)
            cells = [_data_cells(letter(c), col, start, stop, is_number, self.comma, self.strings)
                     for c, (col, is_number) in enumerate(zip(table.columns, self.numeric), 1)]
            first = self.done + start + 2
            for r, row in zip(range(first, first + stop - start), zip(*cells)):
                self.stream.raw_row(f'<row r="{ROW_MARK}">{"".join(row)}</row>'.replace(ROW_MARK, str(r)).encode())
        self.done += len(table)

    def close(self) -> None:
        self.stream.close()
        self.stream.writer.define(PRINT_TITLES, sheet_ref(DATA_SHEET, "$1:$1"), sheet=DATA_SHEET)


def _data_cells(column: str, col: TextColumn, start: int, stop: int, is_number: bool, comma: bool,
                strings) -> list[str]:
    """The cells of rows start..stop-1 of one column (row number still ROW_MARK): a number or text as read, none
    when empty; each distinct text rendered once."""
    used, inverse = np.unique(col.codes[start:stop], return_inverse=True)
    rendered = np.empty(len(used), dtype=object)
    for k, code in enumerate(used.tolist()):
        text = col.distinct[code]
        value = None if text == "" else parse_number(pointed(text, comma)) if is_number else text
        rendered[k] = "" if value is None else f'<c r="{column}{ROW_MARK}"{value_tail(value, strings)}'
    return rendered[inverse].tolist()


def write_spec_sheet(w: Writer, spec: Spec) -> None:
    """The spec as JSON in a hidden sheet, so fit, compare and predict need no CSV and no side file."""
    text = spec.to_json()
    stream = w.sheet(SPEC_SHEET, state="hidden")
    stream.row(1, [(1, "xlnet's column spec (JSON, read by xlnet fit, compare and predict); do not edit", 0)])
    for k in range(0, len(text), SPEC_CHUNK):
        stream.row(2 + k // SPEC_CHUNK, [(1, text[k:k + SPEC_CHUNK], 0)])
    stream.close()
    w.define("_xlnet_spec", sheet_ref(SPEC_SHEET, "$A$1"), hidden=True)
