"""xlnet's fit beside scikit-learn's on a real data set of 6,366 rows and 26 features, in one run.

    python bench/vs_sklearn.py [--hidden 8]

Data: data/fair.csv (statsmodels 0.15.0's Fair affairs survey, see data/README.md), built by xlnet with a 20 %
validation split; scikit-learn gets the very same feature matrix and split. Binary (had_affair, log-loss):
xlnet's nnet sheet against MLPClassifier(hidden, solver="lbfgs", alpha=0), its linear sheet against
LogisticRegression (no penalty). Continuous (affairs, squared error): nnet against MLPRegressor, linear against
Ridge(alpha=1e-10). Prints training loss, validation accuracy or R², seconds, the loss and time ratios
xlnet / peer, the score difference xlnet - peer, and peak memory (RSS) of this process.
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
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor

from xlnet.commands.build import build
from xlnet.fitting.estimator import GradientFit
from xlnet.workbook.book import Workbook

FAIR = Path(__file__).resolve().parent.parent / "data" / "fair.csv"


def logloss(y, p):
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def r2(y, p):
    return float(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2))


def run(task: str, hidden: int, tmp: Path) -> None:
    options = (dict(target="had_affair", ignore=("affairs",), loss="logloss") if task == "binary"
               else dict(target="affairs", ignore=("had_affair",)))
    path = build(FAIR, tmp / f"{task}.xlsx", hidden=hidden, valid_pct=0.2, seed=0, **options).out
    with Workbook.open(path) as book:
        sheets = dict(zip(("linear", "nnet"), book.sheets(("linear", "nnet"))))
    train = sheets["linear"].sets == "train"
    X, y = sheets["linear"].X, sheets["linear"].y
    Xt, yt, Xv, yv = X[train], y[train], X[~train], y[~train]
    score_name = "valid acc" if task == "binary" else "valid R²"
    print(f"\n{task} target, {len(yt)} train / {len(yv)} valid rows, {X.shape[1]} features, hidden {hidden}")
    print(f"{'model':<34}{'train loss':>12}{score_name:>11}{'s':>8}{'loss ratio':>12}{'score diff':>12}"
          f"{'time ratio':>11}")
    peers = {"linear": (LogisticRegression(C=np.inf, max_iter=5000, fit_intercept=False) if task == "binary"
                        else Ridge(alpha=1e-10, fit_intercept=False)),
             "nnet": ((MLPClassifier if task == "binary" else MLPRegressor)(
                 hidden_layer_sizes=(hidden,), solver="lbfgs", alpha=0.0, max_iter=5000, max_fun=50000,
                 random_state=0))}
    for name, sheet in sheets.items():
        start = time.perf_counter()
        fitter = GradientFit(random_state=0).fit(sheet.model, Xt, yt, sheet.W)
        t_x = time.perf_counter() - start
        m = sheet.metrics(fitter.W_)
        x_loss, x_score = m["train_loss"], m["valid_accuracy" if task == "binary" else "valid_r2"]
        peer = peers[name]
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            peer.fit(Xt, yt)
        t_p = time.perf_counter() - start
        if task == "binary":
            p_loss = logloss(yt, peer.predict_proba(Xt)[:, 1])
            p_score = float(np.mean((peer.predict_proba(Xv)[:, 1] > 0.5) == (yv == 1)))
        else:
            p_loss = float(np.mean((peer.predict(Xt) - yt) ** 2))
            p_score = r2(yv, peer.predict(Xv))
        print(f"{'xlnet ' + name:<34}{x_loss:>12.6f}{x_score:>11.4f}{t_x:>8.2f}{x_loss / p_loss:>12.4f}"
              f"{x_score - p_score:>+12.4f}{t_x / t_p:>11.3f}")
        print(f"{type(peer).__name__:<34}{p_loss:>12.6f}{p_score:>11.4f}{t_p:>8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for task in ("binary", "continuous"):
            run(task, args.hidden, Path(tmp))
    print(f"\npeak memory (RSS) of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
