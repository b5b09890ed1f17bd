"""The Titanic recipe (examples/titanic.toml: a title and a family group, derived by formulas) beside the lesson's
features, and beside scikit-learn on the very same features, in one run.

    python bench/titanic_recipe.py [--train ../shared/data/titanic/train.csv] [--folds 5]

For each feature set, a workbook is built from Kaggle's train.csv, and 5-fold cross-validated accuracy (the same
seeded folds as `xlnet fit --cv`) is printed for xlnet's linear, nnet and mmult sheets and for
LogisticRegression (no penalty) and MLPClassifier(hidden 2) fitted on each sheet's own feature matrix. Kaggle's
test labels are never read: the figures are what a choice can honestly be made on.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from xlnet.commands.build import build
from xlnet.commands.cv import cross_validate, folds
from xlnet.workbook.book import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cv_vs_sklearn import fold_scores  # noqa: E402  (a sibling script)

ROOT = Path(__file__).resolve().parent.parent
FEATURE_SETS = {
    "lesson preset (rows with a missing value dropped)": dict(),
    "lesson's columns, --target (missing filled)": dict(target="Survived", ignore=("Name", "Ticket", "Cabin")),
    "examples/titanic.toml": dict(spec_file=ROOT / "examples" / "titanic.toml"),
}
PEERS = {"LogisticRegression": lambda: LogisticRegression(C=np.inf, max_iter=5000),
         "MLPClassifier(2)": lambda: MLPClassifier(hidden_layer_sizes=(2,), solver="lbfgs", alpha=1e-3,
                                                   max_iter=5000, random_state=0)}


def peer_scores(X: np.ndarray, y: np.ndarray, parts: list[np.ndarray]) -> dict[str, float]:
    return {name: float(np.mean(fold_scores(make, X, y, parts))) for name, make in PEERS.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=Path, default=ROOT.parent / "shared" / "data" / "titanic" / "train.csv")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    print(f"{args.folds}-fold cross-validated accuracy on {args.train.name} (the same folds for every model)")
    print(f"{'features':<52}{'rows':>6}{'feat':>6}{'linear':>8}{'nnet':>8}{'mmult':>8}{'logreg':>8}{'mlp(2)':>8}"
          f"{'s':>6}")
    for label, options in FEATURE_SETS.items():
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            s = build(args.train, Path(tmp) / "t.xlsx", valid_pct=0, **options)
            xlnet = {r.sheet: r.score for r in cross_validate(s.out, args.folds, random_state=0)}
            seconds = time.perf_counter() - start
            with Workbook.open(s.out) as book:
                sheet, = book.sheets(["linear"])
        X, y = sheet.X, sheet.y
        peers = peer_scores(X, y, folds(len(y), args.folds, 0))
        print(f"{label:<52}{len(y):>6}{X.shape[1]:>6}{xlnet['linear']:>8.4f}{xlnet['nnet']:>8.4f}"
              f"{xlnet['mmult']:>8.4f}{peers['LogisticRegression']:>8.4f}{peers['MLPClassifier(2)']:>8.4f}"
              f"{seconds:>6.1f}")
    print(f"peak memory (RSS): this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB, "
          f"xlnet's workers {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
