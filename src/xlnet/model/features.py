"""A spec's derived columns and features, each one op: its formula and its numpy value come from one definition."""
from __future__ import annotations

from typing import Callable

import numpy as np

from xlnet.errors import XlnetError
from xlnet.model.expr import Expression
from xlnet.model.ops import Col, Dummy, Log10, Max, Num, Op, _nothing
from xlnet.model.spec import Spec

STACK_ROWS = 16_384  # rows per block of the feature matrix as stacked (20 columns: 2.6 MB, in the cache)


class Derived(Op):
    """A derived column: its expression's formula on the row; its values, computed by `derive`, from the env."""

    def __init__(self, expression: Expression):
        self.expression = expression

    def formula(self, at):
        return self.expression.formula(at)

    def forward(self, env):
        return env[self.expression.name], _nothing


def derived(spec: Spec) -> tuple[tuple[str, Derived], ...]:
    """(header, op) of each derived column, in the order they are defined."""
    return tuple((e.name, Derived(e)) for e in spec.expressions())


def derive(spec: Spec, env: dict, where: Callable[[int], str] | None = None, *, refuse: bool = True) -> dict:
    """Add each derived column's values to `env` (its value columns), unless there already; a row whose value is an
    error, or is text where the spec needs a number, is refused, named by `where` (its row number from 1). With
    `refuse` False (inference, before the rows are cleaned), such a row's value is None instead."""
    if not spec.derived:
        return env
    n = len(next(v for k, v in env.items() if isinstance(k, str) and np.ndim(v) == 1))
    where = (where or (lambda i: f"row {i + 1}")) if refuse else None
    for c, e in zip(spec.derived, spec.expressions()):
        if c.name in env:
            continue
        values = e.values(env, n, where)
        if refuse and c.kind == "numeric" and values.dtype != float:
            i = next(i for i, v in enumerate(values.tolist()) if isinstance(v, str))
            raise XlnetError(f"{where(i)}: {c.name} = {c.formula} is the text {values[i][:40]!r} where {c.name} "
                             f"must be a number; make it a number, or mark {c.name} --categorical.")
        env[c.name] = values
    return env


def features(spec: Spec) -> tuple[tuple[str, Op | None], ...]:
    """(header, op) of each feature column in order; op None: the value is written as it is. Ones last."""
    out: list[tuple[str, Op | None]] = []
    for c in spec.features:
        labels = c.feature_labels()
        if c.kind == "categorical":
            out += [(label, Dummy(c.name, level)) for label, level in zip(labels, c.levels)]
        elif c.transform == "scale":
            out.append((labels[0], Col(c.name) / Max(c.name, c.scale)))
        elif c.transform == "log":
            out.append((labels[0], Log10(Col(c.name) + Num(1))))
        else:
            out.append((labels[0], None))
    out.append(("Ones", None))
    return tuple(out)


def statistics(spec: Spec) -> dict[str, Max]:
    """The statistic each scaled column is divided by (Age: MAX(Age)), by column."""
    return {op.b.name: op.b for _, op in features(spec) if isinstance(getattr(op, "b", None), Max)}


def value_columns(spec: Spec) -> tuple[str, ...]:
    """Columns a model sheet holds as plain values: the raw ones, then the features written as they are."""
    return tuple(spec.raw) + tuple(name for name, op in features(spec) if op is None)


def source_of(spec: Spec) -> dict[str, str]:
    """The CSV column behind each value column that is a feature written as it is (SibSp -> SibSp; Ones -> '')."""
    out = {}
    for c in spec.features:
        if c.kind == "numeric" and c.transform == "none" and not c.is_derived:
            out[c.feature_labels()[0]] = c.name
    return out


def feature_matrix(spec: Spec, env: dict) -> np.ndarray:
    """X, one row per row of the sheet, one column per feature, from the value columns in `env`."""
    n = len(env[spec.target])
    derive(spec, env)
    columns = [1.0 if name == "Ones" else env[name] if op is None else op.value(env) for name, op in features(spec)]
    return stacked(columns, n)


def stacked(columns: list, n: int) -> np.ndarray:
    """np.column_stack of these columns (or numbers, repeated), as floats. It fills the matrix a block of rows at a
    time, each block written while it is in the cache: a third of column_stack's time on a million rows of 20
    columns, which writes over the whole matrix once per column."""
    X = np.empty((n, len(columns)))
    for a in range(0, n, STACK_ROWS):
        block = X[a:a + STACK_ROWS]
        for j, column in enumerate(columns):
            block[:, j] = column if np.ndim(column) == 0 else column[a:a + STACK_ROWS]
    return X
