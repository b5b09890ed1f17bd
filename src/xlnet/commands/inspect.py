"""`xlnet inspect`: the spec xlnet would build with, as a table a person reads."""
from __future__ import annotations

from pathlib import Path

from xlnet.model.features import features
from xlnet.model.spec import Spec, spec_toml
from xlnet.table.reading import Survey
from xlnet.table.specs import infers, make_spec, preset_for, source_for


def _levels(c) -> str:
    text = ", ".join(map(str, c.levels[:6])) + (", ..." if len(c.levels) > 6 else "")
    return text


def inspect_csv(path: str | Path, **options) -> tuple[str, Spec, str]:
    """(table text, spec, TOML) for a CSV and the spec options build would take."""
    source = source_for(path, preset_for(options.get("target"), options.get("spec_file")))
    survey = Survey(source.header, count_texts=infers(options.get("target"), options.get("spec_file")))
    for chunk in source.chunks():
        survey.add(chunk)
    spec = make_spec(source, survey, **options)
    missing = dict(zip(source.header, survey.missing))
    rows = [("column", "kind", "transform", "levels / feature", "missing", "why")]
    for c in spec.columns:
        if c.name not in missing and not c.is_derived:
            continue
        if c.kind == "categorical":
            detail = _levels(c)
        elif c.kind == "numeric":
            detail = c.feature_labels()[0]
        elif c.kind == "target":
            detail = _levels(c) if spec.classes else f"1 = {c.levels[1]}" if c.levels else "continuous"
        else:
            detail = ""
        why = f"= {' '.join(c.formula.split())}; {c.note}" if c.is_derived else c.note
        rows.append((c.name, c.kind, c.transform, detail, str(missing.get(c.name, "-")), why))
    widths = [min(30, max(len(r[i]) for r in rows)) for i in range(5)]
    lines = ["  ".join(f"{r[i][:widths[i]]:<{widths[i]}}" for i in range(5)) + "  " + r[5] for r in rows]
    n_features = len(features(spec))
    lines.append(f"{survey.n_rows} rows; {n_features} features (with Ones); loss {spec.loss}, hidden "
                 f"{','.join(map(str, spec.layers))}, "
                 f"missing values: {spec.missing}.")
    return "\n".join(lines), spec, spec_toml(spec)
