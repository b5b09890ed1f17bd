"""`xlnet lesson sgd`: the 2019 lesson's gradient descent as a live workbook."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xlnet.errors import XlnetError
from xlnet.presets import sgd
from xlnet.xlsx.safety import check_new_workbook
from xlnet.xlsx.write import new_workbook


@dataclass
class LessonSummary:
    out: Path
    plan: sgd.Plan
    rows: list[dict]
    optimum: float          # the least-squares loss: the bottom any descent can reach
    within_1pct: int | None  # the first step whose loss is within 1 % of it
    diverged: bool


def build_lesson(out: str | Path = "sgd.xlsx", *, steps: int = 100, lr: float = 0.1, seed: int | None = 42,
                 batch_size: int | None = None, optimizer: str = "sgd", model: str = "line", n: int = 100,
                 force: bool = False) -> LessonSummary:
    out = Path(out)
    check_new_workbook(out, force)
    if optimizer not in sgd.OPTIMIZERS:
        raise XlnetError(f"--optimizer must be one of {', '.join(sgd.OPTIMIZERS)}, not {optimizer!r}.")
    if model not in sgd.MODELS:
        raise XlnetError(f"--model must be one of {', '.join(sgd.MODELS)}, not {model!r}.")
    if not (isinstance(steps, int) and 1 <= steps <= 100_000):
        raise XlnetError(f"--steps must be a whole number from 1 to 100,000, not {steps!r}.")
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise XlnetError(f"--lr must be a positive number, not {lr!r}.")
    if batch_size is not None and not (isinstance(batch_size, int) and 1 <= batch_size <= n):
        raise XlnetError(f"--batch-size must be a whole number from 1 to {n}, not {batch_size!r}.")
    plan = sgd.Plan(model, optimizer, n, steps, batch_size)
    data = sgd.make_data(plan, seed)
    inputs = sgd.input_values(plan, lr)
    rows = sgd.descend(plan, data, inputs)
    X = np.column_stack([data[f] for f in plan.features])
    w, *_ = np.linalg.lstsq(X, data["y"], rcond=None)
    optimum = float(np.mean((X @ w - data["y"]) ** 2))
    losses = np.array([r["loss"] for r in rows])
    within = next((i for i, v in enumerate(losses) if v <= 1.01 * optimum), None)
    diverged = not np.isfinite(losses[-1]) or losses[-1] > losses[0]
    with new_workbook(out) as w:
        sgd.write(w, plan, data, inputs, seed)
    return LessonSummary(out, plan, rows, optimum, within, diverged)
