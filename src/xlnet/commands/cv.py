"""`xlnet fit --cv K`: k-fold cross-validated scores of each model sheet, so settings can be compared honestly.

The rows of the sheet (all of them: a validation mark is ignored) are split into K seeded folds; each fold is
predicted by a fit on the other K-1 from fresh random starts (never the workbook's own parameters, which have
seen every row), at the sheet's weight decay (or the one given). Nothing is written.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from xlnet.errors import XlnetError
from xlnet.fitting.estimator import GradientFit
from xlnet.fitting.service import FitJob, Fitted, check_weight_decay, in_layout, run_nets
from xlnet.model.net import SHEETS
from xlnet.workbook.book import Workbook


@dataclass
class CVResult:
    sheet: str
    score_name: str            # accuracy or r2
    scores: list[float]        # one per fold, on its held-out rows
    losses: list[float]

    @property
    def score(self) -> float:
        return float(np.mean(self.scores))

    @property
    def score_sd(self) -> float:
        return float(np.std(self.scores, ddof=1)) if len(self.scores) > 1 else 0.0

    @property
    def loss(self) -> float:
        return float(np.mean(self.losses))


def folds(n: int, k: int, seed: int | None) -> list[np.ndarray]:
    """K disjoint index sets covering 0..n-1, seeded (a stream of their own)."""
    order = np.random.default_rng(None if seed is None else [seed, 2]).permutation(n)
    return [np.sort(part) for part in np.array_split(order, k)]


def score(task: str, prediction: np.ndarray, y: np.ndarray) -> float:
    """Accuracy (a class, or a binary prediction over 0.5), or R² for a number."""
    if task == "multiclass":
        return float(np.mean(prediction == y))
    if task == "binary":
        return float(np.mean((prediction > 0.5) == (y == 1)))
    return float(1 - np.sum((prediction - y) ** 2) / np.sum((y - y.mean()) ** 2))


def cross_validate(path: str | Path, k: int, *, sheets: tuple[str, ...] = SHEETS,
                   progress: Callable[[int], None] = lambda _: None, weight_decay: float | str = "sheet",
                   **settings) -> list[CVResult]:
    """`weight_decay`: a number, or the sheet's decay cell ("sheet"; "auto" means the same here: choosing the
    decay inside each fold would need a validation set within it)."""
    if not (isinstance(k, int) and k >= 2):
        raise XlnetError(f"--cv must be a whole number of folds, 2 or more, not {k!r}.")
    GradientFit(**settings)
    check_weight_decay(weight_decay)
    with Workbook.open(path) as book:
        spec, read = book.spec, book.sheets(sheets)
    n = len(read[0].y)
    if k > n:
        raise XlnetError(f"--cv {k} is more folds than the sheet's {n} rows.")
    parts = folds(n, k, settings.get("random_state"))
    rng = np.random.default_rng(settings.get("random_state"))
    jobs, where = [], []
    for sheet in read:
        for i, held in enumerate(parts):
            keep = np.setdiff1d(np.arange(n), held)
            W0 = rng.uniform(-0.5, 0.5, sheet.model.n_params)
            decay = sheet.weight_decay if weight_decay in ("auto", "sheet") else float(weight_decay)
            jobs.append(FitJob(sheet.name, sheet.model, sheet.X[keep], sheet.y[keep], W0, settings, (decay,)))
            where.append((sheet, held))
    outcomes: list[Fitted | None] = [None] * len(jobs)
    for group, (fitted,) in run_nets(jobs, progress):  # a fold's nnet and mmult: one net, one fit
        for i in group:
            outcomes[i] = in_layout(jobs, group, i, fitted)
    results = {s.name: CVResult(s.name, "r2" if spec.task == "continuous" else "accuracy", [], []) for s in read}
    for (sheet, held), fitted in zip(where, outcomes):
        env = sheet.model.evaluate(sheet.X[held], sheet.y[held], fitted.W)
        results[sheet.name].scores.append(score(spec.task, np.asarray(env[sheet.model.prediction]), sheet.y[held]))
        results[sheet.name].losses.append(float(env["loss"]))
    return list(results.values())
