"""`xlnet build`: CSV in, the lesson's workbook out."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .data import EMBEDDED, check_missing, check_valid_pct, clean, read_csv, validation_split
from .errors import XlnetError
from .features import FEATURE_NAMES
from .layout import MAX_ROWS, MODEL_SHEETS
from .workbook import SheetData, as_stored, build_workbook, save_atomically, starting_params, value_env


@dataclass
class BuildSummary:
    source: Path
    out: Path
    rows_read: int
    rows_kept: int
    features: int
    rows_valid: int
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def losses(self) -> dict[str, float]:
        return {name: m["train_loss"] for name, m in self.metrics.items()}


def build(csv_path: str | Path | None = None, out: str | Path = "workbooks/titanic.xlsx", *,
          seed: int | None = 42, missing: str = "drop", valid_pct: float = 0.0, force: bool = False,
          params: dict | None = None) -> BuildSummary:
    """Read the CSV, engineer the features and write the workbook; `params` overrides the random start."""
    source = Path(csv_path) if csv_path else EMBEDDED
    out = Path(out)
    if out.suffix.lower() != ".xlsx" or out.is_dir() or (out.parent.exists() and not out.parent.is_dir()):
        raise XlnetError(f"{out} is not a path an .xlsx workbook can be written to; choose another --out.")
    if out.exists() and not force:
        raise XlnetError(f"{out} already exists and may hold your Solver results; "
                         "use --force to overwrite it, or --out to write elsewhere.")
    check_valid_pct(valid_pct)
    check_missing(missing)
    raw = read_csv(source, max_rows=MAX_ROWS)
    kept = clean(raw, missing, source)
    sets = validation_split(len(kept), valid_pct, seed)
    if sets is not None:
        kept = kept.assign(Set=sets)
    params = {k: as_stored(W) for k, W in {**starting_params(seed), **(params or {})}.items()}
    wb = build_workbook(raw, kept, params)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_atomically(wb, out)
    env = value_env(kept)
    metrics = {name: SheetData(name, env, params[name]).metrics() for name in MODEL_SHEETS}
    n_valid = 0 if sets is None else int((sets == "valid").sum())
    return BuildSummary(source, out, len(raw), len(kept), len(FEATURE_NAMES), n_valid, metrics)
