"""A spec's features, each one op: its formula and its numpy value come from one definition."""
from __future__ import annotations

import numpy as np

from xlnet.model.ops import Col, Dummy, Log10, Max, Num, Op
from xlnet.model.spec import Spec


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
        if c.kind == "numeric" and c.transform == "none":
            out[c.feature_labels()[0]] = c.name
    return out


def feature_matrix(spec: Spec, env: dict) -> np.ndarray:
    """X, one row per row of the sheet, one column per feature, from the value columns in `env`."""
    n = len(env[spec.target])
    return np.column_stack([np.ones(n) if name == "Ones" else (env[name] if op is None else op.value(env))
                            for name, op in features(spec)]).astype(float)
