"""`xlnet build`: CSV in, the lesson's workbook out."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .data import EMBEDDED, clean, read_csv
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
    losses: dict[str, float] = field(default_factory=dict)


def build(csv_path: str | Path | None = None, out: str | Path = "workbooks/titanic.xlsx", *,
          seed: int | None = 42, missing: str = "drop", force: bool = False,
          params: dict | None = None) -> BuildSummary:
    """Read the CSV, engineer the features and write the workbook; `params` overrides the random start."""
    source = Path(csv_path) if csv_path else EMBEDDED
    out = Path(out)
    if out.exists() and not force:
        raise XlnetError(f"{out} already exists and may hold your Solver results; "
                         "use --force to overwrite it, or --out to write elsewhere.")
    if not out.parent.is_dir():
        raise XlnetError(f"{out.parent} is not a folder; create it first or choose another --out.")
    raw = read_csv(source, max_rows=MAX_ROWS)
    kept = clean(raw, missing)
    params = {k: as_stored(W) for k, W in {**starting_params(seed), **(params or {})}.items()}
    wb = build_workbook(raw, kept, params)
    save_atomically(wb, out)
    env = value_env(kept)
    losses = {name: SheetData(name, env, params[name]).loss() for name in MODEL_SHEETS}
    return BuildSummary(source, out, len(raw), len(kept), len(FEATURE_NAMES), losses)
