"""The column spec: what each CSV column is to the model, inferred from the data or given, kept in the workbook.

Kinds: target, id (kept, never a feature), numeric, categorical, ignored. Transforms:
numeric `scale` (divided by its largest absolute value, held in a cell above the
column), `log` (LOG10(x+1), for right-skewed columns of values 0 or more) or `none`
(the value as it is); categorical `dummies` (one 0/1 column per level, less one).
"""
from __future__ import annotations

import difflib
import functools
import json
import math
import re
import tomllib
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from xlnet.errors import XlnetError
from xlnet.model.expr import Expression

KINDS = ("target", "id", "numeric", "categorical", "ignored")
TRANSFORMS = {"numeric": ("scale", "log", "none"), "categorical": ("dummies",)}
MISSING_MARKERS = frozenset({"", "NA", "N/A", "NaN", "nan", "null", "NULL", "?"})
MISSING_CHOICES = ("drop", "mode", "median")
LOSSES = ("mse", "logloss", "crossentropy")
TASKS = ("binary", "continuous", "multiclass")
OUTPUTS = ("dense", "sum")
MAX_DEPTH = 4            # hidden layers at most
MAX_UNITS = 64           # units of a hidden layer at most
MAX_CLASSES = 20         # classes of a multi-class target at most
FEW_CLASSES = 10         # a numeric target of 3 to this many whole-number values is classes, as for features
MAX_LEVELS = 100         # dummies per column at most by default (--max-levels): the most frequent levels
MIN_LEVEL_SHARE = 0.01   # a level with this share of the rows has a dummy of its own ...
ENOUGH_LEVEL_ROWS = 30   # ... and so does one with this many rows, however many rows there are
FEW_WHOLE_VALUES = 10    # a whole-number column with at most this many values is categorical
SKEW_FOR_LOG = 2.0       # a column of values >= 0 more skewed than this gets LOG10(x+1)
POSITIVE_NAMES = ("1", "1.0", "true", "yes", "y", "t", "positive", "pos")


@dataclass
class Column:
    name: str
    kind: str
    transform: str = ""
    levels: list = field(default_factory=list)       # categorical: levels with a dummy; binary target: [neg, pos]
    labels: list = field(default_factory=list)       # header of each dummy (or of the one transformed feature)
    fill: object = None                              # what fills a missing value (learned from the training rows)
    scale: str = "max"                               # scale: "max" (values >= 0) or "maxabs"
    allowed: list | None = None                      # strict: the only values a cell may hold
    integer: bool = False
    minimum: float | None = None
    missing_ok: bool = True
    required: bool = True
    note: str = ""                                   # why inference chose this
    formula: str = ""                                # a derived column's expression (model/expr.py); "" for a
                                                     # column of the CSV
    missing: int = 0                                 # missing values seen when the spec was made
    distinct: int = 0

    @property
    def is_derived(self) -> bool:
        return bool(self.formula)

    @property
    def is_feature(self) -> bool:
        return self.kind in ("numeric", "categorical")

    @property
    def is_text(self) -> bool:
        return any(isinstance(v, str) for v in self.levels + (self.allowed or []))

    def feature_labels(self) -> list[str]:
        """Headers of the feature columns this column becomes."""
        if self.labels:
            return list(self.labels)
        if self.kind == "categorical":
            return [f"{self.name}_{level}" for level in self.levels]
        return [{"scale": f"{self.name}_N", "log": f"log_{self.name}", "none": self.name}[self.transform]]


@dataclass
class Spec:
    columns: list[Column]
    target: str
    task: str = "binary"             # binary, continuous or multiclass
    loss: str = "mse"                # mse or logloss (binary), mse (continuous), crossentropy (multiclass)
    hidden: int | list[int] = 2      # units of each hidden layer (an int: one layer)
    missing: str = "drop"
    preset: str = ""                 # the preset it came from ("lesson"), if any
    raw_order: list[str] = field(default_factory=list)      # value columns on a model sheet
    feature_order: list[str] = field(default_factory=list)  # columns in the order their features come
    noun: str = "row"                # what a row is called in messages ("passenger" in the lesson)
    scores_without_split: bool = True  # accuracy/R² cells without a validation set (xlnet 0.1 had none)
    weight_decay: float | None = None  # the decay cell's starting value; None: no decay cell (the lesson's sheets)
    output: str = "dense"            # the nets' output layer: "dense" (weights and a bias) or "sum" (the lesson's:
                                     # the hidden units added, no parameters)

    def __post_init__(self):
        self.columns = [c if isinstance(c, Column) else Column(**c) for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def target_column(self) -> Column:
        return self.column(self.target)

    @property
    def layers(self) -> tuple[int, ...]:
        """The units of each hidden layer."""
        return (self.hidden,) if isinstance(self.hidden, int) else tuple(self.hidden)

    @property
    def classes(self) -> list:
        """A multi-class target's levels, in the order of its output units (none for other targets)."""
        return list(self.target_column.levels) if self.task == "multiclass" else []

    def codes(self, y) -> np.ndarray:
        """The target as numbers: a multi-class target's labels as their class numbers (0, 1, ...; NaN for none
        of them), compared without case as a spreadsheet compares text; any other target as it is."""
        if self.task != "multiclass":
            return np.asarray(y, float)
        number = {level_key(level): float(k) for k, level in enumerate(self.classes)}
        values = np.asarray(y, dtype=object)
        distinct = {v: number.get(level_key(v), np.nan) for v in set(values.tolist())}
        return np.fromiter(map(distinct.__getitem__, values.tolist()), float, len(values))

    @property
    def id_column(self) -> Column | None:
        return next((c for c in self.columns if c.kind == "id"), None)

    @property
    def features(self) -> list[Column]:
        order = self.feature_order or [c.name for c in self.columns if c.is_feature]
        return [self.column(n) for n in order]

    @property
    def derived(self) -> list[Column]:
        """The derived columns, in the order they are defined (each may read those before it)."""
        return [c for c in self.columns if c.is_derived]

    def expressions(self) -> list[Expression]:
        """Each derived column's expression, parsed."""
        return _expressions(tuple((c.name, c.formula) for c in self.columns))

    @property
    def inputs(self) -> list[str]:
        """The CSV's columns that derived columns read."""
        derived = {c.name for c in self.derived}
        return list(dict.fromkeys(n for e in self.expressions() for n in e.inputs if n not in derived))

    @property
    def raw(self) -> list[str]:
        """Columns a model sheet holds as values, before the features: the target, then what features and derived
        columns are computed from."""
        if self.raw_order:
            return self.raw_order
        out = [self.target] + [c.name for c in self.features if c.transform != "none" and not c.is_derived]
        as_is = {c.feature_labels()[0] for c in self.features if c.transform == "none" and not c.is_derived}
        return out + [n for n in self.inputs if n not in out and n not in as_is]

    def as_dict(self) -> dict:
        """The spec as plain data; a column's `formula` only where it is derived (as specs were before them)."""
        d = asdict(self)
        for c in d["columns"]:
            if not c["formula"]:
                del c["formula"]
        return d

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"), default=_plain)

    @classmethod
    def from_dict(cls, d: dict) -> "Spec":
        known = {f.name for f in fields(cls)}
        if "output" not in d and d.get("preset") == "lesson":  # written before the output layer was spec data
            d = {**d, "output": "sum"}
        return cls(**{k: v for k, v in d.items() if k in known})

    def check(self, where: str = "the spec") -> None:
        """One place that validates a spec, whoever made it."""
        names = [c.name for c in self.columns]
        if self.target not in names:
            raise XlnetError(f"{where}: the target {self.target!r} is not a column; columns: {', '.join(names)[:200]}.")
        for c in self.columns:
            if c.kind not in KINDS:
                raise XlnetError(f"{where}: column {c.name!r} has kind {c.kind!r}; it must be one of {', '.join(KINDS)}.")
            if c.is_feature and c.transform not in TRANSFORMS[c.kind]:
                raise XlnetError(f"{where}: column {c.name!r} ({c.kind}) has transform {c.transform!r}; "
                                 f"it must be one of {', '.join(TRANSFORMS[c.kind])}.")
        if not self.features:
            raise XlnetError(f"{where}: no column is a feature; mark some numeric or categorical.")
        if self.task not in TASKS:
            raise XlnetError(f"{where}: task must be one of {', '.join(TASKS)}, not {self.task!r}.")
        if self.loss not in LOSSES:
            raise XlnetError(f"--loss must be one of {', '.join(LOSSES)}, not {self.loss!r}.")
        if self.loss not in LOSSES_OF[self.task]:
            raise XlnetError(f"--loss {self.loss} does not fit the {self.task} target {self.target!r}: use "
                             f"{' or '.join('--loss ' + loss for loss in LOSSES_OF[self.task])}.")
        if self.task == "multiclass" and not 3 <= len(self.classes) <= MAX_CLASSES:
            raise XlnetError(f"{where}: a multi-class target needs 3 to {MAX_CLASSES} levels; "
                             f"{self.target!r} has {len(self.classes)}.")
        self.hidden = hidden_layers(self.hidden)
        if self.weight_decay is not None and not (isinstance(self.weight_decay, (int, float))
                                                   and 0 <= self.weight_decay < float("inf")):
            raise XlnetError(f"{where}: weight_decay must be a number, 0 or more, not {self.weight_decay!r}.")
        if self.output not in OUTPUTS:
            raise XlnetError(f"{where}: output must be one of {', '.join(OUTPUTS)}, not {self.output!r}.")
        if self.missing not in MISSING_CHOICES:
            raise XlnetError(f"--missing must be one of {', '.join(MISSING_CHOICES)}, not {self.missing!r}.")
        self._check_derived(where)

    def _check_derived(self, where: str) -> None:
        """Each derived column has a name of its own, parses, reads only the CSV's columns and those derived before
        it (never the target), and is scaled or logged where it is a number."""
        seen: set[str] = set()
        for c in self.columns:
            if c.name in seen:
                raise XlnetError(f"{where}: the column {c.name!r} is defined twice; give the derived column another "
                                 "name.")
            seen.add(c.name)
        taken = {label for c in self.features for label in c.feature_labels()} | {"Ones", "Set"}
        clash = next((c.name for c in self.derived if c.name in taken), None)
        if clash:
            raise XlnetError(f"{where}: the derived column {clash!r} has the name of a column the sheet already has "
                             "(a feature, Ones or Set); give it another name.")
        for c, e in zip(self.derived, self.expressions()):
            if self.target in e.inputs:
                raise XlnetError(f"--derive {c.name}: it reads the target {self.target!r}, which new rows do not "
                                 "have; derive from the other columns.")
            if c.kind == "target":
                raise XlnetError(f"--derive {c.name}: a derived column cannot be the target.")
            if c.kind == "numeric" and c.transform == "none":
                raise XlnetError(f"{where}: the derived column {c.name!r} has transform 'none'; a derived number is "
                                 "a feature scaled or logged: use scale or log.")


@functools.lru_cache(maxsize=64)
def _expressions(columns: tuple[tuple[str, str], ...]) -> list[Expression]:
    """The derived columns' expressions of a spec's (name, formula) columns, each knowing the CSV's columns and the
    columns derived before it."""
    known = [name for name, formula in columns if not formula]
    out = []
    for name, formula in columns:
        if formula:
            out.append(Expression(name, formula, known))
            known.append(name)
    return out


LOSSES_OF = {"binary": ("mse", "logloss"), "continuous": ("mse",), "multiclass": ("crossentropy",)}


def default_loss(task: str) -> str:
    """mse for a binary target (the lesson's) or a number; cross-entropy over a softmax for classes."""
    return LOSSES_OF.get(task, LOSSES)[0]


def hidden_layers(value) -> int | list[int]:
    """`--hidden` as the spec keeps it: an int for one hidden layer, a list for several ("8,4" or [8, 4])."""
    text = value if isinstance(value, str) else None
    if text is not None:
        try:
            value = [int(part) for part in text.split(",")]
        except ValueError:
            value = None
    layers = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if not (isinstance(layers, list) and 1 <= len(layers) <= MAX_DEPTH and all(
            isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= MAX_UNITS for h in layers)):
        shown = text if text is not None else value
        raise XlnetError(f"--hidden takes the units of each hidden layer, whole numbers from 1 to {MAX_UNITS}, "
                         f"1 to {MAX_DEPTH} layers (as 8, or 8,4); not {shown!r}.")
    return layers[0] if len(layers) == 1 else layers


def level_key(v):
    """A value as a spreadsheet's `=` compares it: text without case, anything else as it is."""
    return v.lower() if isinstance(v, str) else v


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(type(v))


# --- Inference -------------------------------------------------------------------------------------------

def parse_number(text: str) -> float | None:
    """The number a CSV field holds, or None (not a number, or not finite)."""
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


class TypeTracker:
    """What one column's values look like: each text present and its count, and how many are missing."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.missing = 0

    def add(self, distinct: list[str], counts: np.ndarray) -> None:
        """Rows of the column: its distinct texts there and how many rows hold each."""
        for text, n in zip(distinct, counts.tolist()):
            if text in MISSING_MARKERS:
                self.missing += n
            else:
                self.counts[text] += n


class DerivedTracker:
    """What a derived column's values look like over the rows: each value and its count, and the rows where it is
    an error (None)."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.errors = 0

    def add(self, values: np.ndarray) -> None:
        for v, n in Counter(values.tolist()).items():
            if v is None:
                self.errors += n
            else:
                self.counts[v] += n

    def tracker(self, name: str, formula: str, source: str, ignored: bool) -> tuple[TypeTracker, bool]:
        """A TypeTracker of the values' texts, and whether they are text (never read as numbers). Numbers and text
        in one column are refused unless it is --ignore'd (no feature reads it)."""
        texts = any(isinstance(v, str) for v in self.counts)
        if texts and not ignored and any(isinstance(v, float) for v in self.counts):
            number = next(v for v in self.counts if isinstance(v, float))
            word = next(v for v in self.counts if isinstance(v, str))
            raise XlnetError(f"{source}: {name} = {formula} is a number in some rows ({number:g}) and text in others "
                             f"({word[:30]!r}); make it one: append &\"\" to make every value text.")
        t = TypeTracker()
        t.counts = Counter({(v if texts else repr(v)): n for v, n in self.counts.items()})
        t.missing = self.errors
        return t, texts


def infer(header: list[str], trackers: list[TypeTracker], n_rows: int, *, target: str, categorical=(),
          numeric=(), log=(), ignore=(), id_column: str | None = None, positive: str | None = None,
          classes: bool = False, continuous: bool = False, missing: str = "drop", loss: str | None = None,
          hidden: int | list[int] | str = 2, source: str = "the CSV",
          derived: list[tuple[str, str, DerivedTracker]] = (), max_levels: int = MAX_LEVELS) -> Spec:
    """A spec from the data (each column's tracker over all `n_rows` rows, and each derived column's (name,
    formula, tracker)): every choice overridable by the named options."""
    names = list(header) + [name for name, _, _ in derived]
    for option, asked in (("--categorical", categorical), ("--numeric", numeric), ("--log", log),
                          ("--ignore", ignore), ("--id", [id_column] if id_column else []), ("--target", [target])):
        unknown = [n for n in asked if n not in names]
        if unknown:
            raise XlnetError(f"{source}: {option} names {', '.join(map(repr, unknown))}, which is not a column"
                             f"{_did_you_mean(unknown[0], names)}; the columns are: {', '.join(names)[:300]}.")
    kind = _asked_kind(positive, classes, continuous)
    out = []
    for name, tracker in zip(header, trackers):
        out.append(_infer_column(name, tracker, n_rows, target=target, categorical=name in categorical,
                                 numeric=name in numeric, log=name in log, ignore=name in ignore,
                                 id_column=name == id_column, positive=positive, source=source, kind=kind,
                                 max_levels=max_levels))
    for name, formula, values in derived:
        tracker, texts = values.tracker(name, formula, source, name in ignore)
        col = _infer_column(name, tracker, n_rows, target="", categorical=name in categorical, numeric=name in numeric,
                            log=name in log, ignore=name in ignore, id_column=False, positive=None, source=source,
                            texts=texts, max_levels=max_levels)
        col.formula = formula
        if col.kind == "id":
            col.kind, col.note = "ignored", "every value distinct"
        out.append(col)
    if id_column is None:
        ids = [c for c in out if c.kind == "id"]
        for c in ids[1:]:
            c.kind, c.note = "ignored", "another id-like column"
    levels = out[header.index(target)].levels
    task = "continuous" if not levels else "binary" if len(levels) == 2 else "multiclass"
    spec = Spec(out, target, task=task, loss=loss or default_loss(task), hidden=hidden_layers(hidden),
                missing=missing, weight_decay=0.0)
    spec.check(source)
    return spec


def _looks_like_id(name: str) -> bool:
    return bool(re.fullmatch(r"(?i)(.*[_ ])?id|.*[a-z]Id|id[_ ].*|.*_ID", name))


def _asked_kind(positive: str | None, classes: bool, continuous: bool) -> str | None:
    """The kind of target the options ask for: binary (--positive), multiclass (--classes), continuous."""
    asked = [kind for kind, given in (("binary", positive is not None), ("multiclass", classes),
                                      ("continuous", continuous)) if given]
    if len(asked) > 1:
        raise XlnetError("--positive, --classes and --continuous each say what the target is: give one of them.")
    return asked[0] if asked else None


def _did_you_mean(name: str, names: list[str]) -> str:
    same = [n for n in names if n.lower() == name.lower()]
    close = same or difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _infer_column(name: str, t: TypeTracker, n_rows: int, *, target: bool, categorical: bool, numeric: bool,
                  log: bool, ignore: bool, id_column: bool, positive: str | None, source: str,
                  kind: str | None = None, texts: bool = False, max_levels: int = MAX_LEVELS) -> Column:
    present = n_rows - t.missing
    numbers = {text: None if texts else parse_number(text) for text in t.counts}
    all_numbers = present > 0 and all(v is not None for v in numbers.values())
    distinct = len(t.counts)
    col = Column(name, "ignored", missing=t.missing, distinct=distinct)
    if name == target:
        return _infer_target(col, t, numbers, all_numbers, positive, source, kind)
    if ignore:
        col.note = "--ignore"
        return col
    if id_column:
        col.kind, col.note = "id", "--id"
        return col
    if present == 0:
        col.note = "every value is missing"
        return col
    if distinct == 1 and not (categorical or numeric):
        col.note = "one value only"
        return col
    if t.missing > 0.5 * n_rows and not (categorical or numeric or log):
        col.note = f"{t.missing} of {n_rows} values missing"
        return col
    whole = all_numbers and all(float(v).is_integer() for v in numbers.values())
    if _looks_like_id(name) and distinct == present and (whole or not all_numbers) and not (categorical or numeric):
        col.kind, col.note = "id", "named like an id, every value distinct"
        return col
    if (numeric or log) and not all_numbers:
        bad = next(text for text, v in numbers.items() if v is None)
        raise XlnetError(f"{source}: column {name}: {bad[:40]!r} is not a number, so it cannot be "
                         f"{'--log' if log else '--numeric'}.")
    if all_numbers and not categorical and (numeric or log or not (whole and distinct <= FEW_WHOLE_VALUES)):
        values = np.repeat(np.array([numbers[k] for k in t.counts]), [t.counts[k] for k in t.counts])
        col.kind = "numeric"
        skew = _skewness(values)
        if log or (not numeric and values.min() >= 0 and skew > SKEW_FOR_LOG):
            if values.min() < 0:
                raise XlnetError(f"{source}: column {name} has negative values, so LOG10(x+1) is not defined; "
                                 "leave it to --numeric.")
            col.transform, col.note = "log", ("--log" if log else f"values >= 0, skewness {skew:.1f} > {SKEW_FOR_LOG:g}")
            col.minimum = 0.0
        else:
            col.transform = "scale"
            col.scale = "max" if values.min() >= 0 else "maxabs"
            col.note = "--numeric" if numeric else ("numbers" if not whole else f"{distinct} whole-number values")
        return col
    if not categorical and distinct > max_levels and distinct > 0.5 * present:
        col.note = f"text, {distinct} distinct values of {present}: free text or a code"
        return col
    col.kind, col.transform = "categorical", "dummies"
    key = (lambda text: numbers[text]) if all_numbers else str
    merged: Counter = Counter()
    spelling: dict = {}
    for text, count in t.counts.items():
        k = key(text) if all_numbers else text.lower()
        merged[k] += count
        spelling.setdefault(k, Counter())[text] += count
    ranked = sorted(merged, key=lambda k: -merged[k])  # equally frequent levels in the order the rows show them
    enough = [k for k in ranked if merged[k] >= level_rows(present)]
    kept = enough[:max_levels]
    pooled = len(ranked) - len(kept)
    if not pooled and kept:
        kept = kept[:-1]  # the rarest level is the baseline: n-1 dummies
    levels = [(_as_level(k) if all_numbers else spelling[k].most_common(1)[0][0]) for k in kept]
    col.levels = levels
    rare, past = len(ranked) - len(enough), len(enough) - len(kept)
    why = [f"{rare} level{'s' if rare != 1 else ''} of fewer than {level_rows(present):g} rows"] if rare else []
    why += [f"{past} past --max-levels {max_levels}"] if past else []
    col.note = ("--categorical" if categorical else ("few whole numbers" if all_numbers else "text")) + (
        f"; {' and '.join(why)} pooled with the baseline" if pooled else
        f"; baseline {_as_level(ranked[-1]) if all_numbers else spelling[ranked[-1]].most_common(1)[0][0]!r}")
    if not levels:
        col.kind, col.transform, col.note = "ignored", "", "no level common enough for a dummy"
    return col


def level_rows(present: int) -> float:
    """The rows a level needs for a dummy of its own: 1 % of the rows, or ENOUGH_LEVEL_ROWS where that is fewer;
    at least 2."""
    return max(2, min(MIN_LEVEL_SHARE * present, ENOUGH_LEVEL_ROWS))


def _as_level(x: float):
    return int(x) if float(x).is_integer() else float(x)


def _infer_target(col: Column, t: TypeTracker, numbers: dict, all_numbers: bool, positive: str | None,
                  source: str, kind: str | None = None) -> Column:
    """Two values (or --positive): binary. Text of 3 to MAX_CLASSES levels, or 3 to FEW_CLASSES whole numbers
    (or --classes): multiclass. Other numbers (or --continuous): continuous."""
    col.kind, col.missing_ok = "target", True
    if not t.counts:
        raise XlnetError(f"{source}: the target {col.name} has no values.")
    if positive is not None and positive not in t.counts:
        raise XlnetError(f"{source}: --positive {positive!r} is not a value of {col.name}; its values include "
                         f"{', '.join(list(t.counts)[:10])}.")
    merged = _merged_levels(t, numbers, all_numbers)
    if len(merged) == 1 and kind is None and not all_numbers:
        raise XlnetError(f"{source}: every {col.name} is {next(iter(merged))!r}; a target of one value has "
                         "nothing to predict.")
    if kind == "binary" or kind is None and len(merged) == 2:
        levels = sorted(t.counts, key=lambda s: (numbers.get(s) is None, numbers.get(s) or 0, s))
        pos = positive or next((s for s in levels if s.lower() in POSITIVE_NAMES), levels[-1])
        neg = [s for s in levels if s != pos]
        col.levels = [_typed(neg[0] if len(neg) == 1 else "other", all_numbers), _typed(pos, all_numbers)]
        col.note = f"binary: 1 = {pos}" + (f" (rest: {len(neg)} values)" if len(neg) > 1 else "")
        return col
    whole = all_numbers and all(float(v).is_integer() for v in numbers.values())
    if kind == "continuous" or kind is None and all_numbers and not (whole and 3 <= len(merged) <= FEW_CLASSES):
        if not all_numbers:
            bad = next(text for text, v in numbers.items() if v is None)
            raise XlnetError(f"{source}: --continuous needs a numeric target; {col.name} holds {bad[:40]!r}.")
        col.note = "--continuous" if kind else "numbers: continuous"
        return col
    if len(merged) > MAX_CLASSES:
        raise XlnetError(f"{source}: the target {col.name} has {len(merged)} levels; xlnet predicts up to "
                         f"{MAX_CLASSES} classes: name the level to predict with --positive LEVEL"
                         + (", or predict a number with --continuous." if all_numbers else "."))
    col.levels = list(merged.values())
    col.note = ("--classes" if kind else f"{len(merged)} whole-number values: classes (--continuous for a number)"
                if all_numbers else "text") + f": {len(merged)} classes"
    return col


def _merged_levels(t: TypeTracker, numbers: dict, all_numbers: bool) -> dict:
    """The target's levels, sorted, each once: text merged without case (as a spreadsheet compares it, spelled as
    most of its rows spell it), numbers by value."""
    spelling: dict = {}
    for text, count in t.counts.items():
        key = numbers[text] if all_numbers else text.lower()
        spelling.setdefault(key, Counter())[text] += count
    return {key: _as_level(key) if all_numbers else spelling[key].most_common(1)[0][0]
            for key in sorted(spelling, key=lambda k: (str(k).lower(), str(k)) if not all_numbers else k)}


def _typed(text: str, number: bool):
    x = parse_number(text) if number else None
    return text if x is None else _as_level(x)


def _skewness(x: np.ndarray) -> float:
    sd = x.std()
    return 0.0 if sd == 0 else float(((x - x.mean()) ** 3).mean() / sd ** 3)


# --- Spec files ------------------------------------------------------------------------------------------

def read_spec_file(path: str | Path) -> dict:
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise XlnetError(f"{path}: cannot read it ({e.strerror}).") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise XlnetError(f"{path}: not a valid TOML spec ({e}).") from None


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)


def spec_toml(spec: Spec) -> str:
    """The spec as a TOML file `xlnet build --spec` reads back."""
    lines = ["# xlnet column spec: edit kinds and transforms, then `xlnet build DATA.csv --spec THIS.toml`",
             f"target = {_toml_value(spec.target)}", f"task = {_toml_value(spec.task)}",
             f"loss = {_toml_value(spec.loss)}", f"hidden = {spec.hidden}", f"missing = {_toml_value(spec.missing)}",
             f"weight_decay = {_toml_value(spec.weight_decay or 0.0)}", ""]
    if spec.derived:
        lines.append("[derive]  # new columns: spreadsheet expressions over the columns before them")
        lines += [f"{json.dumps(c.name, ensure_ascii=False)} = {_toml_value(c.formula)}" for c in spec.derived]
        lines.append("")
    for c in spec.columns:
        lines.append("[[columns]]")
        for key in ("name", "kind", "transform", "levels", "scale", "note"):
            value = getattr(c, key)
            if value not in ("", [], None) and not (key == "scale" and c.transform != "scale"):
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def spec_from_file(d: dict, header: list[str], source: str) -> Spec:
    """A spec file's columns, checked against the CSV's header; columns it does not name are ignored. Its [derive]
    table's columns come after the CSV's, each with a [[columns]] entry saying what it is."""
    known = {f.name for f in fields(Column)}
    given = {}
    for i, c in enumerate(d.get("columns", [])):
        if not isinstance(c, dict) or "name" not in c or "kind" not in c:
            raise XlnetError(f"{source}: columns entry {i + 1} needs a name and a kind.")
        given[c["name"]] = Column(**{k: v for k, v in c.items() if k in known and k != "note"}, note="the spec file")
    derive = d.get("derive", {})
    missing = [n for n in given if n not in header and n not in derive]
    if missing:
        raise XlnetError(f"{source}: the spec names {', '.join(missing)}, which the CSV does not have.")
    unlisted = [n for n in derive if n not in given]
    if unlisted:
        raise XlnetError(f"{source}: the derived column {unlisted[0]!r} has no [[columns]] entry; add one with its "
                         f"kind (numeric or categorical), or leave out [[columns]] to infer every column.")
    columns = [given.get(n) or Column(n, "ignored", note="not in the spec") for n in header]
    for name, formula in derive.items():
        given[name].formula = formula
        columns.append(given[name])
    task = d.get("task", "binary")
    spec = Spec(columns, d.get("target", ""), task=task, loss=d.get("loss") or default_loss(task),
                hidden=d.get("hidden", 2), missing=d.get("missing", "drop"), weight_decay=d.get("weight_decay", 0.0))
    spec.check(source)
    return spec
