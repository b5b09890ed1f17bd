"""`xlnet fit`: read the workbook, fit its model sheets side by side, and patch back only what xlnet owns."""
from __future__ import annotations

import json
import multiprocessing
import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import history
from .dataset import SheetData, open_package, read_sheets, read_spec
from .errors import XlnetError
from .estimator import GradientFit
from .layout import FIRST_ROW
from .net import SHEETS, solver_target
from .workers import can_fork, workers_pool
from .xlsx.patch import Patch
from .xlsx.safety import check_not_open, exclusive, remove_stale_temps, target_of

EXTREME = 1e100  # a parameter this large makes the loss overflow: it is the cause, not the learning rate
LARGE_DATA = 1e6  # a feature this large makes any step size diverge
IMPROVEMENT = 1e-12  # relative: a smaller gain is below the spreadsheet's rounding, and not written
DECAY_GRID = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # weight decays tried when the validation set chooses
PROGRESS_EVERY = 0.2  # seconds between looks at the workers' progress
FIT_VERSION = 2  # raise it when a change to the fit changes what the same settings reach: see fit_key


_JOBS: list[tuple] = []
_DONE = None  # steps the workers have done, shared with them: see run_fits


def _fit_job(i: int) -> tuple:
    *job, settings = _JOBS[i]
    return fit_sheet((*job, {**settings, "progress": _count}))


def _count(steps: int) -> None:
    with _DONE.get_lock():
        _DONE.value += steps


def _fitter(settings: dict) -> tuple[GradientFit, tuple[float, ...]]:
    """A job's GradientFit and the weight decays it fits (settings["weight_decay"]: one, or a tuple; and
    settings["choose"], which chooses among them: see fit_path)."""
    decays = settings.get("weight_decay", 0.0)
    decays = decays if isinstance(decays, tuple) else (decays,)
    given = {k: v for k, v in settings.items() if k != "choose"}
    return GradientFit(**{**given, "weight_decay": decays[0]}), decays


def fit_sheet(job: tuple) -> list[tuple[np.ndarray, list[float], int, float, float]]:
    """One sheet's fit at each of its weight decays (or at the one chosen among them, see
    GradientFit.fit_path), in a worker process: (W, loss curve, iterations, seconds, decay) each."""
    name, model, X, y, W0, settings = job
    try:
        start = time.perf_counter()
        fitter, decays = _fitter(settings)
        fits = fitter.fit_path(model, X, y, W0, decays, choose=settings.get("choose"))
        seconds = (time.perf_counter() - start) / len(fits)
        return [(W, curve, n_iter, seconds, decay) for W, _, curve, n_iter, decay in fits]
    except XlnetError as e:
        raise XlnetError(f"sheet {name!r}: {e}") from None


def fit_sheets(sheets: list[SheetData], settings: dict, progress: Callable[[int], None] = lambda _: None,
               weight_decay: float | str = "auto") -> list[tuple]:
    """Fit each sheet's training rows, side by side (the sheets and the decays tried are independent).

    Returns, per sheet, its chosen (W, loss curve, iterations, seconds, weight decay)."""
    jobs = []
    for s in sheets:
        decays = decays_to_try(s, weight_decay)
        jobs.append((s.name, s.model, *s.train_data(), s.W, {**settings, "choose": _chooser(s),
                     "weight_decay": decays if len(decays) > 1 else decays[0]}))
    chosen = []
    for job, fits in zip(jobs, run_fits(jobs, progress)):
        W, curve, iterations, _, decay = fits[job[-1]["choose"]([(W, decay) for W, *_, decay in fits])]
        chosen.append((W, curve, iterations, sum(f[3] for f in fits), decay))
    return chosen


def _chooser(sheet: SheetData) -> Callable[[list[tuple[np.ndarray, float]]], int]:
    """Which of several (W, decay) fits of a sheet is best, as judged (the validation loss: only its rows)."""
    if sheet.sets is not None:
        return lambda fits: int(np.argmin([sheet.valid_loss(W) for W, _ in fits]))
    return lambda fits: int(np.argmin([judged(sheet.metrics(W, decay)) for W, decay in fits]))


def decays_to_try(sheet: SheetData, weight_decay: float | str) -> tuple[float, ...]:
    """`auto`: with a validation set, each of DECAY_GRID (the validation loss chooses); without one, the sheet's
    own decay cell, as `sheet` always. A number: that decay. A sheet without a decay cell (the lesson's) has none."""
    if not sheet.model.decay:
        return (0.0,)
    if weight_decay == "auto" and sheet.sets is not None:
        return DECAY_GRID
    if weight_decay in ("auto", "sheet"):
        return (sheet.weight_decay,)
    return (float(weight_decay),)


def judged(metrics: dict[str, float]) -> float:
    """What "better" means, from a sheet's summary figures: the validation loss where there is a validation set
    (a model for rows not yet seen), else what the sheet's Solver cell minimises."""
    return metrics["valid_loss"] if "valid_loss" in metrics else solver_target(metrics)


def fit_key(fitter: GradientFit, sheet: SheetData, decay: float) -> int:
    """A nonzero 32-bit digest of what a fit's result depends on besides the sheet's rows and starting parameters:
    the fit's version, its settings at this decay, and the sheet's layout. A sheet's seam keeps it beside the
    parameters a fit wrote (zipout.Seam.fit), so that compare can tell them apart."""
    text = json.dumps({**fitter.settings(), "lbfgs_iters": fitter.lbfgs_iters, "weight_decay": decay,
                       "version": FIT_VERSION, "layout": sheet.layout.fingerprint()}, sort_keys=True)
    return zlib.crc32(text.encode()) or 1


def check_weight_decay(weight_decay: float | str) -> None:
    if weight_decay not in ("auto", "sheet"):
        GradientFit(weight_decay=weight_decay)


def run_fits(jobs: list[tuple], progress: Callable[[int], None] = lambda _: None) -> list[tuple]:
    """fit_sheet on each job, a process per core; in turn where forking is not available. Workers are killed,
    never orphaned, when the parent stops."""
    steps = [fitter.steps(len(decays), job[1], len(job[3])) for job, (fitter, decays) in
             ((job, _fitter(job[-1])) for job in jobs)]
    getattr(progress, "expect", lambda total: None)(sum(steps))
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers < 2 or not can_fork():
        outcomes = []
        for *job, settings in jobs:
            outcomes.append(fit_sheet((*job, {**settings, "progress": progress})))
        return outcomes
    global _JOBS, _DONE
    # The forked workers inherit the jobs and the shared count of steps: only the jobs' numbers go through the
    # pipe, so a worker that fails cannot leave a large task stuck in it.
    _JOBS, _DONE = jobs, multiprocessing.get_context("fork").Value("q", 0)
    try:
        order = sorted(range(len(jobs)), key=lambda i: jobs[i][1].convex)  # the nets first: a linear sheet is
        outcomes: list = []                                                # quick, and fills a gap at the end
        reported = 0
        with workers_pool(workers) as pool:
            results = pool.imap(_fit_job, order)
            while len(outcomes) < len(order):
                try:
                    outcomes.append(results.next(timeout=PROGRESS_EVERY))
                except multiprocessing.TimeoutError:
                    pass
                done = _DONE.value
                progress(done - reported)
                reported = done
        return [outcome for _, outcome in sorted(zip(order, outcomes), key=lambda pair: pair[0])]
    finally:
        _JOBS, _DONE = [], None


def diagnose(sheet: SheetData, where: str) -> None:
    """A fit cannot start where the loss of the workbook's own parameters overflows: name the cell that does it."""
    at = sheet.layout
    big = int(np.argmax(np.abs(sheet.W)))
    if abs(sheet.W[big]) > EXTREME:
        c, r = at.param_cells()[big]
        raise XlnetError(f"{where}: sheet {sheet.name!r}, parameter cell {_a1(c, r)} holds {sheet.W[big]:g}, so "
                         "the loss overflows and no fit can start; put a small starting value there (0 will do).")
    with np.errstate(all="ignore"):
        finite = np.isfinite(sheet.loss())
    if not finite or np.abs(sheet.X).max() > LARGE_DATA:
        cell = _largest_value(sheet)
        if cell is not None and (not finite or cell[2] > LARGE_DATA):
            c, r, v, column = cell
            raise XlnetError(f"{where}: sheet {sheet.name!r}, cell {_a1(c, r)} ({column}) holds {v:g}, so the "
                             "loss overflows or no step size can fit it; correct the value, or make the column "
                             "scaled (rebuild with --numeric or --log).")


def _largest_value(sheet: SheetData) -> tuple | None:
    """The data cell behind the largest feature written as a value (a scaled or log feature stays small)."""
    at = sheet.layout
    best = None
    for name, op in at.features:
        if op is not None or name == "Ones":
            continue
        x = np.abs(sheet.env[name])
        i = int(np.argmax(x))
        if best is None or x[i] > best[2]:
            best = (at.col[name], FIRST_ROW + i, float(sheet.env[name][i]), name)
    return None if best is None else (best[0], best[1], abs(best[2]), best[3])


def _a1(c: int, r: int) -> str:
    from .xlsx.read import letters
    return f"{letters(c)}{r}"


@dataclass
class SheetResult:
    sheet: str
    before: dict[str, float]  # the sheet's summary cells before and after: train_loss, valid_loss, ...
    after: dict[str, float]
    iterations: int
    seconds: float
    improved: bool = True     # False: no better than the workbook's parameters, which were left as they were
    params_: np.ndarray | None = None      # the parameters now in the sheet, in the model's order
    param_names: list[str] | None = None   # a readable name for each (its unit and feature)
    loss_curve_: np.ndarray | None = None  # (iteration, loss) pairs of the fit, from iteration 0 (the loss before)
    weight_decay: float = 0.0              # the sheet's decay now (chosen by the validation set under "auto")

    @property
    def loss_before(self) -> float:
        return self.before["train_loss"]

    @property
    def loss_after(self) -> float:
        return self.after["train_loss"]


def check_outputs(path: Path, out: Path, macro_enabled: bool) -> None:
    """`--out` keeps the workbook's kind (.xlsx, or .xlsm with macros) and never overwrites another workbook."""
    want = ".xlsm" if macro_enabled else ".xlsx"
    if out.suffix.lower() != want:
        kind = "a macro-enabled workbook (.xlsm)" if macro_enabled else "an .xlsx workbook"
        raise XlnetError(f"{out}: {path.name} is {kind}, so it must be written to a {want} path; "
                         f"choose another --out.")
    if target_of(out) != target_of(path) and out.exists():
        raise XlnetError(f"{out} already exists and may hold your Solver results; choose another --out, "
                         "or fit it in place without --out.")


def fit_workbook(path: str | Path, *, sheets: tuple[str, ...] = SHEETS, out: str | Path | None = None,
                 weight_decay: float | str = "auto", **settings) -> list[SheetResult]:
    """Fit each sheet's training rows from the workbook's own data and parameters; write back only what xlnet owns.

    `weight_decay`: "auto" (chosen by the validation loss where there is a validation set; else the sheet's
    decay cell) or a number, written to the decay cell. Two fits of one workbook serialise on an advisory lock,
    so neither's history is lost.
    """
    path = Path(path)
    out = Path(out) if out else path
    progress = settings.pop("progress", None)
    progress = (lambda _: None) if progress is None else progress
    fitter = GradientFit(**settings)  # checks the settings before any work
    check_weight_decay(weight_decay)
    check_not_open(path)
    if out != path:
        check_not_open(out)
    with exclusive(path):
        pkg = open_package(path)
        try:
            check_outputs(path, out, pkg.macro_enabled)
            remove_stale_temps(target_of(out))
            spec = read_spec(pkg)
            read = read_sheets(pkg, sheets, spec)  # every sheet checked before any work
            for sheet in read:
                diagnose(sheet, str(path))
            outcomes = fit_sheets(read, settings, progress, weight_decay)
            return _write_back(pkg, read, outcomes, fitter, out)
        finally:
            pkg.close()


def _write_back(pkg, read: list[SheetData], outcomes: list[tuple], fitter: GradientFit, out: Path
                ) -> list[SheetResult]:
    patch = Patch(pkg)
    results, records, curves = [], [], {}
    for sheet, (W, curve, iterations, seconds, decay) in zip(read, outcomes):
        # The workbook's own parameters at the decay chosen: the fit's starting point, and what it must beat.
        before, start, after = sheet.metrics(), sheet.metrics(None, decay), sheet.metrics(W, decay)
        # Better by more than the spreadsheet's own rounding: the workbook stores W exactly (shortest repr).
        improved = judged(after) < judged(start) * (1 - IMPROVEMENT)
        if improved:
            key = fit_key(fitter, sheet, decay)
            patch.set_numbers(sheet.name, sheet.settable_cells(W, decay), fit=(key, round(seconds * 1000)))
        else:
            W, after, decay, start = sheet.W, before, sheet.weight_decay, before
        curves[sheet.name] = history.resample(curve, solver_target(start))
        results.append(SheetResult(sheet.name, before, after, iterations, seconds, improved, np.array(W, float),
                                   sheet.layout.param_names(), np.column_stack(curves[sheet.name]), decay))
        names, old = sheet.recorded(sheet.W, sheet.weight_decay)
        records.append(history.FitRecord(sheet.name, "xlnet Adam + L-BFGS", {**fitter.settings(), "weight_decay": decay},
                                         before, after, iterations, seconds, names, old,
                                         sheet.recorded(W, decay)[1], improved))
    try:
        history.record(patch, records, str(out))
    except history.HistoryFull as e:
        raise XlnetError(str(e)) from None
    history.write_curves(patch, curves)
    patch.recalculate_on_open()
    patch.save(out)
    return results
