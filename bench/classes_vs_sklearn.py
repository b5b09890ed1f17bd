"""Multi-class nets beside scikit-learn, on the same rows and split, in one run.

    python bench/classes_vs_sklearn.py [--seeds 5] [--sets penguins iris wine digits] [--rows 100000]

Data: data/penguins.csv (species, 3 classes), and scikit-learn's bundled iris (3 classes), wine (3) and digits
(1,797 rows, 10 classes, 64 features), written to CSV and built by xlnet with a 20 % validation split (seed
0). scikit-learn gets the very same feature matrix and split: xlnet's `linear` sheet against a multinomial
LogisticRegression, its `nnet` sheet with one and with two hidden layers against MLPClassifier with the same
hidden_layer_sizes (its defaults: adam, alpha 1e-4; max_iter raised to 2000). xlnet fits with its defaults
(the weight decay chosen by the validation loss). The peers run once per seed (`--seeds`), and their spread
over the seeds is the standard deviation printed. Prints validation accuracy and log-loss, fit seconds, and the
ratios xlnet / peer; then a build and fit of a `--rows`-row three-class table (penguins resampled, jittered)
with wall time and peak memory, each command its own process under GNU time.
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.neural_network import MLPClassifier

from xlnet.commands.build import build
from xlnet.commands.fit import fit_workbook
from xlnet.workbook.book import Workbook

ROOT = Path(__file__).resolve().parent.parent
PENGUINS = ROOT / "data" / "penguins.csv"
HIDDEN = {"digits": ((32,), (32, 16))}  # the rest: (8,) and (8, 8)


def bundled(loader, target: str) -> list[list]:
    data = loader()
    names = [f"f{i}" for i in range(data.data.shape[1])]
    rows = [[int(y), *map(float, x)] for x, y in zip(data.data, data.target)]
    return [[target, *names], *rows]


def csv_of(name: str, folder: Path) -> tuple[Path, str]:
    """The data set as a CSV, and its target column."""
    if name == "penguins":
        return PENGUINS, "species"
    loader = {"iris": load_iris, "wine": load_wine, "digits": load_digits}[name]
    path = folder / f"{name}.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(bundled(loader, "class"))
    return path, "class"


def xlnet_fit(path: Path, target: str, hidden: tuple[int, ...], folder: Path, restarts: int) -> dict:
    out = folder / f"{path.stem}-{'-'.join(map(str, hidden))}.xlsx"
    build(path, out, target=target, hidden=list(hidden), valid_pct=0.2, seed=0, force=True)
    results = fit_workbook(out, sheets=("linear", "nnet"), restarts=restarts)
    with Workbook.open(out) as book:
        linear, nnet = book.sheets(("linear", "nnet"))
    return {"linear": linear, "nnet": nnet, "seconds": {r.sheet: r.seconds for r in results}}


def scores(model, Xt, yt, Xv, yv, k: int) -> tuple[float, float, float]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(Xt, yt)
    seconds = time.perf_counter() - start
    p = model.predict_proba(Xv)
    return float(np.mean(p.argmax(1) == yv)), float(log_loss(yv, p, labels=range(k))), seconds


def compare(name: str, folder: Path, seeds: int, restarts: int) -> None:
    path, target = csv_of(name, folder)
    print(f"\n{name}")
    print(f"{'model':<30}{'valid acc':>10}{'sd':>8}{'log-loss':>10}{'s':>8}{'acc diff':>10}{'ll ratio':>10}"
          f"{'time ratio':>11}")
    for hidden in HIDDEN.get(name, ((8,), (8, 8))):
        got = xlnet_fit(path, target, hidden, folder, restarts)
        valid = got["linear"].sets == "valid"
        X, y = got["linear"].X, got["linear"].y.astype(int)
        k = len(got["linear"].spec.classes)
        Xt, yt, Xv, yv = X[~valid], y[~valid], X[valid], y[valid]
        rows = [("linear", got["linear"], lambda s: LogisticRegression(max_iter=5000, fit_intercept=False),
                 "LogisticRegression")] if hidden == HIDDEN.get(name, ((8,),))[0] else []
        rows.append(("nnet", got["nnet"], lambda s: MLPClassifier(hidden, max_iter=2000, random_state=s),
                     f"MLPClassifier{hidden}"))
        for sheet_name, sheet, make, peer in rows:
            m = sheet.metrics()
            acc, ll = m["valid_accuracy"], m["valid_loss"]
            runs = np.array([scores(make(s), Xt, yt, Xv, yv, k) for s in range(seeds)])
            label = f"xlnet {sheet_name} {hidden if sheet_name == 'nnet' else ''}".strip()
            seconds = got["seconds"][sheet_name]
            print(f"{label:<30}{acc:>10.4f}{'':>8}{ll:>10.4f}{seconds:>8.2f}")
            print(f"{peer:<30}{runs[:, 0].mean():>10.4f}{runs[:, 0].std(ddof=1) if seeds > 1 else 0:>8.4f}"
                  f"{runs[:, 1].mean():>10.4f}{runs[:, 2].mean():>8.2f}{acc - runs[:, 0].mean():>+10.4f}"
                  f"{ll / runs[:, 1].mean():>10.3f}{seconds / runs[:, 2].mean():>11.2f}")
    print("xlnet's seconds: each sheet's fit, every weight decay it tried included (the sheets in turn, each fit's "
          "restarts shared out between the cores)")


def timed(args: list[str]) -> tuple[float, float]:
    done = subprocess.run(["/usr/bin/time", "-f", "%e %M", *args], capture_output=True, text=True, check=True)
    seconds, kib = done.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kib) / 1024


def large(rows: int, folder: Path) -> None:
    """A `rows`-row table of three classes: the penguins resampled, their numbers jittered."""
    with PENGUINS.open() as f:
        source = list(csv.reader(f))
    header, body = source[0], [r for r in source[1:] if "NA" not in r]
    rng = np.random.default_rng(0)
    out = folder / "large.csv"
    with out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in rng.integers(0, len(body), rows):
            row = list(body[i])
            for c in (2, 3, 4, 5):
                row[c] = f"{float(row[c]) * (1 + 0.02 * rng.standard_normal()):.2f}"
            w.writerow(row)
    book = folder / "large.xlsx"
    xlnet = [sys.executable, "-m", "xlnet"]
    print(f"\n{rows:,} rows, species (3 classes), hidden 8")
    for name, command in (("build", [*xlnet, "build", str(out), "--target", "species", "--hidden", "8", "--out",
                                     str(book), "--force"]),
                          ("fit", [*xlnet, "fit", str(book), "--quiet"])):
        seconds, mib = timed(command)
        print(f"{name:<8}{seconds:>8.1f} s{mib:>8.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--sets", nargs="+", default=["penguins", "iris", "wine", "digits"])
    ap.add_argument("--rows", type=int, default=100_000, help="Rows of the large build and fit (0: none).")
    ap.add_argument("--restarts", type=int, default=96, help="xlnet fit's random starts (its default: 96).")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets:
            compare(name, Path(tmp), args.seeds, args.restarts)
        if args.rows:
            large(args.rows, Path(tmp))


if __name__ == "__main__":
    main()
