"""Does xlnet's default path give a model that generalises? The whole path, scored on rows it never saw.

    python bench/generalise.py [--folds 5] [--data titanic fair-binary fair-continuous fair-how-much | all]

Each data set's rows are split into seeded outer folds. For each fold, the other rows are written to a CSV and
go through exactly what a user runs: `build --target ...` (which holds out 20 % as a validation set),
`fit` (which chooses each sheet's weight decay by the validation loss), `predict` (which picks the sheet with the
best validation score). The held-out fold is then scored: accuracy (binary) or R² (continuous). The same is done
with `fit --weight-decay 0` (the fit before weight decay). Each is also scored with its nnet sheet, whichever
sheet predict would choose. Beside them, scikit-learn's MLP (its default L2 alpha=1e-4, solver lbfgs, the
same hidden width) and LogisticRegression / Ridge, on the same feature matrices and folds.

Data: Kaggle's Titanic train.csv (../shared/data/titanic, skipped when absent); data/fair.csv (statsmodels 0.15.0).
Prints mean held-out score and spread, the score difference auto - no decay, seconds, and peak memory.
"""
from __future__ import annotations

import argparse
import csv
import resource
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor

from xlnet.commands.build import build
from xlnet.commands.cv import folds, score
from xlnet.commands.fit import fit_workbook
from xlnet.commands.predict import predict_csv
from xlnet.workbook.book import Workbook

ROOT = Path(__file__).resolve().parent.parent
DATA = {
    "titanic": (ROOT.parent / "shared" / "data" / "titanic" / "train.csv",
                dict(target="Survived", hidden=2, ignore=("Name", "Ticket", "Cabin"))),
    "fair-binary": (ROOT / "data" / "fair.csv",
                    dict(target="had_affair", positive="yes", ignore=("affairs",), loss="logloss", hidden=8)),
    "fair-continuous": (ROOT / "data" / "fair.csv", dict(target="affairs", ignore=("had_affair",), hidden=8)),
    # How much, given that there was one: a feature that nearly separates the rows, which invites large weights.
    "fair-how-much": (ROOT / "data" / "fair.csv", dict(target="affairs", hidden=8)),
}


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header] + rows)
    return path


def target_of(header, rows, options) -> np.ndarray:
    i = header.index(options["target"])
    if "positive" in options:
        return np.array([r[i] == options["positive"] for r in rows], float)
    values = [r[i] for r in rows]
    return np.array([float(v) for v in values]) if set(values) - {"0", "1"} else np.array(values, float)


def run(name: str, k: int, tmp: Path) -> None:
    path, options = DATA[name]
    if not path.exists():
        print(f"\n{name}: {path} is absent; skipped")
        return
    header, rows = read_rows(path)
    id_col = "PassengerId" if "PassengerId" in header else None
    if id_col is None:  # predictions come back keyed by an id: give the rows one
        header, rows = ["row"] + header, [[str(i)] + r for i, r in enumerate(rows)]
    y_all = target_of(header, rows, options)
    task = "binary" if "positive" in options or options["target"] == "Survived" else "continuous"
    results: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    for f, held in enumerate(folds(len(rows), k, 0)):
        keep = np.setdiff1d(np.arange(len(rows)), held)
        train_csv = write_rows(tmp / f"{name}-{f}-train.csv", header, [rows[i] for i in keep])
        test_csv = write_rows(tmp / f"{name}-{f}-test.csv", header, [rows[i] for i in held])
        ids = [rows[i][header.index(id_col or "row")] for i in held]
        for decay in ("auto", 0.0):
            label = "xlnet default (decay auto)" if decay == "auto" else "xlnet, --weight-decay 0"
            start = time.perf_counter()
            book = build(train_csv, tmp / f"{name}-{f}-{decay}.xlsx", force=True, missing="median",
                         id_column=id_col or "row", **options).out
            fit_workbook(book, weight_decay=decay)
            for model in (None, "nnet"):  # the sheet predict chooses, and the net itself
                p = predict_csv(book, test_csv, id_column=id_col or "row", model=model)
                by_id = dict(zip(p.ids, p.values))
                predicted = np.array([by_id[i] for i in ids])
                results.setdefault(label + ("" if model is None else ", nnet"), []).append(
                    score(task, predicted, y_all[held]))
            seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - start
        with Workbook.open(book) as opened:  # the same feature matrix for scikit-learn
            sheet, = opened.sheets(["linear"])
        X, y = sheet.X, sheet.y
        Xh = predict_features(book, test_csv, id_col or "row")
        peers = {"scikit-learn MLP (alpha 1e-4)": (MLPClassifier if task == "binary" else MLPRegressor)(
                     hidden_layer_sizes=(options["hidden"],), solver="lbfgs", max_iter=5000, random_state=0),
                 "LogisticRegression" if task == "binary" else "Ridge": (
                     LogisticRegression(max_iter=5000) if task == "binary" else Ridge(alpha=1.0))}
        for label, model in peers.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X, y)
            p = model.predict_proba(Xh)[:, 1] if task == "binary" else model.predict(Xh)
            seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - start
            results.setdefault(label, []).append(score(task, p, y_all[held]))
    what = "accuracy" if task == "binary" else "R²"
    print(f"\n{name}: {len(rows)} rows, {k} outer folds, held-out {what} (hidden {options['hidden']})")
    print(f"{'path':<34}{what:>10}{'sd':>8}{'s':>9}")
    for label, scores in results.items():
        secs = f"{seconds[label]:>9.1f}" if label in seconds else ""
        print(f"{label:<34}{np.mean(scores):>10.4f}{np.std(scores, ddof=1):>8.4f}{secs}")
    a, b = (np.array(results[x]) for x in ("xlnet default (decay auto)", "xlnet, --weight-decay 0"))
    print(f"auto - no decay: {np.mean(a - b):+.4f} (folds better/worse/equal: {(a > b).sum()}/{(a < b).sum()}/"
          f"{(a == b).sum()})")


def predict_features(book: Path, test_csv: Path, id_col: str) -> np.ndarray:
    """The held-out rows' feature matrix, as `predict` makes it (training statistics and fill values)."""
    from xlnet.commands import predict as p
    captured = {}
    real = p.feature_matrix

    def spy(spec, env):
        captured["X"] = real(spec, env)
        return captured["X"]
    p.feature_matrix = spy
    try:
        predict_csv(book, test_csv, id_column=id_col, model="linear")
    finally:
        p.feature_matrix = real
    return captured["X"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--data", choices=tuple(DATA) + ("all",), default="all", nargs="+")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in DATA if "all" in args.data else args.data:
            run(name, args.folds, Path(tmp))
    print(f"\npeak memory (RSS): this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB, "
          f"xlnet's workers {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
