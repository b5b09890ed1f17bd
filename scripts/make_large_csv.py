"""A Titanic-like CSV of any size, resampled from the embedded passengers, for the scale benchmark.

    python scripts/make_large_csv.py ROWS OUT.csv [--seed 0]

Rows are drawn with replacement from the lesson's passengers (src/xlnet/presets/titanic.csv) (all columns), with Age and Fare jittered by a small
seeded noise so that the rows are not exact copies; missing values stay missing.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

EMBEDDED = Path(__file__).resolve().parent.parent / "src" / "xlnet" / "presets" / "titanic.csv"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with open(EMBEDDED, newline="") as f:
        source = list(csv.reader(f))
    header, body = source[0], source[1:]
    age, fare = header.index("Age"), header.index("Fare")
    rng = np.random.default_rng(args.seed)
    picks = rng.integers(0, len(body), args.rows)
    noise = rng.uniform(-0.5, 0.5, (args.rows, 2))
    with open(args.out, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for k, i in enumerate(picks):
            row = list(body[i])
            if row[age]:
                row[age] = f"{max(0.42, float(row[age]) + noise[k, 0]):.2f}"
            if row[fare]:
                row[fare] = f"{max(0.0, float(row[fare]) + noise[k, 1]):.4f}"
            writer.writerow(row)


if __name__ == "__main__":
    main()
