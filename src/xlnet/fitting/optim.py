"""Optimisers over a batch of parameter sets at once (one per random restart).

`f(W, rows)` returns the loss of each set and its gradient; `rows` picks a
mini-batch (None: every row). Adam explores, as gradient descent does in the
lessons; L-BFGS then converges each restart to the bottom of its basin, which
plain gradient steps reach only slowly on this piecewise-quadratic surface.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Callable

import numpy as np

from xlnet.errors import XlnetError

MONITORED = 25
FLAT = 1e-13  # a gradient this small is rounding: the bottom is reached
FTOL = 1e-9   # a restart stops when an iteration gains less than this (relative): the losses are shown to 10
              # digits, and the last 1e-11 cost a fifth of the iterations (nets on 160,000 rows: +1e-8 at most)
Objective = Callable[[np.ndarray, "np.ndarray | None"], tuple[np.ndarray, np.ndarray]]
Progress = Callable[[int], None]


@functools.cache
def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory instead of returning it to the system after each numpy
    temporary: a fit makes millions of them, and with a workbook loaded the give-back and
    page faults tripled its time here. A no-op where there is no glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        for option in (-1, -2, -3):  # M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD
            libc.mallopt(option, 64 << 20)
    except (OSError, AttributeError, TypeError):
        pass


def adam(f: Objective, W: np.ndarray, *, epochs: int, lr: float, n_rows: int, batch_size: int | None,
         rng: np.random.Generator, warmup: float = 0.5, beta1: float = 0.9, beta2: float = 0.999,
         eps: float = 1e-8, progress: Progress = lambda _: None,
         monitor: Callable[[np.ndarray, np.ndarray], float] | None = None) -> tuple[np.ndarray, list[float]]:
    """Adam with a linear warm-up (so early large steps do not kill ReLU units) and a cosine decay.

    The curve holds, per epoch, the best restart's loss; or with a `monitor`, `monitor(W, losses)` at about
    MONITORED epochs spread evenly, and NaN (not measured) at the others."""
    m, v = np.zeros_like(W), np.zeros_like(W)
    start, g = f(W, None)
    curve, t = [], 0
    batches = 1 if not batch_size else -(-n_rows // batch_size)
    total = epochs * batches
    for epoch in range(epochs):
        order = rng.permutation(n_rows) if batch_size else None
        for b in range(batches):
            rows = None if order is None else order[b * batch_size:(b + 1) * batch_size]
            t += 1
            step = lr * min(1.0, t / max(1, warmup * total)) * 0.5 * (1 + np.cos(np.pi * (t - 1) / total))
            if batch_size:
                _, g = f(W, rows)
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g * g
            W = W - step * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
        loss, g = f(W, None)  # full batch: this gradient is the next step's, so one evaluation per epoch
        _check(loss, start, epoch, "--lr", lr)
        if monitor is None:
            curve.append(float(loss.min()))
        else:  # a monitor costs a pass over every row: a few dozen points draw the curve
            measured = epoch % max(1, epochs // MONITORED) == 0 or epoch == epochs - 1
            curve.append(monitor(W, loss) if measured else float("nan"))
        progress(1)
    return W, curve


def _check(loss: np.ndarray, start: np.ndarray, epoch: int, setting: str, value: float) -> None:
    exploded = ~np.isfinite(loss) | (loss > 1e3 * np.maximum(start, 1e-3))
    if exploded.any():
        raise XlnetError(f"the fit diverged: the loss reached {loss[exploded].max():.4g} after epoch {epoch + 1}; "
                         f"lower {setting} (it is {value:g}).")


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("rp,rp->r", a, b)


def newton_step(f: Objective, W: np.ndarray) -> np.ndarray:
    """One Newton step from each parameter set, its Hessian taken as differences of gradients one unit apart:
    exact where the loss is quadratic in the parameters (a linear model under squared error), whose minimum it
    then reaches in one step; a start near the minimum for any other convex loss. Each set is kept where the
    step does not lower its loss."""
    R, shape = W.shape[0], W.shape
    x = W.reshape(R, -1)
    P = x.shape[1]
    probes = (x[:, None, :] + np.vstack([np.zeros(P), np.eye(P)])[None]).reshape(-1, *shape[1:])
    L, G = f(probes, None)
    G = G.reshape(R, P + 1, P)
    g, H = G[:, 0], G[:, 1:] - G[:, :1]
    out = x.copy()
    for i in range(R):
        H_i = (H[i] + H[i].T) / 2
        trial = x[i] - np.linalg.lstsq(H_i, g[i], rcond=None)[0]
        L_trial = f(trial.reshape(1, *shape[1:]), None)[0][0]
        if np.isfinite(L_trial) and L_trial <= L.reshape(R, P + 1)[i, 0]:
            out[i] = trial
    return out.reshape(shape)


def lbfgs(f: Objective, W: np.ndarray, *, iters: int = 1000, memory: int = 10, ftol: float = FTOL,
          prune: float = 0.02, prune_after: int = 100,
          progress: Progress = lambda _: None) -> tuple[np.ndarray, list[float]]:
    """Limited-memory BFGS with an Armijo backtracking line search, each restart on its own.

    After `prune_after` iterations, a restart whose loss is more than `prune` (relative) above
    the best one's stops: near the bottom of its basin by then, it cannot win.
    """
    shape, R = W.shape, W.shape[0]
    x = W.reshape(R, -1).copy()
    L, g = f(W, None)
    g = g.reshape(R, -1)
    history: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    active = np.abs(g).max(axis=1) >= FLAT  # a start already at the bottom (after a Newton step) stays there
    if not active.any():
        return W, []
    curve = []
    for it in range(iters):
        q, alphas = g.copy(), []
        for s, y, rho in reversed(history):
            a = rho * _dot(s, q)
            q -= a[:, None] * y
            alphas.append(a)
        if history:
            s, y, rho = history[-1]
            gamma = np.where(rho > 0, _dot(s, y) / np.maximum(_dot(y, y), 1e-300), 1e-3)
        else:
            gamma = 1e-2 / np.maximum(np.abs(g).max(axis=1), 1e-300)
        d = gamma[:, None] * q
        for (s, y, rho), a in zip(history, reversed(alphas)):
            d += s * (a - rho * _dot(y, d))[:, None]
        d = -d
        slope = _dot(g, d)
        uphill = slope >= 0
        d[uphill], slope[uphill] = -g[uphill], -_dot(g, g)[uphill]
        d[~active], slope[~active] = 0.0, 0.0
        t, pending = np.ones(R), active.copy()
        x_new, L_new, g_new = x.copy(), L.copy(), g.copy()
        for _ in range(40):
            i = np.flatnonzero(pending)
            trial = x[i] + t[i, None] * d[i]
            Lt, gt = f(trial.reshape(-1, *shape[1:]), None)
            ok = np.isfinite(Lt) & (Lt <= L[i] + 1e-4 * t[i] * slope[i])
            x_new[i[ok]], L_new[i[ok]], g_new[i[ok]] = trial[ok], Lt[ok], gt.reshape(len(i), -1)[ok]
            pending[i[ok]] = False
            if not pending.any():
                break
            # Backtrack to the minimum of the parabola through L, the slope and the failed trial.
            j, ti = i[~ok], t[i[~ok]]
            curvature = np.where(np.isfinite(Lt[~ok]), Lt[~ok] - L[j] - slope[j] * ti, np.inf)
            t[j] = np.clip(-slope[j] * ti * ti / (2 * curvature), 0.1 * ti, 0.5 * ti)
        s, y = x_new - x, g_new - g
        sy = _dot(s, y)
        rho = np.divide(1.0, sy, out=np.zeros_like(sy), where=sy > 1e-300)  # 0: a pair that would not help
        history = (history + [(s, y, rho)])[-memory:]
        stalled = pending | (L - L_new <= ftol * np.abs(L)) | (np.abs(g_new).max(axis=1) < FLAT)
        x, L, g = x_new, L_new, g_new
        active &= ~stalled & ((it < prune_after) | (L <= (1 + prune) * L.min()))
        curve.append(float(L.min()))
        progress(1)
        if not active.any():
            break
    return x.reshape(shape), curve
