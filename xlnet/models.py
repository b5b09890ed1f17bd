"""The three model sheets as columns of ops: the prediction, the per-row loss and the mean loss.

`Model.loss_and_grad` runs the very ops whose formulas the workbook holds, so the
numpy loss and the sheet's loss cell are one definition.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .formula import Average, Col, MMult, Op, ReLU, Square, SumProduct


@dataclass(frozen=True)
class Model:
    name: str
    param_shape: tuple[int, int]  # as laid out on the sheet
    units_in_rows: bool           # True: a row of parameters per unit; False: a column per unit
    columns: tuple[tuple[str, Op], ...]
    loss: Op = Average("Loss")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def evaluate(self, X: np.ndarray, y: np.ndarray, W: np.ndarray) -> dict:
        """Every model column and the loss, as the sheet computes them."""
        env = {"X": X, "W": W, "Survived": y}
        for name, op in self.columns:
            env[name] = op.value(env)
        env["loss"] = self.loss.value(env)
        return env

    def loss_and_grad(self, X: np.ndarray, y: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean loss and its gradient for W of shape (..., *param_shape): one loss per leading index."""
        env = {"X": X, "W": W, "Survived": y}
        backwards = []
        for name, op in self.columns:
            env[name], backward = op.forward(env)
            backwards.append((name, backward))
        loss, backward = self.loss.forward(env)
        grads: dict = {}
        backward(np.ones_like(loss), grads)
        for name, backward in reversed(backwards):
            if name in grads:
                backward(grads.pop(name), grads)
        return loss, grads.get("W", np.zeros_like(W))


def _two_relus(lin: type) -> tuple[tuple[str, Op], ...]:
    return (
        ("Lin1", lin(0)),
        ("Lin2", lin(1)),
        ("ReLU1", ReLU(Col("Lin1"))),
        ("ReLU2", ReLU(Col("Lin2"))),
        ("Preds", Col("ReLU1") + Col("ReLU2")),
        ("Loss", Square(Col("Preds") - Col("Survived"))),
    )


LINEAR = Model("linear", (1, 10), True, (
    ("Linear", SumProduct(0)),
    ("Loss", Square(Col("Linear") - Col("Survived"))),
))
NNET = Model("nnet", (2, 10), True, _two_relus(SumProduct))
MMULT = Model("mmult", (10, 2), False, _two_relus(MMult))
MODELS = {m.name: m for m in (LINEAR, NNET, MMULT)}
