"""`xlnet lesson sgd` and `xlnet lesson relu`: the lessons' gradient descent as live workbooks."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xlnet.errors import XlnetError
from xlnet.presets import relu, sgd
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
    _check_choice("--optimizer", optimizer, sgd.OPTIMIZERS)
    _check_choice("--model", model, tuple(sgd.MODELS))
    _check_steps_and_lr(steps, lr)
    if batch_size is not None and not (isinstance(batch_size, int) and 1 <= batch_size <= n):
        raise XlnetError(f"--batch-size must be a whole number from 1 to {n}, not {batch_size!r}.")
    plan = sgd.Plan(model, optimizer, n, steps, batch_size)
    data = sgd.make_data(plan, seed)
    inputs = sgd.input_values(plan, lr)
    rows = sgd.descend(plan, data, inputs)
    optimum = _least_squares(np.column_stack([data[f] for f in plan.features]), data["y"])
    within = next((i for i, r in enumerate(rows) if r["loss"] <= 1.01 * optimum), None)
    with new_workbook(out) as w:
        sgd.write(w, plan, data, inputs, seed)
    return LessonSummary(out, plan, rows, optimum, within, _diverged(rows))


@dataclass
class ReluSummary:
    out: Path
    plan: relu.Plan
    rows: list[dict]
    least_squares: float  # the loss of the best weights and constant for the final units' ReLUs
    diverged: bool


def build_relu_lesson(out: str | Path = "relu.xlsx", *, units: int = 1, curve: str = "quadratic", steps: int = 100,
                      lr: float = 0.03, optimizer: str = "sgd", seed: int | None = 42, force: bool = False
                      ) -> ReluSummary:
    """Lesson 3's ReLUs fitted to noisy points of a curve by gradient descent, every step a row of formulas.

    Returns the steps as the sheet computes them, and the least-squares loss of the final units (the best any
    weights and constant could do with the bends the descent found)."""
    out = Path(out)
    check_new_workbook(out, force)
    _check_choice("--optimizer", optimizer, sgd.OPTIMIZERS)
    _check_choice("--curve", curve, tuple(relu.CURVES))
    if not (isinstance(units, int) and 1 <= units <= relu.MAX_UNITS):
        raise XlnetError(f"--units must be a whole number from 1 to {relu.MAX_UNITS}, not {units!r}.")
    _check_steps_and_lr(steps, lr)
    plan = relu.Plan(units, curve, optimizer, steps)
    data = relu.make_data(plan, seed)
    inputs = relu.input_values(plan, lr)
    rows = sgd.descend(plan, data, inputs)
    shown = relu.relu_at(data, rows, plan, steps)
    best = _least_squares(np.column_stack([shown[f"ReLU {k + 1}"] for k in range(units)] + [np.ones(plan.n)]),
                          data["y"])
    with new_workbook(out) as wb:
        relu.write(wb, plan, data, inputs, seed)
    return ReluSummary(out, plan, rows, best, _diverged(rows))


def _least_squares(X: np.ndarray, y: np.ndarray) -> float:
    """The mean squared error of the best linear combination of X's columns: the bottom a descent can reach."""
    w, *_ = np.linalg.lstsq(X, y, rcond=None)
    return float(np.mean((X @ w - y) ** 2))


def _diverged(rows: list[dict]) -> bool:
    first, last = rows[0]["loss"], rows[-1]["loss"]
    return not np.isfinite(last) or last > first


def _check_choice(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise XlnetError(f"{option} must be one of {', '.join(choices)}, not {value!r}.")


def _check_steps_and_lr(steps: int, lr: float) -> None:
    if not (isinstance(steps, int) and 1 <= steps <= 100_000):
        raise XlnetError(f"--steps must be a whole number from 1 to 100,000, not {steps!r}.")
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise XlnetError(f"--lr must be a positive number, not {lr!r}.")
