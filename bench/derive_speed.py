"""Deriving a text column over many rows: xlnet's expression evaluator beside pandas' vectorised string methods.

    python bench/derive_speed.py [--rows 1000000]

The Titanic title, `TRIM(MID(Name,FIND(",",Name)+1,FIND(".",Name)-FIND(",",Name)-1))`, over `--rows` names:
Kaggle's 891 names resampled (few distinct: each is evaluated once), and the same names each made distinct by
a number (every row evaluated). The peer is pandas `Series.str.extract` of the same text, run on the same
names. Prints seconds, the ratio xlnet / pandas and peak memory.
"""
from __future__ import annotations

import argparse
import csv
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from xlnet.model.expr import Expression
from xlnet.presets import lesson

TITLE = 'TRIM(MID(Name,FIND(",",Name)+1,FIND(".",Name)-FIND(",",Name)-1))'


def names(rows: int, distinct: bool) -> np.ndarray:
    with Path(lesson().csv).open(newline="") as f:
        base = [row["Name"] for row in csv.DictReader(f)]
    picked = np.random.default_rng(0).choice(np.array(base, object), rows)
    if distinct:
        picked = np.array([f"{name} {i}" for i, name in enumerate(picked.tolist())], object)
    return picked


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    expression = Expression("Title", TITLE, ["Name"])
    print(f"{'names':<24}{'rows':>10}{'xlnet s':>10}{'pandas s':>10}{'ratio':>8}")
    for label, distinct in (("resampled (891 distinct)", False), ("each distinct", True)):
        column = names(args.rows, distinct)
        start = time.perf_counter()
        ours = expression.values({"Name": column}, len(column), None)
        t_x = time.perf_counter() - start
        series = pd.Series(column)
        start = time.perf_counter()
        theirs = series.str.extract(r",([^.]*)\.", expand=False).str.strip()
        t_p = time.perf_counter() - start
        assert ours.tolist() == theirs.tolist()
        print(f"{label:<24}{args.rows:>10,}{t_x:>10.2f}{t_p:>10.2f}{t_x / t_p:>8.2f}")
    print(f"peak memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
