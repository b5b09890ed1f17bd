"""What one model sheet holds, read back from the workbook: its rows, features, parameters and metrics.

Reading streams the sheet once. Every row's formulas are compared with the layout's
template for that row, so a workbook whose formulas were edited is named cell by
cell instead of being fitted to a loss it does not compute.
"""
from __future__ import annotations

import functools
import itertools
import json
import math
import os
import re
from typing import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import XlnetError
from .features import feature_matrix, features
from .layout import FIRST_ROW, HEADER_ROW, SETS, SPEC_SHEET, SheetLayout
from .lessons import titanic
from .net import SHEETS, Model, build_models, solver_target
from .spec import Spec
from .xlsx.parts import escape
from .xlsx.read import NotPlain, Package, letters, split_rows
from .workers import can_fork, workers_pool
from .xlsx.safety import check_package, os_error

DECAY = "weight decay"  # a sheet's decay cell, as history records it after the parameters
ROW_TOKEN = "\x00"  # stands for the row number in a row's formula template


def open_package(path: str | Path) -> Package:
    """A workbook from anywhere, vetted (zip and entity bombs refused) and opened for reading."""
    path = Path(path)
    if path.is_dir():
        raise XlnetError(f"{path}: it is a folder; name a workbook file.")
    if not path.exists():
        raise XlnetError(f"{path}: no such workbook; make one with `xlnet build`.")
    check_package(path)
    try:
        return Package(path)
    except OSError as e:
        raise os_error(path, e, "read") from None
    except Exception as e:  # a zip that is not a sound xlsx raises many kinds
        raise XlnetError(f"{path}: not a readable .xlsx workbook ({type(e).__name__}: {str(e)[:120]}).") from None


def read_spec(pkg: Package) -> Spec:
    """The spec the workbook was built with; a workbook of xlnet 0.1 (no spec sheet) is the lesson's."""
    marker = pkg.name("_xlnet_spec")
    sheet = marker.text.split("!")[0].strip("'") if marker else SPEC_SHEET
    if pkg.sheet(sheet) is None:
        legacy = titanic.spec()
        legacy.scores_without_split = False
        return legacy
    text = "".join(str(cells[1].value) for r, cells in pkg.rows(sheet) if r > 1 and 1 in cells)
    try:
        return Spec.from_dict(json.loads(text))
    except (ValueError, TypeError, KeyError) as e:
        raise XlnetError(f"{pkg.path}: the hidden sheet {sheet!r} holds no readable spec ({e}); "
                         "rebuild the workbook with `xlnet build`.") from None


def models_of(spec: Spec) -> dict[str, Model]:
    return build_models(spec, tuple(name for name, _ in features(spec)))


@dataclass
class SheetData:
    """What one model sheet holds: its value columns, features, and parameters."""
    name: str
    spec: Spec
    model: Model
    env: dict
    W: np.ndarray            # the parameter vector, in the model's order
    layout: SheetLayout
    weight_decay: float = 0.0  # the sheet's weight decay cell (0 where it has none)
    _metrics: dict = field(default_factory=dict, repr=False, compare=False)  # (W, decay) -> metrics: see metrics

    @property
    def sets(self) -> np.ndarray | None:
        return self.env.get("Set")

    @functools.cached_property
    def X(self) -> np.ndarray:
        return feature_matrix(self.spec, self.env)

    @property
    def y(self) -> np.ndarray:
        return self.env[self.spec.target]

    def metrics(self, W: np.ndarray | None = None, weight_decay: float | None = None) -> dict[str, float]:
        """The summary cells: the training loss and score, with a validation set the validation ones, and the
        objective (at the sheet's weight decay unless another is given)."""
        decay = self.weight_decay if weight_decay is None else weight_decay
        W = self.W if W is None else np.asarray(W, float)
        key = (W.tobytes(), float(decay))  # a fit asks again for the same W: a pass over every row each time
        if key not in self._metrics:
            env = self.model.evaluate(self.X, self.y, W, self.sets, decay)
            self._metrics[key] = {name: float(env[name]) for name in self.model.metrics(self.sets is not None)}
        return dict(self._metrics[key])

    def valid_loss(self, W: np.ndarray) -> float:
        """The validation loss alone, computed on the validation rows alone (a fifth of metrics' work)."""
        valid = ~self.train_rows()
        return float(self.model.column_values(self.X[valid], self.y[valid], W)["Loss"].mean())

    def loss(self, W: np.ndarray | None = None) -> float:
        return self.metrics(W)["train_loss"]

    def objective(self, W: np.ndarray | None = None) -> float:
        """What the sheet's Solver cell minimises: the training loss, plus the decay's penalty where it has one."""
        return solver_target(self.metrics(W))

    def settable_cells(self, W: np.ndarray, weight_decay: float) -> dict[tuple[int, int], float]:
        """(column, row) -> value of the cells a fit or a restore writes: the parameters, and the decay cell."""
        cells = dict(zip(self.layout.param_cells(), map(float, W)))
        if self.layout.decay_cell_at:
            cells[self.layout.decay_cell_at] = float(weight_decay)
        return cells

    def recorded(self, W: np.ndarray, weight_decay: float) -> tuple[list[str], np.ndarray]:
        """The names and values a history row records: the parameters, and the decay after them."""
        if not self.model.decay:
            return self.layout.param_names(), np.asarray(W, float)
        return self.layout.param_names() + [DECAY], np.append(W, weight_decay)

    def train_rows(self) -> np.ndarray:
        return np.ones(len(self.y), bool) if self.sets is None else self.sets == "train"

    def train_data(self) -> tuple[np.ndarray, np.ndarray]:
        """X and y of the rows a fit learns from."""
        train = self.train_rows()
        return self.X[train], self.y[train]


def _normal(formula) -> str:
    return "".join(str(formula).split()).upper()


def _is_number(v) -> bool:
    return isinstance(v, float) and math.isfinite(v)


def _value_rule(spec: Spec, column: str):
    """What a value cell of `column` must hold: a test of a value, its wording, and where it is simple, the same
    test of a whole column of floats at once."""
    if column == "Set":
        return (lambda v: v in SETS), "train or valid", None
    if column == spec.target:
        if spec.task == "binary":
            return (lambda v: v in (0.0, 1.0) and not isinstance(v, bool)), "0 or 1", lambda x: (x == 0) | (x == 1)
        return _is_number, "a number", np.isfinite
    c = next((c for c in spec.features if column in (c.name, *c.feature_labels())), None)
    if c is None or c.kind == "numeric":
        if c is not None and c.transform == "log":
            return ((lambda v: _is_number(v) and v >= 0), "a number, 0 or more (LOG10(x+1) needs it)",
                    lambda x: np.isfinite(x) & (x >= 0))
        return _is_number, "a number", np.isfinite
    if c.allowed:
        allowed = set(c.allowed) | {float(a) for a in c.allowed if not isinstance(a, str)}
        return (lambda v: isinstance(v, (str, float)) and v in allowed), " or ".join(map(str, c.allowed)), None
    return (lambda v: isinstance(v, str) or _is_number(v)), "a value", np.isfinite


def read_sheet(pkg: Package, name: str, spec: Spec | None = None, donor: "SheetData | None" = None) -> SheetData:
    """A model sheet's rows and parameters, as they are in the workbook now, checked against the layout.

    `donor`: a sheet read from the same workbook whose seam records the same data (zipout's seam, sheets.
    DataDigest): this sheet's rows after its own seam are then the donor's, and only the rows before it are read.
    """
    seam = pkg.seam(name) if donor is not None else None
    path = pkg.path
    spec = spec or read_spec(pkg)
    if name not in SHEETS or pkg.sheet(name) is None:
        raise XlnetError(f"{path}: the sheet {name!r} is missing (sheets: {', '.join(s.name for s in pkg.sheets)}); "
                         "rebuild the workbook with `xlnet build`.")
    model = models_of(spec)[name]
    probe = SheetLayout(spec, model, 1, split=False)
    where = f"{path}: sheet {name!r}"
    split = None
    columns: list[str] = []
    values: dict[str, list] = {}
    template: dict[int, str] = {}
    fixed_cells: dict[tuple[int, int], object] = {}
    differ: list[str] = []
    param_rows: dict[int, list[int]] = {}
    for c, r in probe.param_cells():
        param_rows.setdefault(r, []).append(c)
    n = 0
    shape, fast_columns, shared = None, [], {}
    fast: list[tuple] = []  # the value groups of each row matched whole, decoded column by column at the end
    for r, cells, match in _rows(pkg, name, lambda: shape, shared, seam.head_size if seam else None):
        if isinstance(match, Written) and r == FIRST_ROW + n:
            n += match.count
            for column in columns:
                values[column].append(match)
            continue
        if match is not None and r == FIRST_ROW + n:  # a row just as xlnet wrote it: its formulas are the layout's
            n += 1
            fast.append(match.groups())
            for column in columns:
                values[column].append(FAST)
            continue
        if cells is None:
            cells = pkg.row_cells(pkg.parse_rows(match.string)[0], r, shared)
        if r < FIRST_ROW:
            fixed_cells.update({(c, r): cell for c, cell in cells.items()})
            if r == HEADER_ROW:
                split = cells.get(probe.set_col) is not None and cells[probe.set_col].value == "Set"
                at = SheetLayout(spec, model, 1, split=split)
                columns = list(at.values) + (["Set"] if split else [])
                values = {c: [] for c in columns}
                rules = {c: _value_rule(spec, c) for c in columns}
                template = {at.col[k]: f for k, f in at.row_formulas(ROW_TOKEN).items()}
                array_cols = {at.col[k] for k in at.array_columns}
                data_cols = at.col_numbers
                shape = RowShape(at)
                fast_columns = shape.columns
            continue
        if split is None:
            raise XlnetError(f"{where} has no header row {HEADER_ROW}; rebuild the workbook with `xlnet build`.")
        for c in param_rows.get(r, ()):
            if c in cells:
                fixed_cells[(c, r)] = cells[c]
        if r != FIRST_ROW + n or not any(c in cells for c in data_cols):
            continue  # rows below the data (a user's notes) are not data
        n += 1
        for column in columns:
            cell = cells.get(at.col[column])
            values[column].append(None if cell is None else cell.value)
        row = str(r)
        for c, f in template.items():
            cell = cells.get(c)
            found = cell.formula if cell is not None else None
            if found is None or _normal(found) != _normal(f.replace(ROW_TOKEN, row)):
                if len(differ) < 4:
                    differ.append(f"{letters(c)}{r} holds {(found or (cell.value if cell else None))!r:.60}, "
                                  f"xlnet wrote {f.replace(ROW_TOKEN, row)!r:.60}")
                else:
                    differ.append("")
        if r == FIRST_ROW:
            fixed_cells.update({(c, r): cells[c] for c in array_cols if c in cells})
    if seam is not None and (shape is None or seam.layout != shape.fingerprint or n > len(donor.y)):
        return read_sheet(pkg, name, spec)
    if split is None or n == 0:
        raise XlnetError(f"{where} has no data rows from row {FIRST_ROW}.")
    if fast_columns:
        values = _merge_fast(pkg, values, fast, fast_columns)
    if seam is not None:  # the rows before the seam are the donor's first (else: read every row after all)
        if any(c not in donor.env or list(values[c]) != donor.env[c][:n].tolist() for c in columns):
            return read_sheet(pkg, name, spec)
        values, n = {c: donor.env[c] for c in columns}, len(donor.y)
    else:
        _check_values(values, rules, at, where)
    at = SheetLayout(spec, model, n, split)
    env = {}
    for column in columns:
        v = values[column]
        if isinstance(v, np.ndarray):  # numbers decoded at once, or a donor's column
            env[column] = v
            continue
        numeric = column != "Set" and all(isinstance(x, float) for x in v)
        env[column] = np.asarray(v, dtype=float if numeric else object)
    if split and not (env["Set"] == "train").any():
        raise XlnetError(f"{where} has no row marked train in its Set column; mark some.")
    W = np.empty(model.n_params)
    for i, (c, r) in enumerate(at.param_cells()):
        cell = fixed_cells.get((c, r))
        v = None if cell is None else (cell.value if cell.formula is None else cell.formula)
        if not _is_number(v):
            raise XlnetError(f"{where}, parameter cell {letters(c)}{r} holds {v!r}; it must be a number.")
        W[i] = v
    decay = 0.0
    if at.decay_cell_at:
        cell = fixed_cells.get(at.decay_cell_at)
        decay = None if cell is None else (cell.value if cell.formula is None else cell.formula)
        if not (_is_number(decay) and decay >= 0):
            raise XlnetError(f"{where}, weight decay cell {letters(at.decay_cell_at[0])}{at.decay_cell_at[1]} holds "
                             f"{decay!r}; it must be a number, 0 or more (0: no decay).")
    _check_names(pkg, name, at, where)
    for (c, r), formula in at.fixed_formulas().items():
        cell = fixed_cells.get((c, r))
        found = None if cell is None else cell.formula
        if found is None or _normal(found) != _normal(formula):
            differ.insert(0, f"{letters(c)}{r} holds {found!r:.60}, xlnet wrote {formula!r:.60}")
    for rng, formula, names in at.arrays:
        c = at.col[names[0]]
        cell = fixed_cells.get((c, FIRST_ROW))
        found = None if cell is None else cell.formula
        if found is None or _normal(found) != _normal(formula) or (cell.array or "").replace("$", "") != rng:
            differ.insert(0, f"{letters(c)}{FIRST_ROW} holds {found!r:.60}, xlnet wrote {formula!r:.60}")
    if differ:
        shown = [d for d in differ if d][:3]
        raise XlnetError(f"{where}: {len(differ)} cell(s) differ from the formulas xlnet wrote, so its losses would "
                         f"not be the ones the sheet computes: " + "; ".join(shown)
                         + ("; ..." if len(differ) > 3 else "") + ". Undo the edits or rebuild with `xlnet build`.")
    _check_data(spec, env, at, where)
    return SheetData(name, spec, model, env, W, at, decay)


PARALLEL_BYTES = 64 << 20  # sheets larger than this in all are read a process per core


def read_sheets(pkg: Package, names: tuple[str, ...] | list[str], spec: Spec | None = None) -> list[SheetData]:
    """read_sheet of each name, in order; the first sheet (in that order) that cannot be read raises."""
    read = read_each(pkg, names, spec)
    for sheet in read:
        if isinstance(sheet, XlnetError):
            raise sheet
    return read


def read_each(pkg: Package, names: tuple[str, ...] | list[str], spec: Spec | None = None
              ) -> list["SheetData | XlnetError"]:
    """read_sheet of each name, in order, or the error that says why it cannot be read; large sheets side by
    side, a process per core."""
    spec = spec or read_spec(pkg)
    donors = _donors(pkg, names)
    whole = [name for name in names if name not in donors]
    size = sum(pkg.zip.getinfo(pkg.sheet(n).part).file_size for n in whole if pkg.sheet(n) is not None)
    if len(whole) < 2 or size < PARALLEL_BYTES or not can_fork():
        read = {name: _read_or_error(pkg, name, spec) for name in whole}
    else:
        with workers_pool(min(len(whole), os.cpu_count() or 1)) as pool:
            read = dict(zip(whole, pool.starmap(_read_in_worker, [(str(pkg.path), name, spec) for name in whole])))
    for name, donor in donors.items():
        read[name] = _read_or_error(pkg, name, spec, read[donor] if isinstance(read[donor], SheetData) else None)
    return [read[name] for name in names]


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


def _read_or_error(pkg: Package, name: str, spec: Spec, donor: "SheetData | None" = None
                   ) -> "SheetData | XlnetError":
    try:
        return read_sheet(pkg, name, spec, donor)
    except XlnetError as e:
        return e


def _read_in_worker(path: str, name: str, spec: Spec) -> "SheetData | XlnetError":
    with Package(path) as pkg:
        return _read_or_error(pkg, name, spec)


def _rows(pkg: Package, name: str, shape: Callable[[], "RowShape | None"], shared: dict, until: int | None = None
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


def _merge_fast(pkg: Package, values: dict[str, list], fast: list[tuple], columns: list[str]) -> dict:
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


def _check_values(values: dict[str, list], rules: dict, at: SheetLayout, where: str) -> None:
    """Every value cell holds what its column must: the first cell (by row, then column) that does not is named.
    Each distinct value is tested once."""
    first_bad = None
    for column, vals in values.items():
        ok, want, ok_all = rules[column]
        if isinstance(vals, np.ndarray):
            if vals.dtype == float and (ok_all(vals).all() if ok_all else all(ok(v) for v in np.unique(vals).tolist())):
                continue
            vals = vals.tolist()
        if all(ok(v) for _, v in set(zip(map(type, vals), vals))):  # by type too: True would pass as 1.0
            continue
        i = next(i for i, v in enumerate(vals) if not ok(v))
        if first_bad is None or i < first_bad[0]:
            first_bad = (i, column, vals[i], want)
    if first_bad is not None:
        i, column, v, want = first_bad
        raise XlnetError(f"{where}, cell {letters(at.col[column])}{FIRST_ROW + i} ({column}) holds {v!r}; "
                         f"it must be {want}.")


def _check_names(pkg: Package, name: str, at: SheetLayout, where: str) -> None:
    """Solver's names, where present, still point at the loss cell and the parameter blocks."""
    expected = {"solver_opt": (f"{name}!{at.loss_cell()}", "loss cell"),
                "solver_adj": (at.solver_adj(), "parameter block")}
    for key, (target, what) in expected.items():
        found = pkg.name(key, name)
        if found is not None and _normal(found.text.replace("'", "")) != _normal(target):
            raise XlnetError(f"{where}: Solver's {key} points at {found.text}, but xlnet's {what} is {target}; "
                             "the sheet was rearranged: rebuild it with `xlnet build`.")


def _check_data(spec: Spec, env: dict, at: SheetLayout, where: str) -> None:
    """Statistics the features divide by must not be 0."""
    for name, op in at.statistics.items():
        if op.b.value(env) == 0:
            raise XlnetError(f"{where}: every {name} is 0, so {name}/MAX({name}) divides by zero in the sheet; "
                             f"correct the data rows.")

