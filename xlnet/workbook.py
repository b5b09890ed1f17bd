"""Writing the lesson's workbook, and reading back what fit and compare need from it."""
from __future__ import annotations

import functools
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter as letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula

from .data import LEVELS
from .errors import XlnetError
from .features import FEATURE_NAMES, VALUE_COLUMNS, feature_matrix
from .layout import DATA_SHEET, FIRST_ROW, HEADER_ROW, MODEL_SHEETS, SET_COL, SETS, SheetLayout
from .models import MODELS

if TYPE_CHECKING:
    import pandas as pd

BOLD = Font(bold=True)
FORMATS = {"Fare": "0.00", "Age_N": "0.000", "log_Fare": "0.000", "param": "0.0000",
           "metric": "0.000000", "computed": "0.000"}


def starting_params(seed: int | None) -> dict[str, np.ndarray]:
    """The lesson's RAND()-0.5 for every parameter, reproducible from one seed."""
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-0.5, 0.5, MODELS[name].param_shape) for name in MODEL_SHEETS}


def value_env(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The value columns of a model sheet, from the kept passenger rows."""
    env = {c: rows[c].to_numpy(dtype=object if c in ("Sex", "Embarked") else float) for c in VALUE_COLUMNS
           if c != "Ones"}
    env["Ones"] = np.ones(len(rows))
    if "Set" in rows:
        env["Set"] = rows["Set"].to_numpy(dtype=object)
    return env


def _text(cell, value) -> None:
    """A string stays text, never a formula, whatever it starts with."""
    cell.value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, str):
        cell.data_type = "s"


def _write_model_sheet(ws, name: str, env: dict, W: np.ndarray) -> None:
    at = SheetLayout(MODELS[name], len(env["Survived"]), split="Set" in env)
    columns = VALUE_COLUMNS + (("Set",) if at.split else ())
    widths: dict[int, int] = {}
    labels = [(c, r, text) for (c, r), text in {**at.titles(), **at.param_labels()}.items()]
    labels += [(c, HEADER_ROW, header) for c, header in at.headers().items()]
    for c, r, text in labels:
        ws.cell(r, c, text).font = BOLD
        widths[c] = max(widths.get(c, 9), len(text) + 2)
    for c, width in widths.items():
        ws.column_dimensions[letter(c)].width = width
    for (c, r), formula in at.fixed_formulas().items():
        ws.cell(r, c, formula).number_format = FORMATS["computed"]
    for c, r in at.metric_at.values():
        ws.cell(r, c).number_format = FORMATS["metric"]
    write_params(ws, MODELS[name], at.n, W)
    array_columns = at.array[2] if at.array else ()
    for i in range(at.n):
        row = FIRST_ROW + i
        for column in columns:
            cell = ws.cell(row, at.col[column])
            _text(cell, env[column][i])
            if column in FORMATS:
                cell.number_format = FORMATS[column]
        for column, formula in at.row_formulas(row).items():
            cell = ws.cell(row, at.col[column], formula)
            cell.number_format = FORMATS.get(column, "0" if column in FEATURE_NAMES else FORMATS["computed"])
        for column in array_columns:
            ws.cell(row, at.col[column]).number_format = FORMATS["computed"]
    if at.array:
        rng, formula, names = at.array
        ws.cell(FIRST_ROW, at.col[names[0]]).value = ArrayFormula(rng, formula)
    ws.freeze_panes = ws.cell(FIRST_ROW, 1)
    for key, value in at.solver_names().items():
        ws.defined_names[key] = DefinedName(key, attr_text=value, hidden=True)
    for key, value in at.metric_names().items():
        ws.defined_names[key] = DefinedName(key, attr_text=value)


def as_stored(W: np.ndarray) -> np.ndarray:
    """W as the workbook holds it: openpyxl writes 16 significant digits."""
    return np.array([float("%.16g" % v) for v in np.ravel(W)]).reshape(np.shape(W))


def write_params(ws, model, n: int, W: np.ndarray) -> None:
    for i, cells in enumerate(SheetLayout(model, n).param_cells()):
        for j, (c, r) in enumerate(cells):
            ws.cell(r, c, float(W[i, j])).number_format = FORMATS["param"]


def _write_data_sheet(ws, raw: pd.DataFrame) -> None:
    for c, name in enumerate(raw.columns, 1):
        ws.cell(1, c, name).font = BOLD
        ws.column_dimensions[letter(c)].width = 40 if name == "Name" else 10
    for r, record in enumerate(raw.itertuples(index=False), 2):
        for c, value in enumerate(record, 1):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            _text(ws.cell(r, c), value)
    ws.freeze_panes = "A2"


def build_workbook(raw: pd.DataFrame, kept: pd.DataFrame, params: dict[str, np.ndarray]) -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    env = value_env(kept)
    for name in MODEL_SHEETS:
        _write_model_sheet(wb.create_sheet(name), name, env, params[name])
    _write_data_sheet(wb.create_sheet(DATA_SHEET), raw)
    wb.calculation.fullCalcOnLoad = True
    return wb


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def save_atomically(wb: Workbook, path: str | Path) -> None:
    """Write beside the target, then rename: a failure never leaves a half-written workbook."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        wb.save(tmp)
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else _default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class SheetData:
    """What one model sheet holds: its value columns, features, and parameters."""
    name: str
    env: dict
    W: np.ndarray

    @property
    def sets(self) -> np.ndarray | None:
        return self.env.get("Set")

    @functools.cached_property
    def X(self) -> np.ndarray:
        return feature_matrix(self.env)

    @property
    def y(self) -> np.ndarray:
        return self.env["Survived"]

    def metrics(self, W: np.ndarray | None = None) -> dict[str, float]:
        """The summary cells (train loss, and with a validation set its loss and the accuracies)."""
        model = MODELS[self.name]
        env = model.evaluate(self.X, self.y, self.W if W is None else W, self.sets)
        return {name: float(env[name]) for name in model.metrics(self.sets is not None)}

    def loss(self, W: np.ndarray | None = None) -> float:
        return self.metrics(W)["train_loss"]

    def train_rows(self) -> np.ndarray:
        return np.ones(len(self.y), bool) if self.sets is None else self.sets == "train"

    def train_data(self) -> tuple[np.ndarray, np.ndarray]:
        """X and y of the rows a fit learns from."""
        train = self.train_rows()
        return self.X[train], self.y[train]


MAX_UNZIPPED = 2 << 30  # bytes a workbook may unpack to
MAX_RATIO = 200          # how much one part may expand; real workbooks stay under 30
PROLOG_BYTES = 1 << 16   # where an XML part's DTD would have to be


def _check_zip(path: Path) -> None:
    """Refuse a file that is not a zip, one that would unpack to far more than it holds (a zip bomb), or one
    whose XML declares entities (an entity bomb: openpyxl parses some parts with lxml, not defusedxml)."""
    try:
        with zipfile.ZipFile(path) as z:
            parts = z.infolist()
            total = sum(p.file_size for p in parts)
            swollen = [p.filename for p in parts
                       if p.file_size > (1 << 20) and p.file_size > MAX_RATIO * p.compress_size]
            if total > MAX_UNZIPPED or swollen:
                raise XlnetError(f"{path}: refused: it would unpack to {total:,} bytes"
                                 + (f" ({swollen[0]} expands over {MAX_RATIO} times)" if swollen else "")
                                 + "; this is not a workbook xlnet made.")
            for part in parts:
                if part.filename.endswith((".xml", ".rels")):
                    with z.open(part) as f:
                        head = f.read(PROLOG_BYTES)
                    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                        raise XlnetError(f"{path}: refused: {part.filename} declares a DTD or entities, which "
                                         "no workbook needs; the file was crafted or corrupted.")
    except (zipfile.BadZipFile, OSError, EOFError):
        raise XlnetError(f"{path}: not an .xlsx workbook (not a zip file); "
                         "make one with `xlnet build` or save it from Excel as .xlsx.") from None


def open_workbook(path: str | Path) -> Workbook:
    """Load a workbook that may come from anywhere: zip bombs and XML entity tricks are refused."""
    path = Path(path)
    if not path.is_file():
        raise XlnetError(f"{path}: no such workbook; make one with `xlnet build`.")
    _check_zip(path)
    try:
        return load_workbook(path)
    except Exception as e:  # openpyxl and defusedxml raise many kinds on a file that is not a sound xlsx
        raise XlnetError(f"{path}: not a readable .xlsx workbook ({type(e).__name__}: {str(e)[:120]}).") from None


def _normal(formula) -> str:
    return "".join(str(formula).split()).upper()


def check_sheet(ws, layout: SheetLayout, path: str | Path) -> None:
    """The sheet still computes what xlnet computes: Solver's names and every formula are where xlnet put them."""
    where = f"{path}: sheet {ws.title!r}"
    expected = {"solver_opt": f"{ws.title}!{layout.loss_cell()}", "solver_adj": f"{ws.title}!{layout.param_range()}"}
    for name, target in expected.items():
        if name in ws.defined_names and _normal(ws.defined_names[name].attr_text) != _normal(target):
            raise XlnetError(f"{where}: Solver's {name} points at {ws.defined_names[name].attr_text}, "
                             f"but xlnet's {'loss cell' if name == 'solver_opt' else 'parameter block'} is "
                             f"{target}; the sheet was rearranged: rebuild it with `xlnet build`.")
    differ = []
    for (c, r), formula in layout.formulas().items():
        value = ws.cell(r, c).value
        found = ("=" + value.text.lstrip("=")) if isinstance(value, ArrayFormula) else value
        if _normal(found) != _normal(formula):
            differ.append(f"{letter(c)}{r} holds {found!r:.60}, xlnet wrote {formula!r:.60}")
    if differ:
        raise XlnetError(f"{where}: {len(differ)} cell(s) differ from the formulas xlnet wrote, so its losses would "
                         f"not be the ones the sheet computes: " + "; ".join(differ[:3])
                         + ("; ..." if len(differ) > 3 else "") + ". Undo the edits or rebuild with `xlnet build`.")


NUMERIC = {"Survived", "Pclass", "Age", "Fare", "SibSp", "Parch", "Ones"}


def read_sheet(wb: Workbook, name: str, path: str | Path = "workbook") -> SheetData:
    """A model sheet's passengers and parameters, as they are in the workbook now."""
    if name not in wb.sheetnames:
        raise XlnetError(f"{path}: the sheet {name!r} is missing (sheets: {', '.join(wb.sheetnames)}); "
                         "rebuild the workbook with `xlnet build`.")
    ws = wb[name]
    split = ws.cell(HEADER_ROW, SET_COL).value == "Set"
    layout = SheetLayout(MODELS[name], 0, split)
    cols = {c: layout.col[c] for c in VALUE_COLUMNS + (("Set",) if split else ())}
    width = max(cols.values())
    rows = []
    for r, values in enumerate(ws.iter_rows(min_row=FIRST_ROW, max_col=width, values_only=True), FIRST_ROW):
        if values[cols["Survived"] - 1] is None:
            break
        rows.append((r, values))
    if not rows:
        raise XlnetError(f"{path}: sheet {name!r} has no passenger rows from row {FIRST_ROW}.")
    env = {}
    for column, c in cols.items():
        values = [v[c - 1] for _, v in rows]
        for (r, _), v in zip(rows, values):
            if column in NUMERIC:
                ok, want = isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v), "a number"
            elif column == "Set":
                ok, want = v in SETS, "train or valid"
            elif column in LEVELS:
                ok, want = v in LEVELS[column], " or ".join(LEVELS[column])
            else:
                ok, want = isinstance(v, str), "text"
            if not ok:
                raise XlnetError(f"{path}: sheet {name!r}, cell {letter(c)}{r} ({column}) holds {v!r}; "
                                 f"it must be {want}.")
        env[column] = np.array(values, dtype=float if column in NUMERIC else object)
    if (env["Fare"] < 0).any() or env["Age"].max() <= 0:
        raise XlnetError(f"{path}: sheet {name!r}: a Fare is negative or no Age is above 0, so LOG10 or Age/MAX(Age) "
                         "fails in the sheet; correct the data rows.")
    if split and not (env["Set"] == "train").any():
        raise XlnetError(f"{path}: sheet {name!r} has no row marked train in its Set column; mark some.")
    layout = SheetLayout(MODELS[name], len(rows), split)
    W = np.empty(MODELS[name].param_shape)
    for i, cells in enumerate(layout.param_cells()):
        for j, (c, r) in enumerate(cells):
            v = ws.cell(r, c).value
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v):
                raise XlnetError(f"{path}: sheet {name!r}, parameter cell {letter(c)}{r} holds {v!r}; "
                                 "it must be a number.")
            W[i, j] = v
    check_sheet(ws, layout, path)
    return SheetData(name, env, W)
