"""GradientFit: the numpy solver, as Excel Solver would fit a sheet, but better and faster."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

from xlnet.errors import XlnetError
from xlnet.fitting.optim import adam, keep_freed_memory, lbfgs, newton_step
from xlnet.model.net import Model
from xlnet.workers import can_fork, cores, forked_map

CHUNK = 64  # restarts per numpy call: past this, arrays outgrow the cache and cost more per restart
CELLS_IN_CACHE = 1 << 18  # restarts x rows per call on many rows, for the same reason
SCREEN_ROWS = 2048  # on more training rows than this, the restarts are screened on a sample of this many
FINISH = 8          # ... and only the best this many (the workbook's own always among them) go on to L-BFGS
MIDDLE_FROM = 262_144  # on more rows than this, every restart is first finished on a sample ...
MIDDLE_ROWS = 65_536   # ... of this many (below, that costs more than finishing FINISH on every row) ...
FINAL = 5              # ... and the best this many (the workbook's among them) then on every row, where ...
SETTLED_PRUNE = {"prune": 0.005, "prune_after": 10}  # ... they start ranked, at bottoms: one 0.5 % worse stops


def _quiet(steps: int) -> None:
    pass


def objective(model: Model, X: np.ndarray, y: np.ndarray, weight_decay: float = 0.0):
    def f(W: np.ndarray, rows: np.ndarray | None):
        Xr, yr = (X, y) if rows is None else (X[rows], y[rows])
        parts = [_in_blocks(model, Xr, yr, W[i:i + CHUNK], weight_decay) for i in range(0, len(W), CHUNK)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return f


def _in_blocks(model: Model, X: np.ndarray, y: np.ndarray, W: np.ndarray, weight_decay: float):
    """model.loss_and_grad over blocks of rows that keep its temporaries in the cache (1.5x faster on 160,000
    rows): the objective is a mean over rows plus a penalty, so it is the row-weighted mean of the blocks'."""
    n = len(y)
    step = max(1024, CELLS_IN_CACHE // len(W))
    if n <= step:
        return model.loss_and_grad(X, y, W, weight_decay)
    loss, grad = 0.0, 0.0
    for a in range(0, n, step):
        part_loss, part_grad = model.loss_and_grad(X[a:a + step], y[a:a + step], W, weight_decay)
        share = len(y[a:a + step]) / n
        loss, grad = loss + share * part_loss, grad + share * part_grad
    return loss, grad


class GradientFit:
    """Multi-start Adam, then L-BFGS to the bottom of each basin; the best restart wins.

    The first restarts start from the parameters given to `fit` (the workbook's: one set, or one per sheet where
    a fit serves several sheets of one net), so a fit never ends worse than where it began; the others start from
    the lesson's RAND()-0.5, drawn from `random_state`. The restarts are shared out between a process per core.
    On many rows, Adam runs on a sample and only the best few restarts are finished on every row. On very many,
    L-BFGS first finishes every restart on a larger sample, which ranks the basins: at 1,000,000 rows the best 8
    of Adam's screen ended 1.2-1.8 % above a 100-restart full-batch fit, and this ends within 0.001 % of it, in
    less time.
    """

    def __init__(self, *, epochs: int = 200, lr: float = 0.03, restarts: int = 96,
                 batch_size: int | None = None, lbfgs_iters: int = 1000, random_state: int | None = 0,
                 weight_decay: float = 0.0, progress: Callable[[int], None] | None = None):
        for name, value, low in (("epochs", epochs, 0), ("restarts", restarts, 1), ("lbfgs_iters", lbfgs_iters, 0)):
            if not isinstance(value, (int, np.integer)) or value < low:
                raise XlnetError(f"--{name.replace('_', '-')} must be a whole number of at least {low}, "
                                 f"not {value!r}.")
        if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
            raise XlnetError(f"--lr must be a positive number, not {lr!r}.")
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise XlnetError(f"--batch-size must be a whole number of at least 1, not {batch_size!r}.")
        if not (isinstance(weight_decay, (int, float)) and 0 <= weight_decay < np.inf):
            raise XlnetError(f"--weight-decay must be a number, 0 or more, or auto, not {weight_decay!r}.")
        if epochs == 0 and lbfgs_iters == 0:
            raise XlnetError("--epochs is 0 and so is the L-BFGS budget: nothing would be fitted.")
        self.epochs, self.lr, self.restarts = epochs, lr, restarts
        self.batch_size, self.lbfgs_iters, self.random_state = batch_size, lbfgs_iters, random_state
        self.weight_decay = float(weight_decay)
        self.progress = progress or (lambda _: None)

    def steps(self, decays: int = 1, model: Model | None = None, n_rows: int = 0) -> int:
        """The progress steps a fit reports: Adam's epochs, then L-BFGS's budget per run: a run per decay, and
        where L-BFGS first finishes every restart on the middle sample, that run, and with several decays a last
        run on every row (see fit_path)."""
        middle = self._middle(model, n_rows)
        runs = decays + 2 if middle and decays > 1 else decays + middle
        return self.epochs + runs * self.lbfgs_iters

    def _middle(self, model: Model | None, n_rows: int) -> bool:
        """Whether a fit of this many rows first finishes every restart on a sample of MIDDLE_ROWS."""
        restarts = 1 if model is None or model.convex else self.restarts
        return n_rows > max(MIDDLE_FROM, SCREEN_ROWS) and restarts > FINISH and self.lbfgs_iters > 0

    def settings(self) -> dict:
        return {"epochs": self.epochs, "lr": self.lr, "restarts": self.restarts, "batch_size": self.batch_size,
                "seed": self.random_state, "weight_decay": self.weight_decay}

    def describe(self, model: Model) -> tuple[str, dict]:
        """The method a fit of `model` uses and its settings, as the history sheet records them: a convex model
        (one basin) takes a Newton step and L-BFGS from one start, no Adam epochs."""
        if model.convex and self.lbfgs_iters:
            return "xlnet Newton + L-BFGS", {**self.settings(), "epochs": 0, "lr": None, "restarts": 1}
        return "xlnet Adam + L-BFGS", self.settings()

    def fit(self, model: Model, X: np.ndarray, y: np.ndarray, W0: np.ndarray) -> "GradientFit":
        """Fit `model` to the rows X, y from the starting parameters W0 (n_params,) or several (k, n_params).

        Returns
        -------
        self, with the best parameters W_, their objective loss_, the loss curve and the iterations.
        """
        start = time.perf_counter()
        ((self.W_, self.loss_, self.loss_curve_, self.n_iter_, _),) = self._fit(model, X, y, W0,
                                                                               (self.weight_decay,), None)
        self.seconds_ = time.perf_counter() - start
        return self

    def fit_path(self, model: Model, X: np.ndarray, y: np.ndarray, W0: np.ndarray, decays: tuple[float, ...], *,
                 choose: Callable[[list[tuple[np.ndarray, float]]], int]
                 ) -> list[tuple[np.ndarray, float, list[float], int, float]]:
        """One fit per weight decay, in order, sharing the exploration: Adam's restarts run once (at the first
        decay) and all go on to L-BFGS under it; each later decay starts L-BFGS from the bottoms of the best FINISH
        basins of the one before (a warm path, as glmnet fits one). (W, objective, loss curve, iterations, decay)
        each.

        Where L-BFGS first finishes every restart on the middle sample, the path runs on that sample instead;
        `choose` picks one decay from each one's best (W, decay), and only that decay is fitted on every row and
        returned: at a million rows each decay's fit on every row costs as much as the whole of the rest."""
        return self._fit(model, X, y, W0, tuple(decays), choose)

    def _lbfgs(self, f: Callable, W: np.ndarray, **settings) -> tuple[np.ndarray, list[float]]:
        return self._shared(lambda Wi, progress: lbfgs(f, Wi, iters=self.lbfgs_iters, progress=progress, **settings),
                            W)

    def _shared(self, run: Callable, W: np.ndarray, can_share: bool = True) -> tuple[np.ndarray, list[float]]:
        """run(W, progress) -> (W, curve), Adam's or L-BFGS's, of the restarts W, shared out between a forked
        worker per core where forking is available: each restart's path is its own (only L-BFGS's pruning looks at
        the others, and a share prunes against its own best, so it stops no restart that the whole would have
        kept). The curve is the best restart's loss at each step, as one run of them all gives it (NaN where not
        measured); the first share reports progress."""
        shares = [part for part in np.array_split(np.arange(len(W)), cores()) if len(part)]
        if len(shares) < 2 or not can_share or not can_fork():
            return run(W, self.progress)
        done = forked_map(lambda i, count: run(W[shares[i]], count if i == 0 else _quiet),
                          list(range(len(shares))), self.progress)
        longest = max(len(curve) for _, curve in done)
        curves = np.array([curve + curve[-1:] * (longest - len(curve)) for _, curve in done if curve], float)
        curve = np.fmin.reduce(curves).tolist() if len(curves) else []
        self.progress(len(curve) - len(done[0][1]))
        return np.concatenate([Wi for Wi, _ in done]), curve

    def _sample_path(self, model: Model, X: np.ndarray, y: np.ndarray, W: np.ndarray,
                     decays: tuple[float, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each decay's fit on a sample, warm from the one before: (its best W, its best FINAL to go on) each."""
        path = []
        for decay in decays:
            f = objective(model, X, y, decay)
            Wd, steps = self._lbfgs(f, W)
            self.progress(self.lbfgs_iters - len(steps))
            losses = f(Wd, None)[0]
            W = Wd[np.argsort(np.where(np.isfinite(losses), losses, np.inf))[:FINAL]]
            path.append((W[0], W))
        return path

    def _fit(self, model, X, y, W0, decays, choose) -> list[tuple[np.ndarray, float, list[float], int, float]]:
        keep_freed_memory()
        rng = np.random.default_rng(self.random_state)
        own = np.atleast_2d(W0)  # the workbook's starts: one per sheet the fit serves
        restarts = 1 if model.convex else self.restarts
        W = np.concatenate([own, rng.uniform(-0.5, 0.5, (restarts - 1, model.n_params))])
        f = objective(model, X, y, decays[0])
        screen, monitor, settled = f, None, False
        if len(y) > SCREEN_ROWS and restarts > FINISH:
            sample = np.sort(rng.choice(len(y), SCREEN_ROWS, replace=False))
            screen = objective(model, X[sample], y[sample], decays[0])
            monitor = lambda W, losses: float(f(W[[int(np.argmin(losses))]], None)[0][0])
        epochs = 0 if model.convex and self.lbfgs_iters else self.epochs  # one basin: Newton, then L-BFGS, find it
        self.progress(self.epochs - epochs)
        n_rows = min(len(y), SCREEN_ROWS) if monitor else len(y)
        W, curve = self._shared(lambda Wi, progress: adam(
            screen, Wi, epochs=epochs, lr=self.lr, n_rows=n_rows, batch_size=self.batch_size, rng=rng,
            progress=progress, monitor=monitor), W, can_share=not self.batch_size)  # minibatches draw from rng
        if monitor is not None:
            losses, finish = screen(W, None)[0], FINISH
            middle = np.sort(rng.choice(len(y), MIDDLE_ROWS, replace=False)) if self._middle(model, len(y)) else None
            if middle is not None:
                rough = objective(model, X[middle], y[middle], decays[0])
                W, steps = self._lbfgs(rough, W)
                self.progress(self.lbfgs_iters - len(steps))
                losses, finish, settled = rough(W, None)[0], FINAL, True
                curve += [float("nan")] * len(steps)  # a sample's loss, not the sheet's: left out of the curve
            ranked = np.argsort(losses)  # the best of the workbook's starts goes on, and the best finish - 1 others
            best = [i for i in ranked if i >= len(own)][:finish - 1]
            W = W[[next(i for i in ranked if i < len(own))] + best]
            if len(decays) > 1 and middle is not None:
                path = self._sample_path(model, X[middle], y[middle], W, decays)
                i = choose([(Wd, decay) for (Wd, _), decay in zip(path, decays)])
                decays, W = (decays[i],), path[i][1]
        out = []
        for decay in decays:
            f = objective(model, X, y, decay)
            newton = []
            if model.convex and self.lbfgs_iters:  # a step of the curve, as an iteration is
                W = newton_step(f, W)
                newton = [float(f(W, None)[0].min())]
                self.progress(1)
            Wd, polish = self._lbfgs(f, W, **(SETTLED_PRUNE if settled else {}))
            polish = newton + polish
            self.progress(max(0, self.lbfgs_iters - len(polish)))
            losses = f(Wd, None)[0]
            if not np.isfinite(losses).any():
                raise XlnetError(f"the fit diverged: no restart ended with a finite loss; lower --lr "
                                 f"(it is {self.lr:g}).")
            best = int(np.nanargmin(np.where(np.isfinite(losses), losses, np.nan)))
            out.append((Wd[best], float(losses[best]), curve + polish, len(curve) + len(polish), decay))
            W = Wd[np.argsort(np.where(np.isfinite(losses), losses, np.inf))[:FINISH]]  # the next decay's starts
        return out
