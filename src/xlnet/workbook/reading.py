"""Reading a model sheet back: its rows, parameters and weight decay, checked against the layout.

Reading streams the sheet once. Every row's formulas are compared with the layout's template for that row, so a
workbook whose formulas were edited is named cell by cell instead of being fitted to a loss it does not compute.
Rows as xlnet wrote them take the fast path (fast_rows); a sheet whose rows after its seam another sheet holds
(the same data digest) reads only its head and takes the rest from that sheet, its donor.
"""
from __future__ import annotations

import numpy as np

from xlnet.errors import XlnetError
from xlnet.model.features import derive, features
from xlnet.model.net import SHEETS, Model, build_model
from xlnet.model.spec import Spec, level_key
from xlnet.workbook.checks import check_data, check_names, check_values, is_number, normal, value_rule
from xlnet.workbook.fast_rows import FAST, ROW_TOKEN, RowShape, Written, merge_fast, rows_of
from xlnet.workbook.layout import FIRST_ROW, HEADER_ROW, SheetLayout
from xlnet.workbook import summary
from xlnet.workbook.sheet_data import RowsOnDemand, SheetData
from xlnet.xlsx.read import Package, letters
from xlnet.workers import can_fork, forked_map

PARALLEL_BYTES = 64 << 20  # sheets larger than this in all are read a process per core


def model_of(spec: Spec, name: str) -> Model:
    return build_model(name, spec, tuple(feature for feature, _ in features(spec)))


def read_sheet(pkg: Package, name: str, spec: Spec, donor: SheetData | None = None) -> SheetData:
    """A model sheet's rows and parameters, as they are in the workbook now, checked against the layout.

    `donor`: a sheet read from the same workbook whose seam records the same data (zipout's seam, writing.
    DataDigest): this sheet's rows after its own seam are then the donor's, and only the rows before it are read
    (where they do not match the donor's, the whole sheet is read after all)."""
    if name not in SHEETS or pkg.sheet(name) is None:
        raise XlnetError(f"{pkg.path}: the sheet {name!r} is missing (sheets: "
                         f"{', '.join(s.name for s in pkg.sheets)}); rebuild the workbook with `xlnet build`.")
    seam = pkg.seam(name) if donor is not None else None
    if seam is not None:
        scan = _Scan(pkg, name, spec, seam.head_size)
        if scan.rows_match(donor, seam.layout):
            return scan.sheet({c: donor.env[c] for c in scan.columns}, len(donor.y), donor)
    scan = _Scan(pkg, name, spec)
    scan.require_rows()
    values = merge_fast(pkg, scan.values, scan.fast, scan.shape.columns)
    check_values(values, scan.rules, scan.at, scan.where)
    return scan.sheet(values, scan.n)


class _Scan:
    """One pass over a model sheet's rows (up to offset `until` of its inflated bytes): the cells above the data,
    each value column, and every cell whose formula is not the layout's."""

    def __init__(self, pkg: Package, name: str, spec: Spec, until: int | None = None):
        self.pkg, self.name, self.spec = pkg, name, spec
        self.where = f"{pkg.path}: sheet {name!r}"
        self.model = model_of(spec, name)
        self.at: SheetLayout | None = None  # known from the header row on, as a layout of one row
        self.shape: RowShape | None = None
        self.columns: list[str] = []
        self.values: dict[str, list] = {}
        self.fast: list[tuple] = []  # the value groups of each row matched whole, decoded by column at the end
        self.fixed: dict[tuple[int, int], object] = {}  # cells above the data, parameter cells, array anchors
        self.differ: list[str] = []
        self.n = 0
        self._read(until)

    def _read(self, until: int | None) -> None:
        param_rows: dict[int, list[int]] = {}
        for c, r in SheetLayout(self.spec, self.model, 1).param_cells():
            param_rows.setdefault(r, []).append(c)
        shared: dict = {}
        for r, cells, match in rows_of(self.pkg, self.name, lambda: self.shape, shared, until):
            if match is not None and r == FIRST_ROW + self.n and isinstance(match, Written):
                self._add_run(match)
            elif match is not None and r == FIRST_ROW + self.n:  # as xlnet wrote it: the formulas are the layout's
                self._add_matched(match)
            else:
                if cells is None:
                    cells = self.pkg.row_cells(self.pkg.parse_rows(match.string)[0], r, shared)
                self._add_row(r, cells, param_rows.get(r, ()))

    def _add_run(self, run: Written) -> None:
        self.n += run.count
        for column in self.columns:
            self.values[column].append(run)

    def _add_matched(self, match) -> None:
        self.n += 1
        self.fast.append(match.groups())
        for column in self.columns:
            self.values[column].append(FAST)

    def _add_row(self, r: int, cells: dict, param_columns) -> None:
        if r < FIRST_ROW:
            self.fixed.update({(c, r): cell for c, cell in cells.items()})
            if r == HEADER_ROW:
                self._header(cells)
            return
        if self.at is None:
            raise XlnetError(f"{self.where} has no header row {HEADER_ROW}; rebuild the workbook with `xlnet build`.")
        for c in param_columns:
            if c in cells:
                self.fixed[(c, r)] = cells[c]
        if r != FIRST_ROW + self.n or not any(c in cells for c in self.at.col_numbers):
            return  # rows below the data (a user's notes) are not data
        self.n += 1
        for column in self.columns:
            cell = cells.get(self.at.col[column])
            self.values[column].append(None if cell is None else cell.value)
        self._compare_formulas(r, cells)
        if r == FIRST_ROW:
            self.fixed.update({(c, r): cells[c] for c in self.array_cols if c in cells})

    def _header(self, cells: dict) -> None:
        set_col = SheetLayout.set_column(self.spec)
        split = cells.get(set_col) is not None and cells[set_col].value == "Set"
        self.at = at = SheetLayout(self.spec, self.model, 1, split=split)
        self.columns = list(at.values) + (["Set"] if split else [])
        self.values = {c: [] for c in self.columns}
        self.rules = {c: value_rule(self.spec, c) for c in self.columns}
        self.template = {at.col[k]: f for k, f in at.row_formulas(ROW_TOKEN).items()}
        self.array_cols = {at.col[k] for k in at.array_columns}
        self.shape = RowShape(at)

    def _compare_formulas(self, r: int, cells: dict) -> None:
        row = str(r)
        for c, f in self.template.items():
            cell = cells.get(c)
            found = cell.formula if cell is not None else None
            wrote = f.replace(ROW_TOKEN, row)
            if found is None or normal(found) != normal(wrote):
                self.differ.append(f"{letters(c)}{r} holds {(found or (cell.value if cell else None))!r:.60}, "
                                   f"xlnet wrote {wrote!r:.60}" if len(self.differ) < 4 else "")

    def require_rows(self) -> None:
        if self.at is None or self.n == 0:
            raise XlnetError(f"{self.where} has no data rows from row {FIRST_ROW}.")

    def rows_match(self, donor: SheetData, layout: int) -> bool:
        """Whether the rows read (those before the seam) are the donor's first, for rows written for this layout."""
        if self.shape is None or layout != self.shape.fingerprint or self.n > len(donor.y) or self.n == 0:
            return False
        values = merge_fast(self.pkg, self.values, self.fast, self.shape.columns)
        return all(c in donor.env and list(values[c]) == donor.env[c][:self.n].tolist() for c in self.columns)

    def sheet(self, values: dict[str, list | np.ndarray] | None, n: int, donor: SheetData | None = None,
              rows: RowsOnDemand | None = None) -> SheetData:
        """The SheetData of these `n` rows' values, once the cells outside the rows pass their checks. `donor`: the
        sheet whose rows these are, whose derived columns and feature matrix are then this one's too. `rows`:
        the rows to read when first needed, instead of `values` (their summary is known: read_each)."""
        at = SheetLayout(self.spec, self.model, n, self.at.split)
        env = rows if rows is not None else {column: _as_array(column, values[column]) for column in self.columns}
        if donor is not None:
            env.update({c.name: donor.env[c.name] for c in self.spec.derived if c.name in donor.env})
        if rows is None and at.split and not (env["Set"] == "train").any():
            raise XlnetError(f"{self.where} has no row marked train in its Set column; mark some.")
        check_names(self.pkg, self.name, at, self.where)  # first: a moved block's cause, before its empty cells
        W, decay = self.parameters(at)
        self._compare_fixed(at)
        if rows is None:
            derive(self.spec, env, lambda i: f"{self.where}, row {FIRST_ROW + i}")
            check_data(self.spec, env, at, self.where)
        sheet = SheetData(self.name, self.spec, self.model, env, W, at, decay)
        if donor is not None:  # the same rows, under the same spec: the same features
            sheet.X, sheet.y = donor.X, donor.y
        return sheet

    def parameters(self, at: SheetLayout) -> tuple[np.ndarray, float]:
        """The parameter cells' values, in the model's order, and the weight decay cell's (0 without one)."""
        W = np.array([self._number(cell, "parameter cell") for cell in at.param_cells()])
        decay = self._number(at.decay_cell_at, "weight decay cell") if at.decay_cell_at else 0.0
        return W, decay

    def _number(self, where: tuple[int, int], what: str) -> float:
        cell = self.fixed.get(where)
        v = None if cell is None else (cell.value if cell.formula is None else cell.formula)
        decay = what.startswith("weight")
        if not is_number(v) or decay and v < 0:
            need = "a number, 0 or more (0: no decay)" if decay else "a number"
            raise XlnetError(f"{self.where}, {what} {letters(where[0])}{where[1]} holds {v!r}; it must be {need}.")
        return v

    def _compare_fixed(self, at: SheetLayout) -> None:
        """The formulas outside the rows (statistics, summary cells, array formulas) are the layout's; with the
        rows' differences, name up to three cells that are not."""
        differ = []
        for (c, r), formula in at.fixed_formulas().items():
            cell = self.fixed.get((c, r))
            found = None if cell is None else cell.formula
            if found is None or normal(found) != normal(formula):
                differ.append(f"{letters(c)}{r} holds {found!r:.60}, xlnet wrote {formula!r:.60}")
        for rng, formula, names in at.arrays:
            c = at.col[names[0]]
            cell = self.fixed.get((c, FIRST_ROW))
            found = None if cell is None else cell.formula
            if found is None or normal(found) != normal(formula) or (cell.array or "").replace("$", "") != rng:
                differ.append(f"{letters(c)}{FIRST_ROW} holds {found!r:.60}, xlnet wrote {formula!r:.60}")
        for (c, r), level in at.class_labels().items():
            cell = self.fixed.get((c, r))
            found = None if cell is None else cell.formula or cell.value
            if not (isinstance(found, (str, float)) and level_key(found) == level_key(level)):
                differ.append(f"{letters(c)}{r} holds {found!r:.60}, xlnet wrote the class {level!r:.60}")
        differ = differ[::-1] + self.differ
        if differ:
            shown = [d for d in differ if d][:3]
            raise XlnetError(f"{self.where}: {len(differ)} cell(s) differ from the formulas xlnet wrote, so its losses "
                             f"would not be the ones the sheet computes: " + "; ".join(shown)
                             + ("; ..." if len(differ) > 3 else "") + ". Undo the edits or rebuild with `xlnet build`.")


def _as_array(column: str, values: list | np.ndarray) -> np.ndarray:
    if isinstance(values, np.ndarray):  # numbers decoded at once, or a donor's column
        return values
    numeric = column != "Set" and all(isinstance(x, float) for x in values)
    return np.asarray(values, dtype=float if numeric else object)


def read_sheets(pkg: Package, names: tuple[str, ...] | list[str], spec: Spec, rows: bool = True
                ) -> list[SheetData]:
    """read_sheet of each name, in order; the first sheet (in that order) that cannot be read raises."""
    read = read_each(pkg, names, spec, rows)
    for sheet in read:
        if isinstance(sheet, XlnetError):
            raise sheet
    return read


def read_each(pkg: Package, names: tuple[str, ...] | list[str], spec: Spec, rows: bool = True
              ) -> list[SheetData | XlnetError]:
    """read_sheet of each name, in order, or the error that says why it cannot be read; large sheets side by
    side, a process per core. Without `rows`, a sheet whose summary the workbook records (summary.py) is read
    without its rows, which are read only if something needs them."""
    later = _RowsLater(pkg, spec)
    read: dict[str, SheetData | XlnetError | None] = {} if rows else {name: _summarised(pkg, name, spec, later)
                                                                      for name in dict.fromkeys(names)}
    read = {name: sheet for name, sheet in read.items() if sheet is not None}
    later.sheets = {name: sheet for name, sheet in read.items() if isinstance(sheet, SheetData)}
    names_left = [name for name in names if name not in read]
    donors = _donors(pkg, names_left)
    whole = [name for name in names_left if name not in donors]
    size = sum(pkg.zip.getinfo(pkg.sheet(n).part).file_size for n in whole if pkg.sheet(n) is not None)
    if len(whole) < 2 or size < PARALLEL_BYTES or not can_fork():
        read.update({name: _read_or_error(pkg, name, spec) for name in whole})
    else:
        read.update(zip(whole, forked_map(lambda i, _: _read_in_worker(pkg, whole[i], spec), list(range(len(whole))))))
    for name, donor in donors.items():
        read[name] = _read_or_error(pkg, name, spec, read[donor] if isinstance(read[donor], SheetData) else None)
    return [read[name] for name in names]


def _summarised(pkg: Package, name: str, spec: Spec, later: "_RowsLater") -> SheetData | XlnetError | None:
    """The sheet read up to its seam, its rows left to `later`, where the note beside the seam holds the summary
    of this very sheet (its parameters, decay, spec, layout and row count); else None."""
    seam = pkg.seam(name) if name in SHEETS and pkg.sheet(name) is not None else None
    found = summary.read(pkg.note(name)) if seam is not None else None
    if found is None:
        return None
    try:
        scan = _Scan(pkg, name, spec, seam.head_size)
        if scan.at is None or found["rows"] < scan.n:
            return None
        at = SheetLayout(spec, scan.model, found["rows"], scan.at.split)
        W, decay = scan.parameters(at)
        if found["key"] != summary.key(spec, at, W, decay, found["rows"]):
            return None
        sheet = scan.sheet(None, found["rows"], rows=RowsOnDemand(lambda: later.env(name)))
    except XlnetError as e:
        return e
    summary.adopt(found, sheet)
    return sheet


class _RowsLater:
    """The rows of the sheets read without them (read_each), read together the first time any is needed (the
    sheets sharing their rows read once), while the workbook is open."""

    def __init__(self, pkg: Package, spec: Spec):
        self.pkg, self.spec = pkg, spec
        self.sheets: dict[str, SheetData] = {}
        self.read: dict[str, SheetData] | None = None

    def env(self, name: str) -> dict:
        if self.read is None:
            names = list(self.sheets)
            self.read = dict(zip(names, read_sheets(self.pkg, names, self.spec)))
            for other, sheet in self.sheets.items():  # the same features as the rows read give
                sheet.X, sheet.y = self.read[other].X, self.read[other].y
        return self.read[name].env


def _donors(pkg: Package, names) -> dict[str, str]:
    """Sheets whose rows after their seam another sheet holds (the same data digest): name -> that sheet, the
    smallest of them, read whole."""
    groups: dict[int, list[str]] = {}
    for name in dict.fromkeys(names):
        seam = pkg.seam(name) if name in SHEETS and pkg.sheet(name) is not None else None
        if seam is not None and seam.data:
            groups.setdefault(seam.data, []).append(name)
    donors = {}
    for group in groups.values():
        donor = min(group, key=lambda n: pkg.zip.getinfo(pkg.sheet(n).part).file_size)
        donors.update({name: donor for name in group if name != donor})
    return donors


def _read_or_error(pkg: Package, name: str, spec: Spec, donor: SheetData | None = None) -> SheetData | XlnetError:
    try:
        return read_sheet(pkg, name, spec, donor)
    except XlnetError as e:
        return e


def _read_in_worker(pkg: Package, name: str, spec: Spec) -> SheetData | XlnetError:
    with pkg.again() as own:
        return _read_or_error(own, name, spec)
