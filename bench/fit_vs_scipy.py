"""xlnet's solver beside scipy's L-BFGS-B from the same starts, and the closed-form optimum.

    python bench/fit_vs_scipy.py [--seeds 3] [--runs 7]

Prints, per sheet and seed, loss and seconds for both and their ratios, then the median wall time of the
whole `xlnet fit` command over `--runs` runs, each on a fresh copy of a freshly built workbook, with the losses
the nets reached (the same in every run).
"""
from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `xlnet fit` runs: else this process's idle BLAS threads
                                                    # spin beside the timed runs
import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

import xlnet  # noqa: E402
from xlnet.commands.build import build  # noqa: E402
from xlnet.fitting.estimator import GradientFit  # noqa: E402
from xlnet.model.net import SHEETS  # noqa: E402
from xlnet.fitting.optim import keep_freed_memory  # noqa: E402
from xlnet.workbook.book import Workbook  # noqa: E402


def scipy_lbfgs(model, X, y, starts):
    def f(p):
        loss, g = model.loss_and_grad(X, y, p[None])
        return float(loss[0]), g.ravel()
    best = np.inf
    for W in starts:
        r = minimize(f, W.ravel(), jac=True, method="L-BFGS-B",
                     options={"maxiter": 15000, "maxfun": 20000, "ftol": 1e-15, "gtol": 1e-10})
        best = min(best, r.fun)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3, help="starts of each sheet fitted by both (at least 1)")
    ap.add_argument("--runs", type=int, default=7, help="runs of the whole `xlnet fit` command (their median)")
    args = ap.parse_args()
    if args.seeds < 1:
        ap.error("--seeds must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        path = build(out=Path(tmp) / "t.xlsx").out
        compileall.compile_dir(Path(xlnet.__file__).parent, quiet=1)  # byte-code, as pip's install of the wheel
        walls, nets = [], set()  # first: once this process has run BLAS products, its threads spin beside the runs
        for _ in range(args.runs):
            fresh = shutil.copy(path, Path(tmp) / "run.xlsx")
            t = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "xlnet", "fit", str(fresh)], check=True,
                                  capture_output=True, text=True)
            walls.append(time.perf_counter() - t)
            nets |= {line.split()[2] for line in done.stdout.splitlines() if line.split()[:1] in (["nnet"], ["mmult"])}
        whole = (f"whole `xlnet fit` of all three sheets (load, fit, save), {args.runs} runs on fresh copies: median "
                 f"{statistics.median(walls):.2f} s wall ({min(walls):.2f}-{max(walls):.2f}); the nets' losses in "
                 f"every run: {', '.join(sorted(nets))}")
        with Workbook.open(path) as book:
            sheets = dict(zip(SHEETS, book.sheets(SHEETS)))
        keep_freed_memory()  # as xlnet's fit does, for both
        print(f"{'sheet':<7}{'seed':>5}{'xlnet loss':>14}{'s':>7}{'scipy loss':>14}{'s':>7}"
              f"{'loss ratio':>11}{'time ratio':>11}")
        for name in SHEETS:
            sheet = sheets[name]
            model, X, y = sheet.model, sheet.X, sheet.y
            for seed in range(args.seeds):
                t = time.perf_counter()
                fitter = GradientFit(random_state=seed).fit(model, X, y, sheet.W)
                t_x = time.perf_counter() - t
                rng = np.random.default_rng(seed)  # the same starts as xlnet's
                starts = np.concatenate([sheet.W[None], rng.uniform(-0.5, 0.5, (fitter.restarts - 1, model.n_params))])
                t = time.perf_counter()
                ref = scipy_lbfgs(model, X, y, starts)
                t_s = time.perf_counter() - t
                print(f"{name:<7}{seed:>5}{fitter.loss_:>14.10f}{t_x:>7.2f}{ref:>14.10f}{t_s:>7.2f}"
                      f"{fitter.loss_ / ref:>11.6f}{t_x / t_s:>11.3f}")
            if name == "linear":
                w, *_ = np.linalg.lstsq(X, y, rcond=None)
                optimum = np.mean((X @ w - y) ** 2)
                print(f"linear least-squares optimum {optimum:.13f}; xlnet's relative gap "
                      f"{(fitter.loss_ - optimum) / optimum:.2e}")
        print(whole)
    print(f"peak memory (RSS): this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB, "
          f"`xlnet fit` {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
