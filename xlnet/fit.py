"""`xlnet fit`: read the workbook, fit its model sheets side by side, and patch back only what xlnet owns."""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import history
from .dataset import SheetData, open_package, read_sheet, read_spec
from .errors import XlnetError
from .estimator import GradientFit
from .layout import FIRST_ROW
from .net import SHEETS
from .xlsx.patch import Patch
from .xlsx.safety import check_not_open, exclusive, remove_stale_temps, target_of

EXTREME = 1e100  # a parameter this large makes the loss overflow: it is the cause, not the learning rate
LARGE_DATA = 1e6  # a feature this large makes any step size diverge
IMPROVEMENT = 1e-12  # relative: a smaller gain is below the spreadsheet's rounding, and not written


def _worker_start() -> None:
    """A worker dies with its parent (even on kill -9), leaves Ctrl-C to the parent, and uses one BLAS thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:
            os._exit(1)
    one_blas_thread()


def one_blas_thread() -> None:
    """Two workers on two cores with two OpenBLAS threads each would fight; one thread each is faster."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
        for path in libs:
            lib = ctypes.CDLL(path)
            for symbol in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                           "openblas_set_num_threads"):
                if hasattr(lib, symbol):
                    getattr(lib, symbol)(1)
                    break


_JOBS: list[tuple] = []


def _fit_job(i: int) -> tuple:
    return fit_sheet(_JOBS[i])


def fit_sheet(job: tuple) -> tuple:
    """One sheet's fit, in a worker process: (W, loss curve, iterations, seconds)."""
    name, model, X, y, W0, settings = job
    try:
        fitter = GradientFit(**settings).fit(model, X, y, W0)
    except XlnetError as e:
        raise XlnetError(f"sheet {name!r}: {e}") from None
    return fitter.W_, fitter.loss_curve_, fitter.n_iter_, fitter.seconds_


def fit_sheets(sheets: list[SheetData], settings: dict,
               progress: Callable[[int], None] = lambda _: None) -> list[tuple]:
    """Fit each sheet's training rows, side by side (the sheets are independent)."""
    return run_fits([(s.name, s.model, *s.train_data(), s.W, settings) for s in sheets], progress)


def run_fits(jobs: list[tuple], progress: Callable[[int], None] = lambda _: None) -> list[tuple]:
    """fit_sheet on each job, a process per core; in turn where forking is not available. Workers are killed,
    never orphaned, when the parent stops."""
    steps = GradientFit(**jobs[0][-1]).steps() if jobs else 0
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        outcomes = []
        for job in jobs:
            outcomes.append(fit_sheet(job))
            progress(steps)
        return outcomes
    global _JOBS
    _JOBS = jobs  # the forked workers inherit the jobs: only their numbers go through the pipe, so a worker
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_worker_start)  # that fails cannot
    try:                                                                  # leave a large task stuck in it
        outcomes = []
        for outcome in pool.imap(_fit_job, range(len(jobs))):
            outcomes.append(outcome)
            progress(steps)
        return outcomes
    finally:
        pool.terminate()
        pool.join()
        _JOBS = []


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
                 **settings) -> list[SheetResult]:
    """Fit each sheet's training rows from the workbook's own data and parameters; write back only what xlnet owns.

    Two fits of one workbook serialise on an advisory lock, so neither's history is lost.
    """
    path = Path(path)
    out = Path(out) if out else path
    progress = settings.pop("progress", None) or (lambda _: None)
    fitter = GradientFit(**settings)  # checks the settings before any work
    check_not_open(path)
    if out != path:
        check_not_open(out)
    with exclusive(path):
        pkg = open_package(path)
        try:
            check_outputs(path, out, pkg.macro_enabled)
            remove_stale_temps(target_of(out))
            spec = read_spec(pkg)
            read = [read_sheet(pkg, name, spec) for name in sheets]  # every sheet checked before any work
            for sheet in read:
                diagnose(sheet, str(path))
            outcomes = fit_sheets(read, settings, progress)
            return _write_back(pkg, read, outcomes, fitter, out)
        finally:
            pkg.close()


def _write_back(pkg, read: list[SheetData], outcomes: list[tuple], fitter: GradientFit, out: Path
                ) -> list[SheetResult]:
    patch = Patch(pkg)
    results, records, curves = [], [], {}
    for sheet, (W, curve, iterations, seconds) in zip(read, outcomes):
        before, after = sheet.metrics(), sheet.metrics(W)
        # Better by more than the spreadsheet's own rounding: the workbook stores W exactly (shortest repr).
        improved = after["train_loss"] < before["train_loss"] * (1 - IMPROVEMENT)
        if improved:
            patch.set_numbers(sheet.name, dict(zip(sheet.layout.param_cells(), map(float, W))))
        else:
            W, after = sheet.W, before
        curves[sheet.name] = history.resample(curve, before["train_loss"])
        results.append(SheetResult(sheet.name, before, after, iterations, seconds, improved, np.array(W, float),
                                   sheet.layout.param_names(), np.column_stack(curves[sheet.name])))
        records.append(history.FitRecord(sheet.name, "xlnet Adam + L-BFGS", fitter.settings(), before, after,
                                         iterations, seconds, sheet.layout.param_names(), sheet.W, W, improved))
    try:
        history.record(patch, records, str(out))
    except history.HistoryFull as e:
        raise XlnetError(str(e)) from None
    history.write_curves(patch, curves)
    patch.recalculate_on_open()
    patch.save(out)
    return results
