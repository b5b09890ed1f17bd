"""Writing xlnet's sheets into a new workbook: the model sheets, the data as read, and the spec.

What goes where is the layout's business; this module only turns it into rows.
"""
from __future__ import annotations

import functools
import math
import zlib
from typing import Callable

import numpy as np

from .data import Table, TextColumn
from .layout import DATA_SHEET, FIRST_ROW, HEADER_ROW, SPEC_SHEET, TITLE_ROW, SheetLayout
from .net import Model
from .spec import Spec, parse_number
from .xlsx.parts import OPEN, ROW_MARK, Formula, RowTemplate, Style, sheet_ref, value_tail, value_tails
from .xlsx.read import letters as letter
from .xlsx.write import Writer

HEAD = Style(bold=True, align="center")
TITLE = Style(bold=True)
VALUE = Style(align="center")
PARAM = Style(num_fmt="0.0000", fill="FFFFF2CC", border=True)  # looks like an input: a fill and a border
COMPUTED = Style(num_fmt="0.000")
METRIC = Style(num_fmt="0.000000", bold=True)
DUMMY = Style(num_fmt="0", align="center")
FORMATS = {"Fare": Style(num_fmt="0.00", align="center")}
CHUNK_ROWS = 8192  # rows whose value cells are rendered at once
SPEC_CHUNK = 30_000  # characters of the spec's JSON per cell (a cell holds 32,767)


def _plain_list(values: np.ndarray) -> list:
    """_plain of each value, fast for a float column."""
    if values.dtype.kind == "f":
        out = values.tolist()
        if np.isnan(values).any():
            out = [None if x != x else x for x in out]
        return out
    return [_plain(v) for v in values]


def _plain(v):
    """A value as the writer wants it: a Python float, int or str; None for missing."""
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def write_model_sheets(w: Writer, spec: Spec, models: dict[str, Model], env: dict,
                       thetas: dict[str, np.ndarray]) -> dict[str, SheetLayout]:
    """The model sheets, side by side: each chunk of rows has its value cells rendered once for every sheet."""
    digest = functools.cache(lambda columns: data_digest([env[c] for c in columns]))  # the same for every sheet
    sheets = [ModelSheet(w, spec, model, env, thetas[name], digest, side_by_side=len(models) > 1)
              for name, model in models.items()]
    if not sheets:
        return {}
    columns, n = sheets[0].columns, sheets[0].n
    data = [env[c] for c in columns]
    for start in range(0, n, CHUNK_ROWS):
        stop = min(n, start + CHUNK_ROWS)
        tails = [value_tails(_plain_list(values[start:stop]), w.strings) for values in data]
        for sheet in sheets:
            sheet.rows(start, stop, tails)
    for sheet in sheets:
        sheet.close()
    return {sheet.model.name: sheet.at for sheet in sheets}


def data_digest(columns: list[np.ndarray]) -> int:
    """A CRC of the value columns, never 0: model sheets written from the same data record the same one (in
    zipout's seam), so a reader may take their rows from one of them."""
    crc = 0
    for values in columns:
        raw = values.tobytes() if values.dtype != object else "\x00".join(map(repr, values)).encode("utf-8", "replace")
        crc = zlib.crc32(raw, crc)
    return crc or 1


class ModelSheet:
    """One model sheet being written: its header rows on creation, then its data rows chunk by chunk."""

    def __init__(self, w: Writer, spec: Spec, model: Model, env: dict, theta: np.ndarray,
                 digest: Callable[[tuple[str, ...]], int], side_by_side: bool):
        """`digest`: data_digest of the env's columns of these names."""
        self.w, self.model, self.env = w, model, env
        self.n = n = len(env[spec.target])
        self.at = at = SheetLayout(spec, model, n, split=env.get("Set") is not None)
        self.columns = columns = at.values + (("Set",) if at.split else ())
        style = w.style
        self.fixed = fixed = {}

        def put(c: int, r: int, value, s: Style) -> None:
            fixed.setdefault(r, {})[c] = (value, style(s))

        widths: dict[int, float] = {}
        for (c, r), text in {**at.titles(), **at.param_labels()}.items():
            put(c, r, text, TITLE if r < HEADER_ROW or c < at.param_col + 1 else HEAD)
            widths[c] = max(widths.get(c, 9), len(text) + 2)
        for c, text in at.headers().items():
            put(c, HEADER_ROW, text, HEAD)
            widths[c] = max(widths.get(c, 9), len(text) + 2)
        for (c, r), formula in at.fixed_formulas().items():
            put(c, r, Formula(formula), METRIC if r < HEADER_ROW and c >= at.col["Loss"] else COMPUTED)
        for (c, r), value in zip(at.param_cells(), np.ravel(theta)):
            put(c, r, float(value), PARAM)
            widths[c] = max(widths.get(c, 9), 10)
        if at.decay_cell_at:
            put(*at.decay_cell_at, float(spec.weight_decay), PARAM)

        settable = at.param_cells() + ([at.decay_cell_at] if at.decay_cell_at else [])
        self.stream = w.sheet(model.name, widths=widths, freeze=(0, HEADER_ROW), rows=n,
                              seam_after=max(r for _, r in settable),
                              rows_are=(at.fingerprint(), digest(columns)),
                              side_by_side=side_by_side)
        for r in range(TITLE_ROW, FIRST_ROW):
            self.stream.row(r, sorted((c, *v) for c, v in fixed.get(r, {}).items()))
        self.value_styles = [(at.col[c], style(FORMATS.get(c, VALUE))) for c in columns]
        self.formula_styles = {name: style(DUMMY if type(op).__name__ == "Dummy" else COMPUTED)
                               for name, op in at.features if op is not None}
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

    def rows(self, start: int, stop: int, tails: list[list[str]]) -> None:
        """Rows start..stop-1 of the data; `tails`: value_tail of each value, a list per column of `columns`."""
        at, fixed, stream, template = self.at, self.fixed, self.stream, self.template
        data = [self.env[c] for c in self.columns]
        for i, row_tails in zip(range(start, stop), zip(*(tails[k] for k in self.order))):
            r = FIRST_ROW + i
            if i > 0 and r not in fixed:
                stream.raw_row(template.render(r, row_tails))
                continue
            cells = {c: (_plain(values[i]), s) for (c, s), values in zip(self.value_styles, data)}
            for name, formula in at.row_formulas(r).items():
                cells[at.col[name]] = (Formula(formula), self.formula_styles[name])
            for c in self.array_cells:
                cells[c] = (self.arrays.get(c) if i == 0 else None, self.w.style(COMPUTED))
            cells.update(fixed.get(r, {}))
            stream.row(r, sorted((c, *v) for c, v in cells.items()))

    def close(self) -> None:
        at, fixed = self.at, self.fixed
        for r in sorted(k for k in fixed if k > at.last_row):
            self.stream.row(r, sorted((c, *v) for c, v in fixed[r].items()))
        self.stream.close()
        for key, value in at.solver_names().items():
            self.w.define(key, value, sheet=self.model.name, hidden=True)
        for key, value in at.metric_names().items():
            self.w.define(key, value, sheet=self.model.name)


def _number(text: str, decimal_comma: bool) -> float | None:
    return parse_number(text.replace(",", ".") if decimal_comma else text)


def write_data_sheet(w: Writer, table: Table) -> None:
    """Every CSV column as read: numbers where the column holds only numbers, text otherwise, empty when missing."""
    header, columns, comma = table.header, table.columns, table.decimal_comma
    numeric = [any(col.distinct) and all(_number(t, comma) is not None for t in col.distinct if t) for col in columns]
    head = w.style(HEAD)
    n = len(table)
    stream = w.sheet(DATA_SHEET, widths={c: min(40, max(10, len(h) + 2)) for c, h in enumerate(header, 1)},
                     freeze=(0, 1), rows=n)
    stream.row(1, [(c, h, head) for c, h in enumerate(header, 1)])
    for start in range(0, n, CHUNK_ROWS):
        stop = min(n, start + CHUNK_ROWS)
        cells = [_data_cells(letter(c), col, start, stop, is_number, comma, w.strings)
                 for c, (col, is_number) in enumerate(zip(columns, numeric), 1)]
        for r, row in zip(range(start + 2, stop + 2), zip(*cells)):
            stream.raw_row(f'<row r="{ROW_MARK}">{"".join(row)}</row>'.replace(ROW_MARK, str(r)).encode())
    stream.close()


def _data_cells(column: str, col: TextColumn, start: int, stop: int, is_number: bool, comma: bool,
                strings) -> list[str]:
    """The cells of rows start..stop-1 of one column (row number still ROW_MARK): a number or text as read, none
    when empty; each distinct text rendered once."""
    used, inverse = np.unique(col.codes[start:stop], return_inverse=True)
    rendered = np.empty(len(used), dtype=object)
    for k, code in enumerate(used.tolist()):
        text = col.distinct[code]
        value = None if text == "" else _number(text, comma) if is_number else text
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
