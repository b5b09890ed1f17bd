"""xlnet against LibreOffice's own solver, per sheet, on the lesson's 712 rows, in one run.

    python bench/race_libreoffice.py [--time-limit 60] [--engine swarm]

Both start from the same freshly built workbook (seed 42). Prints each one's loss and
seconds and the ratios xlnet / LibreOffice.
"""
from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

from xlnet.commands.build import build
from xlnet.commands.compare import compare_workbook


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=60)
    ap.add_argument("--engine", default="swarm")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = build(out=Path(tmp) / "t.xlsx", seed=42).out
        results = compare_workbook(path, use_libreoffice=True, engine=args.engine, time_limit=args.time_limit,
                                   progress=print)
    print(f"{'sheet':<7}{'start':>14}{'xlnet loss':>14}{'s':>7}{'LibreOffice':>14}{'s':>8}"
          f"{'loss ratio':>11}{'time ratio':>11}")
    for r in results:
        lo = r.libreoffice
        print(f"{r.sheet:<7}{r.workbook['train_loss']:>14.10f}{r.xlnet['train_loss']:>14.10f}{r.xlnet_seconds:>7.2f}"
              f"{lo['loss']:>14.10f}{lo['seconds']:>8.1f}{r.xlnet['train_loss'] / lo['loss']:>11.4f}"
              f"{r.xlnet_seconds / lo['seconds']:>11.4f}")
    print(f"LibreOffice engine: {args.engine}, time limit {args.time_limit:g} s per sheet")
    print(f"peak memory (RSS): xlnet (this process) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} "
          f"MiB, LibreOffice and its UNO script {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
