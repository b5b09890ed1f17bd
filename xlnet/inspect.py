"""`xlnet inspect`: the spec xlnet would build with, as a table a person reads."""
from __future__ import annotations

from pathlib import Path

from .build import make_spec
from .data import read_table
from .features import features
from .lessons import titanic
from .spec import Spec, TypeTracker, spec_toml


def _levels(c) -> str:
    text = ", ".join(map(str, c.levels[:6])) + (", ..." if len(c.levels) > 6 else "")
    return text


def inspect_csv(path: str | Path, **options) -> tuple[str, Spec, str]:
    """(table text, spec, TOML) for a CSV and the spec options build would take."""
    lesson = options.get("target") is None and options.get("spec_file") is None
    table = read_table(path, noun="passenger" if lesson else "row",
                       empty_hint=titanic.EMPTY_HINT if lesson else "")
    spec = make_spec(table, **options)
    rows = [("column", "kind", "transform", "levels / feature", "missing", "why")]
    for c in spec.columns:
        if c.name not in table.header:
            continue
        column = table.column(c.name)
        missing = TypeTracker.of(column.distinct, column.counts()).missing
        if c.kind == "categorical":
            detail = _levels(c)
        elif c.kind == "numeric":
            detail = c.feature_labels()[0]
        elif c.kind == "target":
            detail = f"1 = {c.levels[1]}" if c.levels else "continuous"
        else:
            detail = ""
        rows.append((c.name, c.kind, c.transform, detail, str(missing), c.note))
    widths = [min(30, max(len(r[i]) for r in rows)) for i in range(5)]
    lines = ["  ".join(f"{r[i][:widths[i]]:<{widths[i]}}" for i in range(5)) + "  " + r[5] for r in rows]
    n_features = len(features(spec))
    lines.append(f"{len(table)} rows; {n_features} features (with Ones); loss {spec.loss}, hidden {spec.hidden}, "
                 f"missing values: {spec.missing}.")
    return "\n".join(lines), spec, spec_toml(spec)
