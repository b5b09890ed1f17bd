"""The lesson's features, each defined once: its formula and its numpy value come from one op."""
from __future__ import annotations

import numpy as np

from .formula import Col, Dummy, Log10, Max, Num, Op

# Columns a model sheet holds as plain values, in the reference workbook's order.
RAW = ("Survived", "Embarked", "Pclass", "Sex", "Age", "Fare")

# The features, in the order the parameters use. None: the value is written as it is.
FEATURES: tuple[tuple[str, Op | None], ...] = (
    ("SibSp", None),
    ("Parch", None),
    ("Age_N", Col("Age") / Max("Age")),
    ("log_Fare", Log10(Col("Fare") + Num(1))),
    ("Pclass_1", Dummy("Pclass", 1)),
    ("Pclass_2", Dummy("Pclass", 2)),
    ("Embark_S", Dummy("Embarked", "S")),
    ("Embark_C", Dummy("Embarked", "C")),
    ("Male", Dummy("Sex", "male")),
    ("Ones", None),
)
FEATURE_NAMES = tuple(name for name, _ in FEATURES)
# Columns holding values: the raw ones, then the features that are values.
VALUE_COLUMNS = RAW + tuple(name for name, op in FEATURES if op is None)


def feature_matrix(env: dict) -> np.ndarray:
    """X, one row per passenger, one column per feature, from the value columns in `env`."""
    return np.column_stack([env[name] if op is None else op.value(env) for name, op in FEATURES])
