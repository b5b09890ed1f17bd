"""`xlnet build`: CSV in, workbook out: the lesson's preset, or a spec inferred, given by options or read from a file."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xlnet.errors import XlnetError
from xlnet.model.features import feature_matrix, features, statistics, value_columns
from xlnet.model.net import Scores, build_models, starting_params
from xlnet.model.spec import MISSING_CHOICES, Spec
from xlnet.presets import lesson
from xlnet.table.cleaning import Cleaning, target_values
from xlnet.table.reading import (Frame, Spooled, Survey, check_valid_pct, set_names, table_from_frame, type_table,
                                 validation_mask)
from xlnet.table.specs import infers, make_spec, preset_for, source_for
from xlnet.workbook.layout import MAX_ROWS
from xlnet.workbook.readme_sheet import write_readme_sheet
from xlnet.workbook.writing import DataSheet, ModelSheets, write_spec_sheet
from xlnet.xlsx.safety import check_new_workbook
from xlnet.xlsx.write import new_workbook


DEFAULT_VALID_PCT = 0.2
MIN_ROWS_TO_VALIDATE = 50


@dataclass
class BuildSummary:
    source: Path
    out: Path
    rows_read: int
    rows_kept: int
    features: int
    rows_valid: int
    spec: Spec | None = None
    report: dict = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    variables: dict[str, int] = field(default_factory=dict)  # the cells Solver changes, per sheet

    @property
    def losses(self) -> dict[str, float]:
        return {name: m["train_loss"] for name, m in self.metrics.items()}


def model_env(spec: Spec, frame: Frame, sets: np.ndarray | None, cleaning: Cleaning) -> dict:
    """The value columns of a model sheet, from kept rows: y as 0/1 (binary), the class as its label (multiclass) or
    the number; and the statistics of all the rows kept that features divide by."""
    env = {}
    labels = {c.feature_labels()[0]: c.name for c in spec.features if c.kind == "numeric"}
    for column in value_columns(spec):
        if column == spec.target:
            y = target_values(frame, spec)
            env[column] = np.array(spec.classes, object)[y.astype(int)] if spec.classes else y
        elif column == "Ones":
            env[column] = np.ones(len(frame))
        else:
            env[column] = frame.values[labels.get(column, column) if column not in frame.values else column]
    if sets is not None:
        env["Set"] = sets
    for name, op in statistics(spec).items():
        env[("statistic", name)] = op.value({name: cleaning.statistic(name)})
    return env


def build(csv_path=None, out: str | Path | None = None, *,
          seed: int | None = 42, missing: str | None = None, valid_pct: float | None = None, force: bool = False,
          params: dict | None = None, target: str | None = None, spec_file: str | Path | None = None,
          loss: str | None = None, hidden: int | None = None, **options) -> BuildSummary:
    """Read the CSV (a path, or a pandas DataFrame), make or read the spec, write the workbook; `params` overrides
    the random start. `valid_pct` None: the default (DEFAULT_VALID_PCT for a table of MIN_ROWS_TO_VALIDATE rows or
    more with a named target, so a fit can choose what generalises; none for the lesson's preset).

    The rows go a chunk at a time through two passes (three when the spec is inferred: a survey first), so memory
    does not grow with them: the first learns the cleaning, the last writes and scores the sheets. The CSV is
    parsed once; the later passes read the chunks the first kept in a temporary file."""
    frame_given = hasattr(csv_path, "columns")
    preset = preset_for(target, spec_file)
    out = Path(out or (preset or lesson()).out)
    check_new_workbook(out, force)
    if missing is not None and missing not in MISSING_CHOICES:
        raise XlnetError(f"--missing must be one of {', '.join(MISSING_CHOICES)}, not {missing!r}.")
    if valid_pct is not None:
        check_valid_pct(valid_pct)
    if frame_given:
        source = table_from_frame(csv_path)
        if len(source) > MAX_ROWS:
            raise XlnetError(f"DataFrame: more than {MAX_ROWS:,} rows, more than a worksheet holds; split it.")
    else:
        source = source_for(csv_path, preset, MAX_ROWS)
    default_pct = preset.valid_pct if preset else DEFAULT_VALID_PCT
    readme_first = preset.readme_first if preset else True
    with Spooled(source) as rows:
        return _build(rows, Path(source.source), out, infers(target, spec_file), seed=seed, missing=missing,
                      valid_pct=valid_pct, default_pct=default_pct, params=params, readme_first=readme_first,
                      target=target, spec_file=spec_file, loss=loss, hidden=hidden, **options)


def _build(source: Spooled, path: Path, out: Path, surveyed: bool, *, seed: int | None, missing: str,
           valid_pct: float | None, default_pct: float, params: dict | None, readme_first: bool,
           **spec_options) -> BuildSummary:
    """build's passes over the rows: survey them (if the spec is inferred), learn the cleaning, write."""
    survey = Survey(source.header, count_texts=surveyed)
    if surveyed:
        for chunk in source.chunks():
            survey.add(chunk)
    spec = make_spec(source, survey, missing=missing, **spec_options)
    cleaning = Cleaning(spec, path)
    for chunk in source.chunks():
        if not surveyed:
            survey.add(chunk)
        cleaning.add(type_table(chunk, spec))
    cleaning.learned()
    if spec.derived:  # computed on the rows as cleaned, as the sheet computes them from the cells it holds
        for chunk in source.chunks():
            cleaning.add_derived(type_table(chunk, spec))
        cleaning.learned_derived()
    n = cleaning.kept
    if valid_pct is None:
        valid_pct = default_pct if n >= MIN_ROWS_TO_VALIDATE else 0.0
    held_out = validation_mask(n, valid_pct, seed)
    if held_out is not None:
        cleaning.check_classes(held_out)
    names = tuple(name for name, _ in features(spec))
    models = build_models(spec, names)
    theta = starting_params(models, seed)
    for name, W in (params or {}).items():
        W = np.ravel(np.asarray(W, float))
        if W.size != models[name].n_params:
            raise XlnetError(f"{name}: {W.size} parameters given, the sheet has {models[name].n_params}.")
        theta[name] = W
    split = held_out is not None
    scores = {name: Scores(model, theta[name], spec.weight_decay or 0.0, split) for name, model in models.items()}
    with new_workbook(out) as w:
        if readme_first:
            write_readme_sheet(w, spec, models, n, split)
        with ModelSheets(w, spec, models, theta, n, split) as sheets:
            data = DataSheet(w, source.header, survey.numbers_only, source.decimal_comma, survey.n_rows)
            done = 0
            for chunk in source.chunks():
                data.add(chunk)
                frame = cleaning.apply(type_table(chunk, spec))
                sets = None if held_out is None else set_names(held_out[done:done + len(frame)])
                done += len(frame)
                env = model_env(spec, frame, sets, cleaning)
                sheets.add(env)
                X = feature_matrix(spec, env)
                y = spec.codes(env[spec.target])
                for s in scores.values():
                    s.add(X, y, sets)
            sheets.close()
        data.close()
        if not readme_first:
            write_readme_sheet(w, spec, models, n, split)
        write_spec_sheet(w, spec)
    metrics = {name: s.values() for name, s in scores.items()}
    n_valid = 0 if held_out is None else int(held_out.sum())
    variables = {name: m.n_params + m.decay for name, m in models.items()}
    return BuildSummary(path, out, survey.n_rows, n, len(names), n_valid, spec, cleaning.report, metrics, variables)
