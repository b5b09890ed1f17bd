"""Cross-validated accuracy of xlnet's default fit beside scikit-learn's, on the lesson's features and folds.

    python bench/cv_vs_sklearn.py [--folds 5]

The lesson's 712 rows and ten features (from a freshly built workbook), split into the same seeded folds as
`xlnet fit --cv` uses: xlnet's linear, nnet and mmult sheets with the default settings, beside
LogisticRegression (no penalty) and MLPClassifier(hidden 2, solver="lbfgs") fitted on the same rows. Prints
mean accuracy and its spread over the folds, seconds, ratios xlnet / peer, and peak memory.
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from xlnet.commands.build import build
from xlnet.commands.cv import cross_validate, folds
from xlnet.workbook.book import Workbook


def fold_scores(make, X: np.ndarray, y: np.ndarray, parts: list[np.ndarray]) -> list[float]:
    """The accuracy on each held-out fold of a scikit-learn model made by `make` and fitted on the other folds."""
    scores = []
    for held in parts:
        keep = np.setdiff1d(np.arange(len(y)), held)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = make().fit(X[keep], y[keep])
        scores.append(float(np.mean(model.predict(X[held]) == y[held])))
    return scores


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = build(out=Path(tmp) / "t.xlsx").out
        start = time.perf_counter()
        xlnet = cross_validate(path, args.folds, random_state=0)
        t_x = time.perf_counter() - start
        with Workbook.open(path) as book:
            sheet, = book.sheets(["linear"])
    X, y = sheet.X, sheet.y
    parts = folds(len(y), args.folds, 0)
    peers = {"LogisticRegression": lambda: LogisticRegression(C=np.inf, fit_intercept=False, max_iter=5000),
             "MLPClassifier(2)": lambda: MLPClassifier(hidden_layer_sizes=(2,), solver="lbfgs", alpha=0.0,
                                                       max_iter=5000, random_state=0)}
    peer_scores, peer_time = {}, {}
    for name, make in peers.items():
        start = time.perf_counter()
        peer_scores[name], peer_time[name] = fold_scores(make, X, y, parts), time.perf_counter() - start
    print(f"{args.folds}-fold cross-validated accuracy, the lesson's {len(y)} rows and {X.shape[1]} features")
    print(f"{'model':<22}{'accuracy':>10}{'sd':>8}{'s':>8}")
    for r in xlnet:
        print(f"{'xlnet ' + r.sheet:<22}{r.score:>10.4f}{r.score_sd:>8.4f}{t_x / len(xlnet):>8.2f}")
    for name, scores in peer_scores.items():
        print(f"{name:<22}{np.mean(scores):>10.4f}{np.std(scores, ddof=1):>8.4f}{peer_time[name]:>8.2f}")
    best_x = max(r.score for r in xlnet)
    best_p = max(np.mean(s) for s in peer_scores.values())
    print(f"best xlnet / best peer accuracy: {best_x / best_p:.4f}; xlnet linear / LogisticRegression: "
          f"{xlnet[0].score / np.mean(peer_scores['LogisticRegression']):.4f}; xlnet nnet / MLPClassifier(2): "
          f"{xlnet[1].score / np.mean(peer_scores['MLPClassifier(2)']):.4f}")
    print(f"xlnet's seconds are per sheet, its {args.folds} folds fitted two at a time (a process per core); "
          "the peers' are all folds, one at a time")
    print(f"peak memory (RSS): this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB, "
          f"xlnet's workers {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
