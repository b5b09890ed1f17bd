"""The live `predict` sheet: new rows, their features and each model's prediction as formulas.

The features use the statistics in the `linear` sheet's cells (its MAX cells: the rows built on, never the new
rows'); each model's columns use that model sheet's parameter cells. Refit with Solver or `xlnet fit`, and the
predictions follow. The sheet is xlnet's own (found by the hidden name `_xlnet_predict`).
"""
from __future__ import annotations

import numpy as np

from xlnet.model.net import SHEETS
from xlnet.model.ops import array_runs, literal
from xlnet.workbook.layout import HEADER_ROW, TITLE_ROW, SheetLayout, absolute
from xlnet.workbook.sheet_data import SheetData
from xlnet.xlsx import parts
from xlnet.xlsx.parts import Formula, Style
from xlnet.xlsx.patch import Patch
from xlnet.xlsx.read import letters

FIRST = HEADER_ROW + 1
HEAD = Style(bold=True, align="center")
VALUE = Style(align="center")
COMPUTED = Style(num_fmt="0.000")
PREDICTION = Style(num_fmt="0.000", bold=True)
DUMMY = Style(num_fmt="0", align="center")
FILLED = Style(align="center", fill="FFEDEDED")  # grey: a missing value, filled as the workbook learned
LABEL = Style(bold=True, align="center")
LABEL_COLUMN = "label"  # a binary target's predicted level, beside each model's probability


class PredictCells:
    """The Cells protocol of formula.py for one model's columns on the predict sheet."""

    def __init__(self, col: dict[str, int], n: int, model_sheet: SheetLayout, stats_sheet: SheetLayout,
                 prefix: str, features: tuple[str, ...]):
        self.col, self.n, self.model_sheet, self.stats_sheet = col, n, model_sheet, stats_sheet
        self.prefix, self.features = prefix, features
        self.row = FIRST

    def key(self, column: str) -> str:
        return column if column in self.col and not column.startswith(" ") else f"{self.prefix} {column}"

    def at_row(self, row) -> "PredictCells":
        self.row = row
        return self

    def cell(self, column):
        return f"{letters(self.col[self.key(column)])}{self.row}"

    def column_range(self, column):
        c = letters(self.col[self.key(column)])
        return f"{c}{FIRST}:{c}{FIRST + self.n - 1}"

    def fixed_cell(self, name):
        return parts.sheet_ref(self.stats_sheet.model.name, absolute(self.stats_sheet.col[name], TITLE_ROW))

    def features_row(self):
        return self.columns_row(self.features)

    def features_all(self):
        return self.columns_all(self.features)

    def columns_row(self, names):
        return f"{self.cell(names[0])}:{self.cell(names[-1])}"

    def columns_all(self, names):
        a, b = (letters(self.col[self.key(n)]) for n in (names[0], names[-1]))
        return f"{a}{FIRST}:{b}{FIRST + self.n - 1}"

    def param_range(self, block="W", k=None):
        return parts.sheet_ref(self.model_sheet.model.name, self.model_sheet.param_range(block, k))

    def param_span(self, block, start, stop=None):
        return parts.sheet_ref(self.model_sheet.model.name, self.model_sheet.param_span(block, start, stop))

    def param_rect(self, block, r0, r1, c0, c1):
        return parts.sheet_ref(self.model_sheet.model.name, self.model_sheet.param_rect(block, r0, r1, c0, c1))

    def labels_row(self, names):
        return parts.sheet_ref(self.model_sheet.model.name, self.model_sheet.labels_row(names))


class PredictLayout:
    """Where things are on the predict sheet: the id, the raw values and the features of the new rows, then each
    model's columns (all but those that need the target) after a gap."""

    def __init__(self, sheets: dict[str, SheetData], id_name: str, n: int):
        self.sheets, self.n = sheets, n
        self.stats = stats = sheets["linear"].layout
        self.levels = stats.spec.target_column.levels if stats.spec.task == "binary" else None
        raw = [c for c in stats.values if c != stats.spec.target and c not in stats.feature_names]
        self.values = [id_name] + raw + [c for c in stats.values if c in stats.feature_names]
        derived = [name for name, _ in stats.derived]
        self.col = {name: i + 1 for i, name in
                    enumerate(dict.fromkeys([id_name] + raw + derived + list(stats.feature_names)))}
        next_col = len(self.col) + 2
        for model in SHEETS:
            for column in self.model_columns(model):
                self.col[f"{model} {column}"] = next_col
                next_col += 1
            next_col += 1

    def model_columns(self, model: str) -> list[str]:
        """A model's columns that new rows have: all but those that need the target; and for a binary target, the
        predicted level."""
        m = self.sheets[model].model
        return [name for name in m.column_names if name not in m.target_columns] + (
            [LABEL_COLUMN] if self.levels else [])

    def header(self, key: str) -> str:
        """A column's header: a model's columns read `nnet·ReLU1`, its output `nnet` alone."""
        model, _, column = key.partition(" ")
        if model not in SHEETS or not column:
            return key
        m = self.sheets[model].model
        return f"{model}·{column}" if column != m.prediction else f"{model} prediction"

    def cells(self, model: str) -> PredictCells:
        """The Cells protocol of one model's columns."""
        return PredictCells(self.col, self.n, self.sheets[model].layout, self.stats, model, self.stats.feature_names)

    def prediction(self, model: str) -> tuple[int, int]:
        """(column, first row) of a model's prediction."""
        return self.col[f"{model} {self.sheets[model].model.prediction}"], FIRST


def write_predict_sheet(patch: Patch, sheets: dict[str, SheetData], env: dict, ids: list[str], id_name: str) -> str:
    """Add or replace xlnet's predict sheet; returns its name."""
    at = PredictLayout(sheets, id_name, len(ids))
    name = patch.owned_sheet("predict") or patch.add_sheet("predict", "predict")
    sheet_xml = parts.SheetXML(patch.strings, patch.styles, freeze_row=HEADER_ROW)
    _titles(sheet_xml, at)
    data = {column: (ids if column == id_name else env[column]) for column in at.values}
    filled = {column: env[("filled", column)] for column in at.values if ("filled", column) in env}
    for i in range(at.n):
        _row(sheet_xml, at, FIRST + i, {column: data[column][i] for column in at.values},
             {column for column, mask in filled.items() if mask[i]})
    for model in SHEETS:
        for names, text in array_runs(sheets[model].model.columns, at.cells(model).at_row(FIRST)):
            first, last = (letters(at.col[f"{model} {column}"]) for column in (names[0], names[-1]))
            sheet_xml.put(FIRST, at.col[f"{model} {names[0]}"],
                          Formula("=" + text, f"{first}{FIRST}:{last}{FIRST + at.n - 1}"), COMPUTED)
    patch.set_sheet(name, sheet_xml.xml())
    patch.print_setup(name, titles=f"$1:${HEADER_ROW}")
    return name


def _titles(sheet_xml: parts.SheetXML, at: PredictLayout) -> None:
    sheet_xml.put(TITLE_ROW, 1, "New rows and each model's prediction, as live formulas over the model sheets' "
                                "parameters and the linear sheet's statistics", Style(bold=True))
    sheet_xml.put(TITLE_ROW + 1, 1, "Grey: a missing value, filled with the value the workbook learned when it was "
                                    "built", FILLED)
    for key, c in at.col.items():
        header = at.header(key)
        sheet_xml.put(HEADER_ROW, c, header, HEAD)
        sheet_xml.widths[c] = max(9, len(header) + 2)
    for model in SHEETS:
        sheet_xml.put(TITLE_ROW + 1, at.col[f"{model} {at.model_columns(model)[0]}"], f"{model}'s columns",
                      Style(bold=True))


def _row(sheet_xml: parts.SheetXML, at: PredictLayout, r: int, values: dict, filled: set[str]) -> None:
    """One new row: its values (grey where filled), its features over the linear sheet's statistics, and each
    model's columns (an array formula's cells are left to its top-left one)."""
    for column, v in values.items():
        sheet_xml.put(r, at.col[column], v.item() if isinstance(v, np.generic) else v,
                      FILLED if column in filled else VALUE)
    cells = at.cells("linear").at_row(r)
    for name, op in at.stats.derived:
        sheet_xml.put(r, at.col[name], Formula("=" + op.formula(cells)), VALUE)
    for feature, op in at.stats.features:
        if op is not None:
            sheet_xml.put(r, at.col[feature], Formula("=" + op.formula(cells)),
                          DUMMY if type(op).__name__ == "Dummy" else COMPUTED)
    for model in SHEETS:
        cells = at.cells(model).at_row(r)
        m = at.sheets[model].model
        for column, op in m.columns:
            if column in m.target_columns:
                continue
            style = PREDICTION if column == m.prediction else COMPUTED
            formula = None if getattr(op, "array", False) else Formula("=" + op.formula(cells))
            sheet_xml.put(r, at.col[f"{model} {column}"], formula, style)
        if at.levels:
            negative, positive = map(literal, at.levels)
            sheet_xml.put(r, at.col[f"{model} {LABEL_COLUMN}"],
                          Formula(f"=IF({cells.cell(m.prediction)}>0.5,{positive},{negative})"), LABEL)


def predict_columns(sheets: dict[str, SheetData]) -> dict[str, tuple[int, int]]:
    """(column, first row) of each model's prediction on the predict sheet, as write_predict_sheet places them."""
    at = PredictLayout(sheets, "id", 0)
    return {model: at.prediction(model) for model in SHEETS}
