"""Fitting a model sheet's parameters in numpy, as Excel Solver would, but better and faster."""
from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import history
from .errors import XlnetError
from .layout import MODEL_SHEETS
from .models import MODELS, Model
from .optim import adam, keep_freed_memory, lbfgs
from .workbook import SheetData, as_stored, open_workbook, read_sheet, save_atomically, write_params

CHUNK = 64  # restarts per numpy call: past this, arrays outgrow the cache and cost more per restart


def objective(model: Model, X: np.ndarray, y: np.ndarray):
    def f(W: np.ndarray, rows: np.ndarray | None):
        Xr, yr = (X, y) if rows is None else (X[rows], y[rows])
        parts = [model.loss_and_grad(Xr, yr, W[i:i + CHUNK]) for i in range(0, len(W), CHUNK)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return f


class GradientFit:
    """Multi-start Adam, then L-BFGS to the bottom of each basin; the best restart wins.

    Restart 0 starts from the parameters given to `fit` (the workbook's), so a fit
    never ends worse than where it began; the others start from the lesson's
    RAND()-0.5, drawn from `random_state`.
    """

    def __init__(self, *, epochs: int = 200, lr: float = 0.03, restarts: int = 96,
                 batch_size: int | None = None, lbfgs_iters: int = 1000, random_state: int | None = 0,
                 progress: Callable[[int], None] | None = None):
        for name, value, low in (("epochs", epochs, 0), ("restarts", restarts, 1), ("lbfgs_iters", lbfgs_iters, 0)):
            if not isinstance(value, (int, np.integer)) or value < low:
                raise XlnetError(f"--{name.replace('_', '-')} must be a whole number of at least {low}, "
                                 f"not {value!r}.")
        if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
            raise XlnetError(f"--lr must be a positive number, not {lr!r}.")
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise XlnetError(f"--batch-size must be a whole number of at least 1, not {batch_size!r}.")
        if epochs == 0 and lbfgs_iters == 0:
            raise XlnetError("--epochs is 0 and so is the L-BFGS budget: nothing would be fitted.")
        self.epochs, self.lr, self.restarts = epochs, lr, restarts
        self.batch_size, self.lbfgs_iters, self.random_state = batch_size, lbfgs_iters, random_state
        self.progress = progress or (lambda _: None)

    def steps(self) -> int:
        return self.epochs + self.lbfgs_iters

    def fit(self, model: Model, X: np.ndarray, y: np.ndarray, W0: np.ndarray) -> "GradientFit":
        keep_freed_memory()
        start = time.perf_counter()
        rng = np.random.default_rng(self.random_state)
        W = np.concatenate([W0[None], rng.uniform(-0.5, 0.5, (self.restarts - 1, *model.param_shape))])
        f = objective(model, X, y)
        W, curve = adam(f, W, epochs=self.epochs, lr=self.lr, n_rows=len(y), batch_size=self.batch_size,
                        rng=rng, progress=self.progress)
        W, polish = lbfgs(f, W, iters=self.lbfgs_iters, progress=self.progress)
        self.progress(self.lbfgs_iters - len(polish))
        losses = model.evaluate(X, y, W)["loss"]
        best = int(np.argmin(losses))
        self.W_, self.loss_ = W[best], float(losses[best])
        self.loss_curve_ = curve + polish
        self.n_iter_ = len(curve) + len(polish)
        self.seconds_ = time.perf_counter() - start
        return self


def fit_sheet(job: tuple) -> tuple:
    """One sheet's fit, in a worker process: (W, loss curve, iterations, seconds)."""
    name, X, y, W0, settings = job
    try:
        fitter = GradientFit(**settings).fit(MODELS[name], X, y, W0)
    except XlnetError as e:
        raise XlnetError(f"sheet {name!r}: {e}") from None
    return fitter.W_, fitter.loss_curve_, fitter.n_iter_, fitter.seconds_


def fit_sheets(sheets: list[SheetData], settings: dict,
               progress: Callable[[int], None] = lambda _: None) -> list[tuple]:
    """Fit each sheet's training rows, side by side, a process per core (the sheets are independent); in turn
    where forking is not available. Returns fit_sheet's tuple per sheet; progress moves a sheet at a time."""
    jobs = [(s.name, *s.train_data(), s.W, settings) for s in sheets]
    steps = GradientFit(**settings).steps()
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        outcomes = []
        for job in jobs:
            outcomes.append(fit_sheet(job))
            progress(steps)
        return outcomes
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(fit_sheet, job) for job in jobs]
        for future in as_completed(futures):
            future.result()
            progress(steps)
        return [future.result() for future in futures]


def check_not_open(path: Path) -> None:
    lock = path.with_name("~$" + path.name)
    if lock.exists():
        raise XlnetError(f"{path} looks open in Excel ({lock.name} is beside it); close it and try again, "
                         "or write to another file with --out.")


@dataclass
class SheetResult:
    sheet: str
    before: dict[str, float]  # the sheet's summary cells before and after: train_loss, valid_loss, ...
    after: dict[str, float]
    iterations: int
    seconds: float

    @property
    def loss_before(self) -> float:
        return self.before["train_loss"]

    @property
    def loss_after(self) -> float:
        return self.after["train_loss"]


def fit_workbook(path: str | Path, *, sheets: tuple[str, ...] = MODEL_SHEETS, out: str | Path | None = None,
                 **settings) -> list[SheetResult]:
    """Fit each sheet's training rows from the workbook's own data and parameters; write back only the parameters."""
    path = Path(path)
    out = Path(out) if out else path
    if out.resolve() != path.resolve() and out.exists():
        raise XlnetError(f"{out} already exists and may hold your Solver results; choose another --out, "
                         "or fit it in place without --out.")
    check_not_open(out)
    progress = settings.pop("progress", None) or (lambda _: None)
    fitter = GradientFit(**settings)  # checks the settings before any work
    wb = open_workbook(path)
    read = [read_sheet(wb, name, path) for name in sheets]  # every sheet checked before any work
    results = []
    for sheet, (W, curve, iterations, seconds) in zip(read, fit_sheets(read, settings, progress)):
        name = sheet.name
        W = as_stored(W)
        result = SheetResult(name, sheet.metrics(), sheet.metrics(W), iterations, seconds)
        write_params(wb[name], MODELS[name], len(sheet.y), W)
        desc = (f"epochs={fitter.epochs} lr={fitter.lr} restarts={fitter.restarts} "
                f"batch_size={fitter.batch_size} seed={fitter.random_state}")
        history.record(wb, name, "xlnet Adam + L-BFGS", desc, result, sheet.W, W)
        history.set_curve(wb, name, curve)
        results.append(result)
    history.draw_charts(wb)
    save_atomically(wb, out)
    return results
