"""The workbook layout: sheet names, cell addresses and the formula of every cell.

This is the one place that knows where things are. The writer, the reader and the
checks of a workbook a user has edited all ask it. Addresses follow from the widths
of the parts: the value columns, the features, an optional Set column, the
parameter blocks, the model columns.
"""
from __future__ import annotations

import zlib

from xlnet.model.features import derived, features, value_columns
from xlnet.model.net import Model
from xlnet.model.ops import Max, Op, array_runs
from xlnet.model.spec import Spec
from xlnet.xlsx.parts import SOLVER_OPTIONS
from xlnet.xlsx.read import letters as letter

DATA_SHEET = "data"
SPEC_SHEET = "xlnet"
HISTORY_SHEET = "history"
CURVES_SHEET = "curves"
TITLE_ROW, HEADER_ROW, FIRST_ROW = 1, 3, 4
LABEL_ROW = 2  # the class above each probability column of a multi-class sheet
MAX_ROWS = 1_048_576 - FIRST_ROW + 1  # rows that fit on a worksheet under the headers
SETS = ("train", "valid")
SCORE_LABELS = {"accuracy": "accuracy", "r2": "R²"}


def absolute(col: int, row: int) -> str:
    return f"${letter(col)}${row}"


def metric_label(name: str, split: bool) -> str:
    if name in ("objective", "weight_decay"):
        return {"objective": "Objective:", "weight_decay": "Weight decay:"}[name]
    which, kind = name.split("_", 1)
    kind = SCORE_LABELS.get(kind, kind)
    if not split:
        return "Mean loss:" if kind == "loss" else f"{kind[0].upper()}{kind[1:]}:"
    return f"{which.capitalize()} {kind}:"


class SheetLayout:
    """Where everything is on one model sheet holding `n` rows."""

    def __init__(self, spec: Spec, model: Model, n: int, split: bool = False):
        self.spec, self.model, self.n, self.split = spec, model, n, split
        self.last_row = FIRST_ROW + n - 1
        self.derived = derived(spec)
        self.features = features(spec)
        self.feature_names = tuple(name for name, _ in self.features)
        self.values = value_columns(spec)
        names = tuple(spec.raw) + tuple(name for name, _ in self.derived) + self.feature_names
        self.col = {name: i + 1 for i, name in enumerate(names)}
        last_feature = len(names)
        self.set_col = last_feature + 1
        if split:
            self.col["Set"] = self.set_col
        self.param_col = last_feature + 2
        self.blocks: dict[str, tuple[int, int, int, int]] = {}  # name -> (c0, r0, c1, r1) of the values
        top, right = FIRST_ROW, self.param_col
        for block in model.blocks:
            rows, cols = block.shape
            c0 = self.param_col + (1 if block.row_labels else 0)
            self.blocks[block.name] = (c0, top, c0 + cols - 1, top + rows - 1)
            right = max(right, c0 + cols - 1)
            top += rows + 2
        for i, name in enumerate(model.column_names):
            self.col[name] = right + 2 + i
        c = self.col["Loss"]
        score = next(k for k in model.metrics(True) if k.startswith("train_") and k != "train_loss").split("_", 1)[1]
        self.metric_at = {"train_loss": (c, TITLE_ROW), "valid_loss": (c, TITLE_ROW + 1),
                          f"train_{score}": (c + 2, TITLE_ROW), f"valid_{score}": (c + 2, TITLE_ROW + 1)}
        if model.decay:  # what Solver minimises, and the decay it adds, right of the scores
            self.metric_at.update({"objective": (c + 4, TITLE_ROW), "weight_decay": (c + 4, TITLE_ROW + 1)})
        self.metrics = model.metrics(split)
        self.loss_cell_at = self.metric_at["objective" if model.decay else "train_loss"]
        self.decay_cell_at = self.metric_at.get("weight_decay")
        self.statistics = {self._stat_column(op): op for _, op in self.features
                           if op is not None and self._stat_column(op)}
        self.arrays = self._array_formulas()
        self.row = FIRST_ROW

    @staticmethod
    def set_column(spec: Spec) -> int:
        """The column of the Set marks (train or valid), where a sheet has them: right of the features."""
        return len(spec.raw) + len(spec.derived) + len(features(spec)) + 1

    @staticmethod
    def _stat_column(op: Op) -> str | None:
        """The column whose statistic a feature divides by (Age for Age/MAX(Age))."""
        b = getattr(op, "b", None)
        return b.name if isinstance(b, Max) else None

    # The Cells protocol of formula.py, for the row being rendered.
    def at_row(self, row) -> "SheetLayout":
        self.row = row
        return self

    def cell(self, column: str) -> str:
        return f"{letter(self.col[column])}{self.row}"

    def column_range(self, column: str) -> str:
        c = letter(self.col[column])
        return f"{c}{FIRST_ROW}:{c}{self.last_row}"

    def fixed_cell(self, name: str) -> str:
        return absolute(self.col[name], TITLE_ROW)

    def summary_cell(self, name: str) -> str:
        return absolute(*self.metric_at[name])

    def features_row(self) -> str:
        return self.columns_row(self.feature_names)

    def features_all(self) -> str:
        return self.columns_all(self.feature_names)

    def columns_row(self, names: tuple[str, ...]) -> str:
        return f"{letter(self.col[names[0]])}{self.row}:{letter(self.col[names[-1]])}{self.row}"

    def columns_all(self, names: tuple[str, ...]) -> str:
        return f"{letter(self.col[names[0]])}{FIRST_ROW}:{letter(self.col[names[-1]])}{self.last_row}"

    def param_range(self, block: str = "W", k: int | None = None) -> str:
        c0, r0, c1, r1 = self.blocks[block]
        if k is not None:  # unit k's row (only where units are rows)
            r0 = r1 = r0 + k
        return f"{absolute(c0, r0)}:{absolute(c1, r1)}"

    def param_span(self, block: str, start: int, stop: int | None = None) -> str:
        """Cells start..stop-1 of a block that is one row or one column (one cell when stop is None)."""
        cells = [cell for row in self.block_cells(block) for cell in row]
        (ca, ra) = cells[start]
        if stop is None:
            return absolute(ca, ra)
        (cb, rb) = cells[stop - 1]
        return f"{absolute(ca, ra)}:{absolute(cb, rb)}"

    def param_rect(self, block: str, r0: int, r1: int, c0: int, c1: int) -> str:
        """Rows r0..r1-1 and columns c0..c1-1 of a block (a single cell where that is one)."""
        top, left = self.blocks[block][1] + r0, self.blocks[block][0] + c0
        bottom, right = top + r1 - r0 - 1, left + c1 - c0 - 1
        return absolute(left, top) if (top, left) == (bottom, right) else \
            f"{absolute(left, top)}:{absolute(right, bottom)}"

    def labels_row(self, names: tuple[str, ...]) -> str:
        """The cells above these columns that hold the classes they stand for (a multi-class sheet's
        probabilities)."""
        return f"{absolute(self.col[names[0]], LABEL_ROW)}:{absolute(self.col[names[-1]], LABEL_ROW)}"

    # Addresses the writer and the reader share.
    def block_cells(self, block: str) -> list[list[tuple[int, int]]]:
        c0, r0, c1, r1 = self.blocks[block]
        return [[(c, r) for c in range(c0, c1 + 1)] for r in range(r0, r1 + 1)]

    def param_cells(self) -> list[tuple[int, int]]:
        """(column, row) of each parameter, in the order of the model's parameter vector."""
        return [cell for b in self.model.blocks for row in self.block_cells(b.name) for cell in row]

    def param_names(self) -> list[str]:
        """A readable name for each parameter: its unit and its feature (or input)."""
        out = []
        for b in self.model.blocks:
            rows, cols = b.shape
            for i in range(rows):
                for j in range(cols):
                    if b.row_labels and b.col_labels:
                        out.append(f"{b.col_labels[j]}·{b.row_labels[i]}")
                    elif b.name == "W" and rows > 1:
                        out.append(f"unit{i + 1}·{b.col_labels[j]}")
                    else:
                        out.append((b.col_labels or b.row_labels)[j if b.col_labels else i])
        return out

    def param_labels(self) -> dict[tuple[int, int], str]:
        """Labels beside the parameter blocks: the feature names, and the units."""
        labels = {}
        for b in self.model.blocks:
            c0, r0, c1, r1 = self.blocks[b.name]
            labels.update({(c0 + j, r0 - 1): text for j, text in enumerate(b.col_labels)})
            labels.update({(c0 - 1, r0 + i): text for i, text in enumerate(b.row_labels)})
            if b.row_labels and b.name == "W":
                labels[(c0 - 1, r0 - 1)] = "Column"
        return labels

    def loss_cell(self) -> str:
        return absolute(*self.loss_cell_at)

    def _array_formulas(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """The sheet's array formulas: (range, formula, the columns it fills), one per run of array columns."""
        return [(f"{letter(self.col[names[0]])}{FIRST_ROW}:{letter(self.col[names[-1]])}{self.last_row}",
                 "=" + text, names) for names, text in array_runs(self.model.columns, self.at_row(FIRST_ROW))]

    @property
    def col_numbers(self) -> set[int]:
        """Columns of a data row: its values, features and model columns."""
        return {c for name, c in self.col.items()}

    @property
    def array_columns(self) -> set[str]:
        return {name for _, _, names in self.arrays for name in names}

    def row_formulas(self, row) -> dict[str, str]:
        """Formula of each computed cell of one row, by column name."""
        self.at_row(row)
        out = {name: "=" + op.formula(self) for name, op in self.derived + self.features if op is not None}
        skip = self.array_columns
        out.update({name: "=" + op.formula(self) for name, op in self.model.columns if name not in skip})
        return out

    def fingerprint(self) -> int:
        """A CRC of what a data row holds (its columns, value cells and formulas), never 0: recorded beside a sheet
        xlnet writes (zipout's seam), so that a reader knows the rows were written for this very layout."""
        row = sorted(self.row_formulas("\x00").items())
        what = repr((sorted(self.col.items()), list(self.values), self.split, row, sorted(self.array_columns)))
        return zlib.crc32(what.encode()) or 1

    def fixed_formulas(self) -> dict[tuple[int, int], str]:
        """Formulas outside the rows: the statistics above their columns, and the metric cells."""
        out = {(self.col[name], TITLE_ROW): "=" + op.b.statistic(self.column_range(name))
               for name, op in self.statistics.items()}
        out.update({self.metric_at[name]: "=" + op.formula(self) for name, op in self.metrics.items()})
        return out

    def metric_names(self) -> dict[str, str]:
        """Sheet-local names of the summary cells, with a validation set (the lesson has none)."""
        if not self.split:
            return {}
        return {name: f"{self.model.name}!{absolute(*self.metric_at[name])}" for name in self.metrics}

    def formulas(self) -> dict[tuple[int, int], str]:
        """Every formula cell of the sheet, (column, row) -> formula; each array formula at its top-left cell."""
        out = {}
        for row in range(FIRST_ROW, self.last_row + 1):
            out.update({(self.col[name], row): f for name, f in self.row_formulas(row).items()})
        out.update(self.fixed_formulas())
        for _, formula, names in self.arrays:
            out[(self.col[names[0]], FIRST_ROW)] = formula
        return out

    def solver_adj(self) -> str:
        return ",".join(f"{self.model.name}!{self.param_range(b.name)}" for b in self.model.blocks)

    def solver_names(self) -> dict[str, str]:
        return {"solver_opt": f"{self.model.name}!{self.loss_cell()}", "solver_adj": self.solver_adj(),
                **SOLVER_OPTIONS}

    def titles(self) -> dict[tuple[int, int], str]:
        out = {(1, TITLE_ROW): "Data", (self.param_col, TITLE_ROW): "Params"}
        for name, op in self.statistics.items():
            c = self.col[name]
            label = "Max:" if op.b.how == "max" else "Max |x|:"
            out[(c - 1, TITLE_ROW) if (c - 1, TITLE_ROW) not in out and c - 1 > 1
                and not any(self.col[o] == c - 1 for o in self.statistics) else (c, TITLE_ROW + 1)] = label
        out.update({(c - 1, r): metric_label(name, self.split) for name, (c, r) in self.metric_at.items()
                    if name in self.metrics or name == "weight_decay"})
        out.setdefault((self.col[self.model.column_names[0]], TITLE_ROW), "Model")
        return {**out, **self.class_labels()}

    def class_labels(self) -> dict[tuple[int, int], object]:
        """A multi-class sheet's classes, each above its probability column: the predicted-class formula reads
        them (so a class of numbers is a number, as the target column holds it)."""
        return {(self.col[name], LABEL_ROW): level
                for name, level in zip(self.model.probabilities, self.spec.classes)}

    def headers(self) -> dict[int, str]:
        return {c: name for name, c in self.col.items()}
