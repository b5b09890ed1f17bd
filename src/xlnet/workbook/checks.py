"""The checks of a model sheet as read: each value cell holds what its column must, Solver's names point where
they did, and the statistics the features divide by are not 0. A refusal names the cell."""
from __future__ import annotations

import math
import re

import numpy as np

from xlnet.errors import XlnetError
from xlnet.model.spec import Spec, level_key
from xlnet.workbook.layout import FIRST_ROW, SETS, SheetLayout
from xlnet.xlsx.read import Package, letters


def normal(formula) -> str:
    return "".join(str(formula).split()).upper()


def is_number(v) -> bool:
    return isinstance(v, float) and math.isfinite(v)


def value_rule(spec: Spec, column: str):
    """What a value cell of `column` must hold: a test of a value, its wording, and where it is simple, the same
    test of a whole column of floats at once."""
    if column == "Set":
        return (lambda v: v in SETS), "train or valid", None
    if column == spec.target:
        if spec.task == "multiclass":
            keys = {level_key(level) for level in spec.classes}
            return ((lambda v: isinstance(v, (str, float)) and level_key(v) in keys),
                    " or ".join(map(str, spec.classes)), None)
        if spec.task == "binary":
            return (lambda v: v in (0.0, 1.0) and not isinstance(v, bool)), "0 or 1", lambda x: (x == 0) | (x == 1)
        return is_number, "a number", np.isfinite
    c = next((c for c in spec.features if column in (c.name, *c.feature_labels())), None)
    if c is None and column in spec.inputs:  # read only by derived columns: any cell, as the CSV held it
        return (lambda v: v is None or isinstance(v, str) or is_number(v)), "a number, text or nothing", None
    if c is None or c.kind == "numeric":
        if c is not None and c.transform == "log":
            return ((lambda v: is_number(v) and v >= 0), "a number, 0 or more (LOG10(x+1) needs it)",
                    lambda x: np.isfinite(x) & (x >= 0))
        return is_number, "a number", np.isfinite
    if c.allowed:
        allowed = set(c.allowed) | {float(a) for a in c.allowed if not isinstance(a, str)}
        return (lambda v: isinstance(v, (str, float)) and v in allowed), " or ".join(map(str, c.allowed)), None
    return (lambda v: isinstance(v, str) or is_number(v)), "a value", np.isfinite


def _distinct(vals: np.ndarray) -> list[float]:
    """The distinct numbers of a float array, as np.unique gives them, without its import of numpy.ma (12 ms of a
    command's start-up)."""
    ordered = np.sort(vals)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))].tolist() if len(ordered) else []


def check_values(values: dict[str, list], rules: dict, at: SheetLayout, where: str) -> None:
    """Every value cell holds what its column must: the first cell (by row, then column) that does not is named.
    Each distinct value is tested once."""
    first_bad = None
    for column, vals in values.items():
        ok, want, ok_all = rules[column]
        if isinstance(vals, np.ndarray):
            if vals.dtype == float and (ok_all(vals).all() if ok_all else all(ok(v) for v in _distinct(vals))):
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


GNUMERIC_KEPT = re.compile(r'^ERROR\("(.*)"\)$', re.S)  # how Gnumeric saves a name it cannot parse (two areas)


def check_names(pkg: Package, name: str, at: SheetLayout, where: str) -> None:
    """Solver's names, where present, still point at the loss cell and the parameter blocks."""
    expected = {"solver_opt": (f"{name}!{at.loss_cell()}", "loss cell"),
                "solver_adj": (at.solver_adj(), "parameter block")}
    for key, (target, what) in expected.items():
        found = pkg.name(key, name)
        text = None if found is None else GNUMERIC_KEPT.sub(r"\1", found.text.strip())
        if found is not None and normal(text.replace("'", "")) != normal(target):
            raise XlnetError(f"{where}: Solver's {key} points at {found.text}, but xlnet's {what} is {target}; "
                             "the sheet was rearranged: rebuild it with `xlnet build`.")


def check_data(spec: Spec, env: dict, at: SheetLayout, where: str) -> None:
    """Statistics the features divide by must not be 0."""
    for name, op in at.statistics.items():
        if op.b.value(env) == 0:
            raise XlnetError(f"{where}: every {name} is 0, so {name}/MAX({name}) divides by zero in the sheet; "
                             f"correct the data rows.")
