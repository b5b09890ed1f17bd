"""`xlnet predict`: a fitted workbook's predictions for new rows, as a CSV (a Kaggle submission for Titanic).

New rows are typed and checked by the workbook's spec, their missing values filled with the fill values
learned when it was built, and their features scaled by the statistics of the rows the workbook holds (its
MAX cells), never by the new rows' own. Every input row gets a prediction, in input order.
"""
from __future__ import annotations

import csv
import io
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from xlnet.errors import XlnetError
from xlnet.fitting.service import choose_sheet
from xlnet.model.features import derive, feature_matrix, value_columns
from xlnet.model.net import SHEETS
from xlnet.model.spec import level_key
from xlnet.table.cleaning import missing_mask
from xlnet.table.reading import CsvSource, check_columns, parsed_ahead, type_cells, typed_levels
from xlnet.workbook.book import Workbook
from xlnet.workbook.sheet_data import SheetData
from xlnet.xlsx.safety import replacing


class RowNumbers(Sequence):
    """The ids of rows the CSV gives none for, "1", "2", …, each made as it is read (a list of a million texts
    costs 60 MB)."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [str(k + 1) for k in range(self.n)[i]]
        return str(range(1, self.n + 1)[i])

    def __iter__(self) -> Iterator[str]:
        return map(str, range(1, self.n + 1))

    def __eq__(self, other) -> bool:
        return list(self) == list(other)


@dataclass
class Predictions:
    source: Path
    model: str
    why: str                        # why this model sheet
    ids: Sequence[str]              # each row's id, or its number (RowNumbers)
    id_name: str
    values: np.ndarray              # probability (binary) or the output (continuous), per input row; for classes,
                                    # each class's probability (rows, classes)
    labels: list | None             # the predicted level (binary) or class
    target: str
    classes: list = field(default_factory=list)  # a multi-class target's classes, the columns of `values`
    filled: dict[str, tuple[int, object]] = field(default_factory=dict)  # column -> (rows filled, value)
    unseen: dict[str, int] = field(default_factory=dict)                 # column -> rows with an unseen level
    sheet: str | None = None        # the workbook's predict sheet, when one was written
    no_id: str | None = None        # the id column the workbook knows, where the CSV lacks it (rows numbered)

    def csv_text(self, proba: bool = False) -> str:
        if proba and self.classes:
            header = [self.id_name, *map(str, self.classes)]
            rows = ([i, *map(_figure, row)] for i, row in zip(self.ids, self.values.tolist()))
            return _csv_text(header, rows, self._texts())
        if self.labels is not None and not proba:
            text = {level: "" if level is None else str(level) for level in set(self.labels)}  # as the csv module
            shown = list(map(text.__getitem__, self.labels))
        else:
            shown = [_figure(v) for v in self.values.tolist()]
        return _csv_text([self.id_name, self.target], zip(self.ids, shown), [*self._texts(), set(shown)])

    def _texts(self) -> list:
        """The ids, where they are texts (not row numbers)."""
        return [] if isinstance(self.ids, RowNumbers) else [self.ids]


def _csv_text(header: list[str], rows: Iterable, texts: list[Iterable[str]]) -> str:
    """The rows as CSV: joined as they are where none of `texts` (the fields not known to be numbers) needs quoting,
    else written by the csv module."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(header)
    if any(NEEDS_QUOTES.search("".join(map(str, t))) for t in texts):
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue()
    rows = iter(rows)
    while part := "\n".join(map(",".join, itertools.islice(rows, 65_536))):  # a list of every line costs memory
        out.write(part + "\n")
    return out.getvalue()


NEEDS_QUOTES = re.compile(r'[,"\r\n]')  # a field the csv module quotes


def _figure(x: float) -> str:
    """A predicted number as the CSV holds it: 15 significant digits, as a spreadsheet shows a number
    (3801.1349287028, not 3801.1349287028033)."""
    return f"{x:.15g}"


def choose_model(sheets: dict[str, SheetData], model: str | None) -> tuple[str, str]:
    """The sheet to predict with, and why: `--model`, or the rule `fit` and `compare` state (choose_sheet)."""
    if model is not None:
        return model, "--model"
    return choose_sheet({name: s.metrics() for name, s in sheets.items()})


def predict_csv(workbook: str | Path, csv_path: str | Path, *, model: str | None = None,
                id_column: str | None = None, sheet: bool = False) -> Predictions:
    """Predictions for the CSV's rows; with `sheet`, also a live `predict` sheet added to the workbook (a patch:
    nothing else in it changes)."""
    if model is not None and model not in SHEETS:
        raise XlnetError(f"--model must be one of {', '.join(SHEETS)}, not {model!r}.")
    with Workbook.open(workbook, change=sheet, elsewhere=False) as book:  # its --out names the CSV
        spec = book.spec
        source = CsvSource(csv_path, noun=spec.noun)
        id_name = id_column or (spec.id_column.name if spec.id_column and spec.id_column.name in source.header
                                else None)
        typed = [c for c in spec.features if not c.is_derived and c.name not in spec.inputs]
        read = _columns_read(spec) + ([id_name] if id_name else [])
        with parsed_ahead(source, read, typed, spec.noun) as chunks:  # parsed while the model sheets are read
            sheets = dict(zip(SHEETS, book.sheets(SHEETS, rows=False)))
            predictions, env = _predict(sheets, spec, source, chunks, model, id_column, id_name, keep_env=sheet)
        if sheet:
            predictions.sheet = book.set_predict_sheet(sheets, env, predictions.ids, predictions.id_name)
            book.save()
    return predictions


def _predict(sheets: dict[str, SheetData], spec, source: CsvSource, chunks: Callable[[], Iterator], model: str | None,
             id_column: str | None, id_name: str | None, keep_env: bool = False):
    """The predictions, a chunk of the CSV's rows at a time; with `keep_env`, also every row's feature values
    (for the predict sheet), else memory holds one chunk's."""
    name, why = choose_model(sheets, model)
    sheet = sheets[name]
    check_columns(source, spec, need_target=False)
    if id_column and id_column not in source.header:
        raise XlnetError(f"{source.source}: --id names {id_column!r}, which is not a column.")
    seen = {column: set(map(level_key, levels)) for column, levels in sheet.levels_seen().items()}
    statistics = {("statistic", column): value for column, value in sheet.statistics().items()}
    fills, filled, unseen = {}, Counter(), Counter()

    def fill(c):  # a missing value's fill, learned when the workbook was built
        if c.name not in fills:
            fills[c.name] = c.fill if c.fill is not None else sheet.modes()[c.name]
        return fills[c.name]
    ids, values, envs, n_rows = [], [], [], 0
    for table in chunks():
        env = {**_new_rows(table, spec, fill, seen, filled, unseen), **statistics}
        X = feature_matrix(spec, env)
        model = sheet.model
        values.append(model.predict_proba(X, sheet.W) if spec.classes else model.predict(X, sheet.W))
        if id_name:
            ids += table.column(id_name).texts()
        n_rows += len(table)
        if keep_env:
            envs.append(env)
    values = np.concatenate(values)
    labels = _picked(spec.classes, values.argmax(axis=1)) if spec.classes else None
    if spec.task == "binary":
        labels = _picked(spec.target_column.levels, values > 0.5)  # (negative, positive)
    filled = {c.name: (filled[c.name], fills[c.name]) for c in spec.features if c.name in filled}
    unseen = {c.name: unseen[c.name] for c in spec.features if c.name in unseen}
    no_id = spec.id_column.name if spec.id_column and not id_name else None
    return Predictions(source.source, name, why, ids if id_name else RowNumbers(n_rows), id_name or "row", values,
                       labels, spec.target, spec.classes, filled, unseen, no_id=no_id), \
        _joined(envs) if keep_env else None


def _picked(levels: list, k: np.ndarray) -> list:
    """levels[k] for each k."""
    options = np.empty(len(levels), dtype=object)
    options[:] = levels
    return options[k.astype(np.intp)].tolist()


def _columns_read(spec) -> list[str]:
    """The CSV columns _new_rows reads: the features written from a column, and the inputs of derived ones."""
    return [c.name for c in spec.features if not c.is_derived] + spec.inputs


def _new_rows(table, spec, fill, seen: dict[str, set], filled: Counter, unseen: Counter) -> dict:
    """A chunk's value columns, typed and filled, and its derived columns computed from them, counting into `filled`
    and `unseen` what was filled and which rows hold a level the workbook never saw."""
    env = {}
    for c in spec.features:
        if c.is_derived:
            continue
        levels, codes = typed_levels(table, c, spec.noun)
        counts = np.bincount(codes, minlength=len(levels))
        missing = missing_mask(levels)
        if missing.any():
            levels = levels.copy()
            levels[missing] = fill(c)
            filled[c.name] += int(counts[missing].sum())
        typed = levels[codes]
        env[("filled", c.name)] = missing[codes]
        _count_unseen(c, levels, counts, seen, unseen)
        for label in (c.feature_labels() if c.kind == "numeric" and c.transform == "none" else [c.name]):
            env[label] = typed
            env[("coded", label)] = levels, codes  # for the dummies (ops.Dummy): each level compared once
    for name in spec.inputs:
        env.setdefault(name, type_cells(table, name))
    n = len(table)
    env["Ones"] = np.ones(n)
    for column in value_columns(spec):
        env.setdefault(column, np.zeros(n))  # the target: not known for new rows, not used by the features
    derive(spec, env, lambda i: f"{table.source}: line {table.lines[i]}")
    for c in spec.features:
        if c.is_derived and seen.get(c.name):
            _count_unseen(c, *_tallied(env[c.name]), seen, unseen)
    return env


def _tallied(values: np.ndarray) -> tuple[list, np.ndarray]:
    """A column's distinct values and how many rows hold each."""
    if values.dtype != object:
        return np.unique(values, return_counts=True)
    tally = Counter(values.tolist())
    return list(tally), np.fromiter(tally.values(), np.int64, len(tally))


def _count_unseen(c, levels, counts: np.ndarray, seen: dict[str, set], unseen: Counter) -> None:
    """Counts into `unseen` the rows whose level (of `levels`, `counts` rows each) the workbook never saw."""
    if not seen.get(c.name):
        return
    new = sum(n for v, n in zip(levels.tolist() if isinstance(levels, np.ndarray) else levels, counts.tolist())
              if level_key(v) not in seen[c.name])
    if new:
        unseen[c.name] += new


def _joined(envs: list[dict]) -> dict:
    """One env of consecutive chunks' envs: their columns end to end, the statistics as they are (and no chunk's
    levels and codes)."""
    return {k: np.concatenate([e[k] for e in envs]) if np.ndim(v) else v for k, v in envs[0].items()
            if not (isinstance(k, tuple) and k[0] == "coded")}


def check_csv_out(out: str | Path, force: bool) -> None:
    out = Path(out)
    if out.exists() and not force:
        raise XlnetError(f"{out} already exists; use --force to overwrite it, or --out to write elsewhere.")
    if out.suffix.lower() in (".xlsx", ".xlsm"):
        raise XlnetError(f"{out}: predictions are written as CSV; name a .csv file.")


def write_predictions(predictions: Predictions, out: str | Path, *, proba: bool = False, force: bool = False) -> Path:
    check_csv_out(out, force)
    out = Path(out)
    with replacing(out) as tmp:
        tmp.write_text(predictions.csv_text(proba), encoding="utf-8")
    return out
