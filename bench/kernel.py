"""The objective kernel beside the floor: `Model.loss_and_grad` (the very ops whose formulas the sheet holds)
against a plain numpy forward and backward of the same net, at the shapes a fit runs.

    python bench/kernel.py [--repeat 20]

The lesson's nnet (10 features, 2 ReLUs added up, squared error) over its 712 rows tiled to each row count, with
a batch of restarts: milliseconds per call (the best of `--repeat`), and xlnet / plain numpy. Both give the same
loss and gradient (checked).
"""
from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `xlnet fit` runs its fits: a BLAS thread per process

import numpy as np  # noqa: E402

from xlnet.commands.build import build  # noqa: E402
from xlnet.fitting.optim import keep_freed_memory  # noqa: E402
from xlnet.workbook.book import Workbook  # noqa: E402

SHAPES = [(65_536, 96), (799_000, 1), (799_000, 5), (65_536, 8), (712, 96)]
DEEP_SHAPES = [(65_536, 8), (8_192, 96), (2_048, 96), (344, 96)]
PENGUINS = Path(__file__).resolve().parent.parent / "data" / "penguins.csv"


def plain(X: np.ndarray, y: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lesson's net in plain numpy: W (restarts, units, features); the loss and its gradient per restart."""
    n = len(y)
    Z = np.matmul(W.reshape(-1, W.shape[-1]), X.T).reshape(W.shape[0], W.shape[1], n)
    H = np.maximum(Z, 0.0)
    err = H.sum(axis=1) - y
    loss = (err * err).mean(axis=1)
    G = (2.0 / n) * err[:, None, :] * (Z > 0)
    grad = np.matmul(G.reshape(-1, n), X).reshape(W.shape)
    return loss, grad


def plain_deep(X: np.ndarray, y: np.ndarray, W: np.ndarray, W2: np.ndarray, V: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two hidden ReLU layers and a softmax over the classes in plain numpy, the blocks as xlnet's nnet sheet holds
    them (a row per unit, the bias last in the later layers): the mean cross-entropy per restart and its gradient
    by block."""
    n, u1, u2 = len(y), W.shape[1], W2.shape[1]
    Z1 = W @ X.T                                   # (restarts, u1, rows)
    H1 = np.maximum(Z1, 0.0)
    Z2 = W2[..., :u1] @ H1 + W2[..., u1:]
    H2 = np.maximum(Z2, 0.0)
    Z = V[..., :u2] @ H2 + V[..., u2:]             # (restarts, classes, rows)
    top = Z.max(axis=1, keepdims=True)
    E = np.exp(Z - top)
    total = E.sum(axis=1, keepdims=True)
    Y = np.arange(Z.shape[1])[:, None] == y[None, :]
    loss = (np.log(total[:, 0]) + top[:, 0] - (Z * Y).sum(axis=1)).mean(axis=1)
    dZ = (E / total - Y) / n
    dV = np.concatenate([dZ @ H2.swapaxes(1, 2), dZ.sum(axis=2, keepdims=True)], 2)
    dZ2 = (V[..., :u2].swapaxes(1, 2) @ dZ) * (Z2 > 0)
    dW2 = np.concatenate([dZ2 @ H1.swapaxes(1, 2), dZ2.sum(axis=2, keepdims=True)], 2)
    dZ1 = (W2[..., :u1].swapaxes(1, 2) @ dZ2) * (Z1 > 0)
    dW = dZ1 @ X
    return loss, dW, dW2, dV


def best_of(f, g, repeat: int) -> tuple[float, float]:
    """The fastest of `repeat` runs of f and of g, in ms, their runs interleaved: the machine's speed drifts (two
    shared cores), and a drift then slows both alike."""
    times_f, times_g = [], []
    for _ in range(repeat):
        for run, times in ((f, times_f), (g, times_g)):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return min(times_f) * 1000, min(times_g) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    keep_freed_memory()  # as a fit does
    with tempfile.TemporaryDirectory() as tmp:
        with Workbook.open(build(out=Path(tmp) / "t.xlsx").out) as book:
            sheet, = book.sheets(["nnet"])
        deep_book = build(PENGUINS, Path(tmp) / "p.xlsx", target="species", hidden=[8, 8])
        with Workbook.open(deep_book.out) as book:
            deep, = book.sheets(["nnet"])
    model, X0, y0 = sheet.model, sheet.X, sheet.y
    print("the lesson's nnet: 10 features, 2 ReLUs added up, squared error")
    print(f"{'rows':>9}{'restarts':>10}{'xlnet ms':>11}{'numpy ms':>11}{'ratio':>8}")
    for rows, restarts in SHAPES:
        take = np.arange(rows) % len(y0)
        X, y = np.ascontiguousarray(X0[take]), y0[take]
        theta = np.random.default_rng(0).uniform(-0.5, 0.5, (restarts, model.n_params))
        W = theta.reshape(restarts, 2, -1)
        ours, grad = model.loss_and_grad(X, y, theta)
        theirs, grad2 = plain(X, y, W)
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)
        np.testing.assert_allclose(grad, grad2.reshape(restarts, -1), rtol=1e-8, atol=1e-12)
        repeat = max(3, args.repeat // (1 + rows * restarts // 5_000_000))
        t_x, t_p = best_of(lambda: model.loss_and_grad(X, y, theta), lambda: plain(X, y, W), repeat)
        print(f"{rows:>9,}{restarts:>10}{t_x:>11.2f}{t_p:>11.2f}{t_x / t_p:>8.2f}")
    print("\npenguins' species: 10 features, two hidden layers of 8 ReLUs, a softmax over 3 classes, cross-entropy")
    print(f"{'rows':>9}{'restarts':>10}{'xlnet ms':>11}{'numpy ms':>11}{'ratio':>8}")
    model, X0, y0 = deep.model, deep.X, deep.y
    for rows, restarts in DEEP_SHAPES:
        take = np.arange(rows) % len(y0)
        X, y = np.ascontiguousarray(X0[take]), y0[take]
        theta = np.random.default_rng(0).uniform(-0.5, 0.5, (restarts, model.n_params))
        blocks = model.unpack(theta)
        ours, grad = model.loss_and_grad(X, y, theta)
        theirs, *grads = plain_deep(X, y, blocks["W"], blocks["W2"], blocks["V"])
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)
        np.testing.assert_allclose(grad, model.pack(dict(zip(("W", "W2", "V"), grads))), rtol=1e-8, atol=1e-12)
        repeat = max(3, args.repeat // (1 + rows * restarts // 1_000_000))
        t_x, t_p = best_of(lambda: model.loss_and_grad(X, y, theta),
                           lambda: plain_deep(X, y, blocks["W"], blocks["W2"], blocks["V"]), repeat)
        print(f"{rows:>9,}{restarts:>10}{t_x:>11.2f}{t_p:>11.2f}{t_x / t_p:>8.2f}")
    print(f"peak memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
