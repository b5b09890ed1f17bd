"""`xlnet build`: CSV in, workbook out: the lesson's preset, or a spec inferred, given by options or read from a file."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cleaning import Cleaning, target_values
from .data import (EMBEDDED, CsvSource, Frame, Spooled, Survey, Table, check_columns, check_valid_pct, set_names,
                   table_from_frame, type_table, validation_mask)
from .errors import XlnetError
from .features import feature_matrix, features, statistics, value_columns
from .layout import MAX_ROWS
from .lessons import titanic
from .net import Scores, build_models, starting_params
from .sheets import DataSheet, ModelSheets, write_spec_sheet
from .spec import MISSING_CHOICES, Spec, infer, read_spec_file, spec_from_file
from .xlsx.write import new_workbook


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

    @property
    def losses(self) -> dict[str, float]:
        return {name: m["train_loss"] for name, m in self.metrics.items()}


def check_out(out: Path, force: bool) -> None:
    if out.suffix.lower() != ".xlsx" or out.is_dir() or (out.parent.exists() and not out.parent.is_dir()):
        raise XlnetError(f"{out} is not a path an .xlsx workbook can be written to; choose another --out.")
    if out.exists() and not force:
        raise XlnetError(f"{out} already exists and may hold your Solver results; "
                         "use --force to overwrite it, or --out to write elsewhere.")


def make_spec(source: CsvSource | Table, survey: Survey | None = None, *, target: str | None = None,
              spec_file: str | Path | None = None, missing: str = "drop", loss: str | None = None,
              hidden: int | None = None, **options) -> Spec:
    """The lesson's spec when nothing names a target; else the file's or the one inferred from the `survey` of
    every row, options winning."""
    if spec_file is not None:
        d = read_spec_file(spec_file)
        if target:
            d["target"] = target
        d.setdefault("missing", missing)
        for key, value in (("loss", loss), ("hidden", hidden)):
            if value is not None:
                d[key] = value
        return spec_from_file(d, source.header, str(spec_file))
    if target is None:
        if loss not in (None, "mse") or hidden not in (None, 2) or any(options.values()):
            raise XlnetError(f"{source.source}: name the target column with --target to use spec options "
                             "(the lesson's preset takes none).")
        spec = titanic.spec(missing)
        check_columns(source, spec, hint=titanic.TRAIN_HINT + " For your own data, name the target with --target.")
        return spec
    return infer(source.header, survey.trackers, survey.n_rows, target=target, missing=missing, loss=loss or "mse",
                 hidden=2 if hidden is None else hidden, source=str(source.source), **options)


def infers(target: str | None, spec_file: str | Path | None) -> bool:
    """Whether the spec is inferred from the rows (so they are surveyed before anything else)."""
    return target is not None and spec_file is None


def model_env(spec: Spec, frame: Frame, sets: np.ndarray | None, cleaning: Cleaning) -> dict:
    """The value columns of a model sheet, from kept rows: y as 0/1 (binary) or the number; and the statistics
    of all the rows kept that features divide by."""
    env = {}
    labels = {c.feature_labels()[0]: c.name for c in spec.features if c.kind == "numeric"}
    for column in value_columns(spec):
        if column == spec.target:
            env[column] = target_values(frame, spec)
        elif column == "Ones":
            env[column] = np.ones(len(frame))
        else:
            env[column] = frame.values[labels.get(column, column) if column not in frame.values else column]
    if sets is not None:
        env["Set"] = sets
    for name, op in statistics(spec).items():
        env[("statistic", name)] = op.value({name: cleaning.statistic(name)})
    return env


def build(csv_path=None, out: str | Path = "workbooks/titanic.xlsx", *,
          seed: int | None = 42, missing: str = "drop", valid_pct: float | None = None, force: bool = False,
          params: dict | None = None, target: str | None = None, spec_file: str | Path | None = None,
          loss: str | None = None, hidden: int | None = None, **options) -> BuildSummary:
    """Read the CSV (a path, or a pandas DataFrame), make or read the spec, write the workbook; `params` overrides
    the random start. `valid_pct` None: the default (DEFAULT_VALID_PCT for a table of MIN_ROWS_TO_VALIDATE rows or
    more with a named target, so a fit can choose what generalises; none for the lesson's preset).

    The rows go a chunk at a time through two passes (three when the spec is inferred: a survey first), so memory
    does not grow with them: the first learns the cleaning, the last writes and scores the sheets. The CSV is
    parsed once; the later passes read the chunks the first kept in a temporary file."""
    frame_given = hasattr(csv_path, "columns")
    path = Path("DataFrame") if frame_given else Path(csv_path) if csv_path else EMBEDDED
    out = Path(out)
    check_out(out, force)
    if missing not in MISSING_CHOICES:
        raise XlnetError(f"--missing must be one of {', '.join(MISSING_CHOICES)}, not {missing!r}.")
    if valid_pct is not None:
        check_valid_pct(valid_pct)
    lesson = target is None and spec_file is None
    if frame_given:
        source = table_from_frame(csv_path)
        if len(source) > MAX_ROWS:
            raise XlnetError(f"DataFrame: more than {MAX_ROWS:,} rows, more than a worksheet holds; split it.")
    else:
        source = CsvSource(path, max_rows=MAX_ROWS, noun="passenger" if lesson else "row",
                           empty_hint=titanic.EMPTY_HINT if lesson else "")
    with Spooled(source) as rows:
        return _build(rows, path, out, infers(target, spec_file), seed=seed, missing=missing, valid_pct=valid_pct,
                      params=params, target=target, spec_file=spec_file, loss=loss, hidden=hidden, **options)


def _build(source: Spooled, path: Path, out: Path, surveyed: bool, *, seed: int | None, missing: str,
           valid_pct: float | None, params: dict | None, **spec_options) -> BuildSummary:
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
    n = cleaning.kept
    if valid_pct is None:
        valid_pct = DEFAULT_VALID_PCT if spec.preset != "lesson" and n >= MIN_ROWS_TO_VALIDATE else 0.0
    held_out = validation_mask(n, valid_pct, seed)
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
        sheets = ModelSheets(w, spec, models, theta, n, split)
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
            for s in scores.values():
                s.add(X, env[spec.target], sets)
        sheets.close()
        data.close()
        write_spec_sheet(w, spec)
    metrics = {name: s.values() for name, s in scores.items()}
    n_valid = 0 if held_out is None else int(held_out.sum())
    return BuildSummary(path, out, survey.n_rows, n, len(names), n_valid, spec, cleaning.report, metrics)
