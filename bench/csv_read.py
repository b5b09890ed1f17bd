"""Reading a CSV: xlnet's reader (numpy splitting plain lines, table/tokens.py), the same reader with the csv
module splitting every line (as before), and pandas.read_csv, each in a process of its own; seconds (best of
--runs) and peak memory.

    python bench/csv_read.py [--rows 1000000] [--columns Pclass,Sex,Age,SibSp,Parch,Fare,Embarked] [--runs 3]

The CSV is made by scripts/make_large_csv.py (resampled Titanic passengers, a quoted name with a comma in every
row). `--columns` reads only those, as predict reads only its model's columns; without it, every column.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

READERS = {
    "xlnet": "",
    "xlnet, csv module only": "from xlnet.table import tokens; tokens.split = lambda *a: None\n",
    "pandas.read_csv": None,
}
XLNET = """import resource, sys, time
{patch}from xlnet.table.reading import CsvSource
only = sys.argv[2].split(",") if sys.argv[2] else None
t = time.perf_counter()
rows = sum(len(chunk) for chunk in CsvSource(sys.argv[1]).chunks(only=only))
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, rows)
"""
PANDAS = """import resource, sys, time
import pandas as pd
t = time.perf_counter()
rows = len(pd.read_csv(sys.argv[1], usecols=sys.argv[2].split(",") if sys.argv[2] else None))
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, rows)
"""


def measured(name: str, path: Path, columns: str, runs: int) -> tuple[float, float]:
    """(best seconds, peak MiB) of one reader over `runs` processes."""
    code = PANDAS if READERS[name] is None else XLNET.format(patch=READERS[name])
    results = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code, str(path), columns], capture_output=True, text=True,
                             check=True).stdout.split()
        results.append((float(out[0]), float(out[1])))
    return min(s for s, _ in results), max(m for _, m in results)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--columns", default="", help="Comma-separated columns to read (default: every column).")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_large_csv.py"), str(args.rows), str(path)],
                       check=True)
        figures = {name: measured(name, path, args.columns, args.runs) for name in READERS}
    peer = figures["pandas.read_csv"][0]
    print(f"{args.rows:,} rows, {'columns ' + args.columns if args.columns else 'every column'}; best of "
          f"{args.runs}")
    print(f"{'reader':<26}{'s':>8}{'MiB':>8}{'/ pandas':>10}")
    for name, (seconds, mib) in figures.items():
        print(f"{name:<26}{seconds:>8.2f}{mib:>8.0f}{seconds / peer:>10.2f}")


if __name__ == "__main__":
    main()
