"""The workbook layout: sheet names, cell addresses and the formula of every cell.

This is the one place that knows where things are. The writer, the reader and the
checks of a workbook a user has edited all ask it.
"""
from __future__ import annotations

from openpyxl.utils import get_column_letter as letter

from .features import FEATURE_NAMES, FEATURES, RAW
from .formula import MMult
from .models import MODELS, Model

DATA_SHEET = "data"
HISTORY_SHEET = "history"
CURVES_SHEET = "curves"
MODEL_SHEETS = tuple(MODELS)
TITLE_ROW, HEADER_ROW, FIRST_ROW = 1, 3, 4
MAX_ROWS = 1_048_576 - FIRST_ROW + 1  # passengers that fit on a worksheet under the headers
PARAM_COL = 18  # R, as in the reference workbook
SET_COL = 17    # Q, empty in the lesson's layout: train/valid marks when there is a validation set
SETS = ("train", "valid")
METRIC_LABELS = {"train_loss": "Total loss:", "valid_loss": "Valid loss:",
                 "train_accuracy": "Train accuracy:", "valid_accuracy": "Valid accuracy:"}
MAX_ROW_OF = {"Age": TITLE_ROW}  # columns whose MAX sits above them

SOLVER_OPTIONS = {  # Excel Solver's model, as the reference workbook stores it
    "solver_typ": "2", "solver_eng": "1", "solver_neg": "2", "solver_num": "0", "solver_ver": "3",
    "solver_cvg": "0.0001", "solver_drv": "1", "solver_est": "1", "solver_itr": "2147483647",
    "solver_mip": "2147483647", "solver_mni": "30", "solver_mrt": "0.075", "solver_msl": "2",
    "solver_nod": "2147483647", "solver_nwt": "1", "solver_pre": "0.000001", "solver_rbv": "1",
    "solver_rlx": "2", "solver_rsd": "0", "solver_scl": "1", "solver_sho": "2", "solver_ssz": "100",
    "solver_tim": "2147483647", "solver_tol": "0.01", "solver_val": "0",
    # LibreOffice 24.2+ reads this; without it, it would pick a linear engine.
    "solver_lo_eng": '"com.sun.star.comp.Calc.NLPSolver.DEPSSolverImpl"',
}


def absolute(col: int, row: int) -> str:
    return f"${letter(col)}${row}"


class SheetLayout:
    """Where everything is on one model sheet holding `n` passengers."""

    def __init__(self, model: Model, n: int, split: bool = False):
        self.model, self.n, self.split = model, n, split
        self.last_row = FIRST_ROW + n - 1
        names = RAW + FEATURE_NAMES
        self.col = {name: i + 1 for i, name in enumerate(names)}
        if split:
            self.col["Set"] = SET_COL
        rows, cols = model.param_shape
        if model.units_in_rows:   # labels above the block: R3:AA3, values R4:AA(3+rows)
            self.param_top_left = (PARAM_COL, FIRST_ROW)
        else:                     # labels left of the block: R4:R13, values S4:T13
            self.param_top_left = (PARAM_COL + 1, FIRST_ROW)
        c0, r0 = self.param_top_left
        self.param_bottom_right = (c0 + cols - 1, r0 + rows - 1)
        first_model_col = self.param_bottom_right[0] + 2
        for i, name in enumerate(model.column_names):
            self.col[name] = first_model_col + i
        c = self.col["Loss"]
        self.metric_at = {"train_loss": (c, TITLE_ROW), "valid_loss": (c, TITLE_ROW + 1),
                          "train_accuracy": (c + 2, TITLE_ROW), "valid_accuracy": (c + 2, TITLE_ROW + 1)}
        self.metrics = model.metrics(split)
        self.loss_cell_at = self.metric_at["train_loss"]
        self.array = self._array_formula()

    # The Cells protocol of formula.py, for the row being rendered.
    def at_row(self, row: int) -> "SheetLayout":
        self.row = row
        return self

    def cell(self, column: str) -> str:
        return f"{letter(self.col[column])}{self.row}"

    def column_range(self, column: str) -> str:
        c = letter(self.col[column])
        return f"{c}{FIRST_ROW}:{c}{self.last_row}"

    def fixed_cell(self, name: str) -> str:
        return absolute(self.col[name], MAX_ROW_OF[name])

    def features_row(self) -> str:
        first, last = FEATURE_NAMES[0], FEATURE_NAMES[-1]
        return f"{letter(self.col[first])}{self.row}:{letter(self.col[last])}{self.row}"

    def features_all(self) -> str:
        first, last = FEATURE_NAMES[0], FEATURE_NAMES[-1]
        return f"{letter(self.col[first])}{FIRST_ROW}:{letter(self.col[last])}{self.last_row}"

    def param_range(self, k: int | None = None) -> str:
        (c0, r0), (c1, r1) = self.param_top_left, self.param_bottom_right
        if k is not None:  # unit k's row (only where units are rows)
            r0 = r1 = r0 + k
        return f"{absolute(c0, r0)}:{absolute(c1, r1)}"

    # Addresses the writer and the reader share.
    def param_cells(self) -> list[list[tuple[int, int]]]:
        """(column, row) of each parameter, shaped as model.param_shape."""
        (c0, r0), (c1, r1) = self.param_top_left, self.param_bottom_right
        return [[(c, r) for c in range(c0, c1 + 1)] for r in range(r0, r1 + 1)]

    def param_labels(self) -> dict[tuple[int, int], str]:
        """Header cells of the parameter block: the feature names, and the unit names."""
        c0, r0 = self.param_top_left
        rows, cols = self.model.param_shape
        if self.model.units_in_rows:
            return {(c0 + i, HEADER_ROW): name for i, name in enumerate(FEATURE_NAMES)}
        labels = {(c0 - 1, r0 + i): name for i, name in enumerate(FEATURE_NAMES)}
        labels[(c0 - 1, HEADER_ROW)] = "Column"
        labels.update({(c0 + j, HEADER_ROW): f"Param{j + 1}" for j in range(cols)})
        return labels

    def loss_cell(self) -> str:
        return absolute(*self.loss_cell_at)

    def _array_formula(self) -> tuple[str, str, list[str]] | None:
        """The one array formula of the sheet, if any: (range, formula, the columns it fills)."""
        names = [name for name, op in self.model.columns if isinstance(op, MMult)]
        if not names:
            return None
        op = dict(self.model.columns)[names[0]]
        rng = f"{letter(self.col[names[0]])}{FIRST_ROW}:{letter(self.col[names[-1]])}{self.last_row}"
        return rng, "=" + op.formula(self), names

    def row_formulas(self, row: int) -> dict[str, str]:
        """Formula of each computed cell of one passenger's row, by column name."""
        self.at_row(row)
        out = {name: "=" + op.formula(self) for name, op in FEATURES if op is not None}
        skip = self.array[2] if self.array else ()
        out.update({name: "=" + op.formula(self) for name, op in self.model.columns if name not in skip})
        return out

    def fixed_formulas(self) -> dict[tuple[int, int], str]:
        """Formulas outside the rows: column maxima and the loss cell."""
        out = {(self.col[name], row): f"=MAX({self.column_range(name)})" for name, row in MAX_ROW_OF.items()}
        out.update({self.metric_at[name]: "=" + op.formula(self) for name, op in self.metrics.items()})
        return out

    def metric_names(self) -> dict[str, str]:
        """Sheet-local names of the summary cells, with a validation set (the lesson has none)."""
        if not self.split:
            return {}
        return {name: f"{self.model.name}!{absolute(*self.metric_at[name])}" for name in self.metrics}

    def formulas(self) -> dict[tuple[int, int], str]:
        """Every formula cell of the sheet, (column, row) -> formula; the array formula at its top-left cell."""
        out = {}
        for row in range(FIRST_ROW, self.last_row + 1):
            out.update({(self.col[name], row): f for name, f in self.row_formulas(row).items()})
        out.update(self.fixed_formulas())
        if self.array:
            out[(self.col[self.array[2][0]], FIRST_ROW)] = self.array[1]
        return out

    def solver_names(self) -> dict[str, str]:
        sheet = self.model.name
        return {"solver_opt": f"{sheet}!{self.loss_cell()}",
                "solver_adj": f"{sheet}!{self.param_range()}", **SOLVER_OPTIONS}

    def titles(self) -> dict[tuple[int, int], str]:
        out = {(1, TITLE_ROW): "Data", (self.col["Age"] - 1, TITLE_ROW): "Max:", (PARAM_COL, TITLE_ROW): "Params"}
        labels = dict(METRIC_LABELS, train_loss="Train loss:") if self.split else METRIC_LABELS
        out.update({(c - 1, r): labels[name] for name, (c, r) in self.metric_at.items() if name in self.metrics})
        first_model_col = self.col[self.model.column_names[0]]
        out.setdefault((first_model_col, TITLE_ROW), "Model")
        return out

    def headers(self) -> dict[int, str]:
        return {c: name for name, c in self.col.items()}
