"""`xlnet build`: CSV in, workbook out: the lesson's preset, or a spec inferred, given by options or read from a file."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import (EMBEDDED, Frame, Table, check_columns, check_valid_pct, clean, read_table, table_from_frame,
                   target_values, type_table, validation_split)
from .errors import XlnetError
from .features import feature_matrix, features, value_columns
from .layout import MAX_ROWS
from .lessons import titanic
from .net import build_models, starting_params
from .sheets import write_data_sheet, write_model_sheets, write_spec_sheet
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


def make_spec(table: Table, *, target: str | None = None, spec_file: str | Path | None = None,
              missing: str = "drop", loss: str | None = None, hidden: int | None = None, **options) -> Spec:
    """The lesson's spec when nothing names a target; else the file's or the inferred one, options winning."""
    if spec_file is not None:
        d = read_spec_file(spec_file)
        if target:
            d["target"] = target
        d.setdefault("missing", missing)
        for key, value in (("loss", loss), ("hidden", hidden)):
            if value is not None:
                d[key] = value
        return spec_from_file(d, table.header, str(spec_file))
    if target is None:
        if loss not in (None, "mse") or hidden not in (None, 2) or any(options.values()):
            raise XlnetError(f"{table.source}: name the target column with --target to use spec options "
                             "(the lesson's preset takes none).")
        spec = titanic.spec(missing)
        check_columns(table, spec, hint=titanic.TRAIN_HINT + " For your own data, name the target with --target.")
        return spec
    return infer(table.header, table.columns, target=target, missing=missing, loss=loss or "mse",
                 hidden=2 if hidden is None else hidden, source=str(table.source), **options)


def model_env(spec: Spec, frame: Frame, sets: np.ndarray | None) -> dict:
    """The value columns of a model sheet, from the kept rows: y as 0/1 (binary) or the number."""
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
    return env


def build(csv_path=None, out: str | Path = "workbooks/titanic.xlsx", *,
          seed: int | None = 42, missing: str = "drop", valid_pct: float | None = None, force: bool = False,
          params: dict | None = None, target: str | None = None, spec_file: str | Path | None = None,
          loss: str | None = None, hidden: int | None = None, **options) -> BuildSummary:
    """Read the CSV (a path, or a pandas DataFrame), make or read the spec, write the workbook; `params` overrides
    the random start. `valid_pct` None: the default (DEFAULT_VALID_PCT for a table of MIN_ROWS_TO_VALIDATE rows or
    more with a named target, so a fit can choose what generalises; none for the lesson's preset)."""
    frame_given = hasattr(csv_path, "columns")
    source = Path("DataFrame") if frame_given else Path(csv_path) if csv_path else EMBEDDED
    out = Path(out)
    check_out(out, force)
    if missing not in MISSING_CHOICES:
        raise XlnetError(f"--missing must be one of {', '.join(MISSING_CHOICES)}, not {missing!r}.")
    if valid_pct is not None:
        check_valid_pct(valid_pct)
    lesson = target is None and spec_file is None
    if frame_given:
        table = table_from_frame(csv_path)
        if len(table) > MAX_ROWS:
            raise XlnetError(f"DataFrame: more than {MAX_ROWS:,} rows, more than a worksheet holds; split it.")
    else:
        table = read_table(source, max_rows=MAX_ROWS, noun="passenger" if lesson else "row",
                           empty_hint=titanic.EMPTY_HINT if lesson else "")
    spec = make_spec(table, target=target, spec_file=spec_file, missing=missing, loss=loss, hidden=hidden, **options)
    frame = clean(type_table(table, spec), spec, source)
    if valid_pct is None:
        valid_pct = DEFAULT_VALID_PCT if spec.preset != "lesson" and len(frame) >= MIN_ROWS_TO_VALIDATE else 0.0
    sets = validation_split(len(frame), valid_pct, seed)
    env = model_env(spec, frame, sets)
    names = tuple(name for name, _ in features(spec))
    models = build_models(spec, names)
    theta = starting_params(models, seed)
    for name, W in (params or {}).items():
        W = np.ravel(np.asarray(W, float))
        if W.size != models[name].n_params:
            raise XlnetError(f"{name}: {W.size} parameters given, the sheet has {models[name].n_params}.")
        theta[name] = W
    with new_workbook(out) as w:
        write_model_sheets(w, spec, models, env, theta)
        write_data_sheet(w, table)
        write_spec_sheet(w, spec)
    X = feature_matrix(spec, env)
    y = env[spec.target]
    metrics = {}
    for name, model in models.items():
        e = model.evaluate(X, y, theta[name], sets, spec.weight_decay or 0.0)
        metrics[name] = {k: float(e[k]) for k in model.metrics(sets is not None)}
    n_valid = 0 if sets is None else int((sets == "valid").sum())
    return BuildSummary(source, out, len(table), len(frame), len(names), n_valid, spec, frame.report, metrics)
