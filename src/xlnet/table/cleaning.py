"""Which rows a model learns from, and what fills a missing value.

Learned from typed rows a chunk at a time, then applied to each chunk, so a million rows are cleaned in the
memory of one chunk: the rows kept have a target, and their missing features dropped or filled with the median
or the mode of the labelled rows.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from xlnet.errors import XlnetError
from xlnet.model.features import derive
from xlnet.model.spec import Spec
from xlnet.table.reading import Frame

MERGE_AT = 1 << 16  # distinct numbers a tally gathers before it merges its chunks' counts


def target_values(frame: Frame, spec: Spec) -> np.ndarray:
    """y: 1 for the positive level, 0 otherwise (binary), the class number (multiclass: 0, 1, ... in the order of
    the spec's classes), or the number (continuous); NaN when missing."""
    c = spec.target_column
    raw = frame.values[c.name]
    if spec.task == "continuous":
        return raw.astype(float)
    if spec.task == "multiclass":
        return spec.codes(raw)
    if raw.dtype == float:
        missing, y = np.isnan(raw), (raw == c.levels[1]).astype(float)
    else:
        missing = np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in raw], bool)
        y = np.array([v == c.levels[1] for v in raw], float)
    y[missing] = np.nan
    return y


def missing_mask(values: np.ndarray) -> np.ndarray:
    """True where a typed column (as data.type_column makes it) has no value."""
    if values.dtype != object:
        return np.isnan(values)
    return np.array([v is None for v in values], dtype=bool)


class Tally:
    """How often each present value of a column occurs, chunk by chunk: numbers as sorted arrays, texts counted."""

    def __init__(self):
        self.numbers: list[tuple[np.ndarray, np.ndarray]] = []
        self.texts: Counter = Counter()

    def add(self, present: np.ndarray) -> None:
        if present.dtype == object:
            self.texts.update(present.tolist())
            return
        self.numbers.append(np.unique(present, return_counts=True))
        if sum(len(v) for v, _ in self.numbers) > MERGE_AT:
            self._merge()

    def _merge(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self.numbers) > 1:
            values, inverse = np.unique(np.concatenate([v for v, _ in self.numbers]), return_inverse=True)
            counts = np.bincount(inverse.ravel(), np.concatenate([n for _, n in self.numbers]).astype(float))
            self.numbers = [(values, counts.astype(np.int64))]
        return self.numbers[0] if self.numbers else (np.empty(0), np.empty(0, np.int64))

    def fill(self, how: str):
        """The median (numbers, `how` "median") or the mode, of equally common values the smallest; None if no
        value was present."""
        if self.texts:
            top = max(self.texts.values())
            return sorted(k for k, n in self.texts.items() if n == top)[0]
        values, counts = self._merge()
        if not len(values):
            return None
        if how != "median":
            return float(values[np.argmax(counts)])
        ends = np.cumsum(counts)  # the sorted rows' k-th value is values[searchsorted(ends, k, "right")]
        total = int(ends[-1])
        low, high = values[np.searchsorted(ends, [(total - 1) // 2, total // 2], "right")]
        return float(low if low == high else (low + high) / 2)  # as np.median


class Cleaning:
    """What cleaning the rows learns (`add` each chunk of typed rows, then `learned`), and its `apply` to a chunk."""

    def __init__(self, spec: Spec, source: str | Path = "the CSV"):
        self.spec, self.source = spec, source
        self.features = [c for c in spec.features if not c.is_derived]  # learned from the rows as read
        self.derived = [c for c in spec.features if c.is_derived]        # from the rows cleaned: `add_derived`
        self.labelled = self.unlabelled = self.dropped = self.kept = 0
        self.tallies = {c.name: Tally() for c in self.features}
        self.missing = {c.name: 0 for c in self.features}  # among the labelled rows
        self.numeric: dict[str, bool] = {}
        self.extremes: dict[str, list[float]] = {}  # [least, largest] of a number over the rows kept
        self.classes: list[np.ndarray] = []  # a multi-class target's class numbers of the rows kept, by chunk
        self.report: dict = {}

    def add(self, frame: Frame) -> None:
        y = target_values(frame, self.spec)
        labelled = ~np.isnan(y)
        self.labelled += int(labelled.sum())
        self.unlabelled += int((~labelled).sum())
        rows, y = frame.take(np.flatnonzero(labelled)), y[labelled]
        missing = {c.name: missing_mask(rows.values[c.name]) for c in self.features}
        kept = np.ones(len(rows), bool)
        if self.spec.missing == "drop":
            for m in missing.values():
                kept &= ~m
        self.dropped += int((~kept).sum())
        self.kept += int(kept.sum())
        for c in self.features:
            values, m = rows.values[c.name], missing[c.name]
            self.missing[c.name] += int(m.sum())
            self.tallies[c.name].add(values[~m])
            self.numeric[c.name] = values.dtype != object
            if self.numeric[c.name]:
                self._extend(c.name, values[kept & ~m])
        self._extend(self.spec.target, y[kept])
        if self.spec.task == "multiclass":
            self.classes.append(y[kept].astype(np.int8))

    def add_derived(self, frame: Frame) -> None:
        """Rows of a chunk again, once `learned`: their derived columns computed on the rows kept and filled (as the
        sheet computes them from the cells it holds), each row that yields an error refused by its line, and the
        extremes of the numbers learned."""
        rows = self.apply(frame)
        env = derive(self.spec, dict(rows.values), lambda i: f"{self.source}: line {rows.lines[i]}")
        for c in self.derived:
            if c.kind == "numeric":
                self._extend(c.name, env[c.name])

    def learned_derived(self) -> "Cleaning":
        """After `add_derived` over every chunk: refuses a scaled derived column that is 0 in every row."""
        for c in self.derived:
            if c.transform == "scale" and max(map(abs, self.extremes.get(c.name, [0.0]))) == 0:
                raise XlnetError(f"{self.source}: every {c.name} = {c.formula} is 0, so {c.feature_labels()[0]} "
                                 f"would divide by zero; derive another column or mark it --categorical.")
        return self

    def _extend(self, name: str, x: np.ndarray) -> None:
        if len(x):
            low, high = self.extremes.get(name, (np.inf, -np.inf))
            self.extremes[name] = [min(low, float(x.min())), max(high, float(x.max()))]

    def learned(self) -> "Cleaning":
        """The fill values (set in the spec) and the report; refuses what leaves nothing to learn from."""
        spec, source = self.spec, self.source
        if not self.labelled:
            raise XlnetError(f"{source}: every {spec.target} is missing; there is nothing to learn from.")
        for c in self.features:  # what fills a missing value: in the rows built on, and in new rows to predict
            c.fill = self.tallies[c.name].fill("mode" if c.kind == "categorical" else spec.missing)
        had = [c.name for c in self.features if self.missing[c.name]]
        self.report = {"target_missing": self.unlabelled}
        if spec.missing == "drop":
            if not self.kept:
                raise XlnetError(f"{source}: no rows left after dropping rows with a missing {_or(had)}; "
                                 "use --missing mode to fill them instead.")
            self.report["dropped"] = self.dropped
        else:
            for c in self.features:
                if self.missing[c.name] and c.fill is None:
                    how = "median" if spec.missing == "median" and self.numeric[c.name] else "mode"
                    raise XlnetError(f"{source}: every {c.name} is missing, so it has no {how} to fill it with.")
            self.report["filled"] = {name: self.missing[name] for name in had}
        for c in self.features:
            if c.transform == "scale" and max(map(abs, self.extremes[c.name])) == 0:
                label = c.feature_labels()[0]
                raise XlnetError(f"{source}: every {c.name} kept is 0, so {label} = {c.name}/MAX({c.name}) would "
                                 f"divide by zero; xlnet needs at least one {c.name} above 0.")
        self.check_classes()
        low, high = self.extremes[spec.target]
        if spec.task == "continuous" and low == high:
            raise XlnetError(f"{source}: every {spec.target} kept is {low:g}; a constant target has nothing to "
                             "learn, and its R² would divide by zero in the sheet.")
        return self

    def check_classes(self, held_out: np.ndarray | None = None) -> None:
        """Every class of a multi-class target has rows kept to learn from, outside the validation rows."""
        if self.spec.task != "multiclass":
            return
        codes = np.concatenate(self.classes) if self.classes else np.zeros(0, np.int8)
        train = codes if held_out is None else codes[~held_out]
        counts = np.bincount(train, minlength=len(self.spec.classes))
        empty = [level for level, n in zip(self.spec.classes, counts) if n == 0]
        if empty:
            where = "rows kept" if held_out is None else "training rows (all of its rows are validation rows)"
            raise XlnetError(f"{self.source}: the class {empty[0]!r} of {self.spec.target} has no {where}, so no "
                             f"model can learn it; " + ("drop its rows from the CSV." if held_out is None else
                                                        "build with another --seed, or a smaller --valid-pct."))

    def apply(self, frame: Frame) -> Frame:
        """The rows of a chunk that are kept, their missing features filled (learned first)."""
        frame = frame.take(np.flatnonzero(~np.isnan(target_values(frame, self.spec))))
        missing = {c.name: missing_mask(frame.values[c.name]) for c in self.features}
        if self.spec.missing == "drop":
            drop = np.zeros(len(frame), bool)
            for m in missing.values():
                drop |= m
            return frame.take(np.flatnonzero(~drop))
        for c in self.features:
            if missing[c.name].any():
                values = frame.values[c.name].copy()
                values[missing[c.name]] = c.fill
                frame.values[c.name] = values
        return frame

    def statistic(self, name: str) -> np.ndarray:
        """The least and the largest value of a number over the rows kept: all a MAX statistic needs."""
        return np.array(self.extremes[name])


def clean(frame: Frame, spec: Spec, source: str | Path = "the CSV") -> Frame:
    """The rows a model learns from, when they are all at hand (one chunk)."""
    cleaning = Cleaning(spec, source)
    cleaning.add(frame)
    cleaning.learned()
    if spec.derived:
        cleaning.add_derived(frame)
        cleaning.learned_derived()
    kept = cleaning.apply(frame)
    kept.report = cleaning.report
    return kept


def _or(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
