"""Fitting model sheets: the one service that `fit`, `compare` and `cv` share.

A job is one sheet's rows and starting parameters with the settings of its GradientFit. The sheets that hold
one net (nnet and mmult) are one job (`run_nets`); many jobs run side by side, a forked worker per core (cv's
folds), a few in turn, each sharing its restarts out between the cores. `fit_sheets` fits sheets as read from a
workbook, the weight decay chosen by the validation set (`decays_to_try`, `judged`); `fit_key` is the digest
that tells a sheet xlnet fitted under given settings from one fitted otherwise.
"""
from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from xlnet.errors import XlnetError
from xlnet.fitting.estimator import GradientFit
from xlnet.workers import can_fork, forked_map
from xlnet.model.net import Model, solver_target
from xlnet.workbook.layout import FIRST_ROW
from xlnet.workbook.sheet_data import SheetData
from xlnet.xlsx.read import letters

EXTREME = 1e100  # a parameter this large makes the loss overflow: it is the cause, not the learning rate
LARGE_DATA = 1e6  # a feature this large makes any step size diverge
IMPROVEMENT = 1e-12  # relative: a smaller gain is below the spreadsheet's rounding, and not written
DECAY_GRID = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # weight decays tried when the validation set chooses
FIT_VERSION = 3  # raise it when a change to the fit changes what the same settings reach: see fit_key

Chooser = Callable[[list[tuple[np.ndarray, float]]], int]


@dataclass
class FitJob:
    """One sheet's fit: its training rows, starting parameters, GradientFit settings and the weight decays to
    fit (one, or several of which `choose` picks the best: see GradientFit.fit_path)."""
    name: str
    model: Model
    X: np.ndarray
    y: np.ndarray
    W0: np.ndarray
    settings: dict
    decays: tuple[float, ...] = (0.0,)
    choose: Chooser | None = None
    also: tuple[str, ...] = ()  # the other sheets the fit serves (see one_fit_each)

    @property
    def label(self) -> str:
        names = " and ".join(repr(name) for name in (self.name, *self.also))
        return f"sheets {names}" if self.also else f"sheet {names}"

    def fitter(self, progress: Callable[[int], None] | None = None) -> GradientFit:
        return GradientFit(**{**self.settings, "weight_decay": self.decays[0], "progress": progress})

    def steps(self) -> int:
        return self.fitter().steps(len(self.decays), self.model, len(self.y))


@dataclass
class Fitted:
    """A job's outcome at one weight decay."""
    W: np.ndarray
    curve: list[float]
    iterations: int
    seconds: float
    decay: float


def fit_job(job: FitJob, progress: Callable[[int], None] = lambda _: None) -> list[Fitted]:
    """The job's fit at each of its weight decays (or at the one chosen among them)."""
    try:
        start = time.perf_counter()
        fits = job.fitter(progress).fit_path(job.model, job.X, job.y, job.W0, job.decays, choose=job.choose)
        seconds = (time.perf_counter() - start) / len(fits)
        return [Fitted(W, curve, n_iter, seconds, decay) for W, _, curve, n_iter, decay in fits]
    except XlnetError as e:
        raise XlnetError(f"{job.label}: {e}") from None


def run_fits(jobs: list[FitJob], progress: Callable[[int], None] = lambda _: None, *, in_turn: bool = False
             ) -> list[list[Fitted]]:
    """fit_job of each job, a process per core; in turn where forking is not available, or with `in_turn` (for a
    few large jobs: each then shares its restarts out between a process per core, see GradientFit._shared).
    Workers are killed, never orphaned, when the parent stops."""
    getattr(progress, "expect", lambda total: None)(sum(job.steps() for job in jobs))
    if in_turn or len(jobs) < 2 or not can_fork():
        return [fit_job(job, progress) for job in jobs]
    order = sorted(range(len(jobs)), key=lambda i: jobs[i].model.convex)  # the nets first: a linear sheet is
    outcomes = forked_map(lambda i, count: fit_job(jobs[i], count), order, progress)  # quick, fills a gap at the end
    return [outcome for _, outcome in sorted(zip(order, outcomes), key=lambda pair: pair[0])]


def fit_sheets(sheets: list[SheetData], settings: dict, progress: Callable[[int], None] = lambda _: None,
               weight_decay: float | str = "auto") -> list[Fitted]:
    """Fit each sheet's training rows, one fit for the sheets that hold one net (run_nets), the fits in turn,
    each sharing its restarts out between the cores: each sheet's chosen fit, its seconds those of all the decays
    tried."""
    jobs = [FitJob(s.name, s.model, *train, s.W, settings, decays_to_try(s, weight_decay), chooser(s))
            for s, train in zip(sheets, _train_data(sheets))]
    chosen: list[Fitted | None] = [None] * len(jobs)
    for group, fits in run_nets(jobs, progress, in_turn=True):
        first = jobs[group[0]]
        best = fits[first.choose([(f.W, f.decay) for f in fits])]
        for i in group:
            chosen[i] = replace(in_layout(jobs, group, i, best), seconds=sum(f.seconds for f in fits))
    return chosen


def run_nets(jobs: list[FitJob], progress: Callable[[int], None] = lambda _: None, *, in_turn: bool = False
             ) -> list[tuple[list[int], list[Fitted]]]:
    """run_fits with one fit for each group of jobs that one_fit_each finds: (the group, its fits), whose
    parameters are in the order of the group's first job's model (in_layout puts them in another's)."""
    groups = one_fit_each(jobs)
    return list(zip(groups, run_fits([_together(jobs, group) for group in groups], progress, in_turn=in_turn)))


def in_layout(jobs: list[FitJob], group: list[int], i: int, fitted: Fitted) -> Fitted:
    """A group's fit (run_nets) with its parameters in job i's model's order."""
    return replace(fitted, W=jobs[i].model.params_from(jobs[group[0]].model, fitted.W))


def one_fit_each(jobs: list[FitJob]) -> list[list[int]]:
    """The jobs that one fit serves, in groups: the same net (Model.same_net: nnet and mmult are one net, written
    two ways) of the same rows under the same settings. Each group is fitted once, from every one of its sheets'
    own starts as well as the random ones, and each of its sheets gets the best: fitted apart, the lesson's two
    nets ended in different basins (0.12894 and 0.12994), each at the cost of a whole fit."""
    groups: list[list[int]] = []
    for i, job in enumerate(jobs):
        for group in groups:
            first = jobs[group[0]]
            if first.model.same_net(job.model) and (first.settings, first.decays) == (job.settings, job.decays) \
                    and _same(first.X, job.X) and _same(first.y, job.y):
                group.append(i)
                break
        else:
            groups.append([i])
    return groups


def _train_data(sheets: list[SheetData]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each sheet's training X and y; sheets that share their rows (read from one donor) share one copy."""
    made: list[tuple[SheetData, np.ndarray, tuple[np.ndarray, np.ndarray]]] = []  # sheet, its train rows, X y
    for s in sheets:
        mask = s.train_rows()
        shared = next((data for other, rows, data in made if other.X is s.X and other.y is s.y
                       and np.array_equal(rows, mask)), None)
        made.append((s, mask, shared or s.train_data(mask)))
    return [data for _, _, data in made]


def _same(a: np.ndarray, b: np.ndarray, block: int = 65_536) -> bool:
    """np.array_equal, a block of rows at a time: no temporary the size of a million-row matrix."""
    return a is b or a.shape == b.shape and all(np.array_equal(a[i:i + block], b[i:i + block])
                                                for i in range(0, len(a), block))


def _together(jobs: list[FitJob], group: list[int]) -> FitJob:
    """One job for a group of jobs (one_fit_each): the first's, starting also from the others' parameters."""
    first = jobs[group[0]]
    if len(group) == 1:
        return first
    starts = np.stack([first.W0] + [first.model.params_from(jobs[i].model, jobs[i].W0) for i in group[1:]])
    return replace(first, W0=starts, also=tuple(jobs[i].name for i in group[1:]))


def chooser(sheet: SheetData) -> Chooser:
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


def improves(after: dict[str, float], start: dict[str, float]) -> bool:
    """Better by more than the spreadsheet's own rounding (the workbook stores W exactly: shortest repr)."""
    return judged(after) < judged(start) * (1 - IMPROVEMENT)


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


def diagnose(sheet: SheetData, where: str) -> None:
    """A fit cannot start where the loss of the workbook's own parameters overflows: name the cell that does it."""
    at = sheet.layout
    big = int(np.argmax(np.abs(sheet.W)))
    if abs(sheet.W[big]) > EXTREME:
        c, r = at.param_cells()[big]
        raise XlnetError(f"{where}: sheet {sheet.name!r}, parameter cell {letters(c)}{r} holds {sheet.W[big]:g}, "
                         "so the loss overflows and no fit can start; put a small starting value there (0 will do).")
    with np.errstate(all="ignore"):
        finite = np.isfinite(sheet.loss())
    if not finite or np.abs(sheet.X).max() > LARGE_DATA:
        cell = _largest_value(sheet)
        if cell is not None and (not finite or cell[2] > LARGE_DATA):
            c, r, v, column = cell
            raise XlnetError(f"{where}: sheet {sheet.name!r}, cell {letters(c)}{r} ({column}) holds {v:g}, so the "
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


def choose_sheet(metrics: dict[str, dict[str, float]]) -> tuple[str, str]:
    """The model sheet `predict` uses, and why, from each sheet's summary figures: the lowest validation loss (the
    figure fit chooses the weight decay by); without a validation set, the lowest training loss. The figure the
    choice was made on has seen that choice, so it is a little optimistic: `fit --cv` gives an unbiased one."""
    key = "valid_loss" if all("valid_loss" in m for m in metrics.values()) else "train_loss"
    best = min(metrics, key=lambda name: metrics[name][key])
    if key == "valid_loss":
        return best, f"the lowest validation loss, {metrics[best][key]:.6g}"
    return best, (f"the lowest training loss, {metrics[best][key]:.6g}, as there is no validation set (build with "
                  "--valid-pct, or compare with `xlnet fit --cv 5`)")


@dataclass
class SheetResult:
    """A sheet's parameters changed by a fit or a restore: its summary cells before and after."""
    sheet: str
    before: dict[str, float]  # train_loss, valid_loss, ... as the sheet computes them
    after: dict[str, float]
    iterations: int = 0
    seconds: float = 0.0
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
