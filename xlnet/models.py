"""The three model sheets as columns of ops: the prediction, the per-row loss and the mean loss.

`Model.loss_and_grad` runs the very ops whose formulas the workbook holds, so the
numpy loss and the sheet's loss cell are one definition.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .formula import Accuracy, Average, AverageIf, Col, MMult, Op, ReLU, Square, SumProduct


@dataclass(frozen=True)
class Model:
    name: str
    param_shape: tuple[int, int]  # as laid out on the sheet
    units_in_rows: bool           # True: a row of parameters per unit; False: a column per unit
    columns: tuple[tuple[str, Op], ...]
    prediction: str
    loss: Op = Average("Loss")

    def metrics(self, split: bool) -> dict[str, Op]:
        """The summary cells: the loss Solver minimises and, with a validation set, the rest."""
        if not split:
            return {"train_loss": self.loss}
        return {"train_loss": AverageIf("Loss", "train"), "valid_loss": AverageIf("Loss", "valid"),
                "train_accuracy": Accuracy(self.prediction, "train"),
                "valid_accuracy": Accuracy(self.prediction, "valid")}

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def evaluate(self, X: np.ndarray, y: np.ndarray, W: np.ndarray, sets: np.ndarray | None = None) -> dict:
        """Every model column, the loss and the metrics, as the sheet computes them."""
        env = {"X": X, "W": W, "Survived": y, "Set": sets}
        for name, op in self.columns:
            env[name] = op.value(env)
        env.update({name: op.value(env) for name, op in self.metrics(sets is not None).items()})
        env["loss"] = env["train_loss"]
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
), "Linear")
NNET = Model("nnet", (2, 10), True, _two_relus(SumProduct), "Preds")
MMULT = Model("mmult", (10, 2), False, _two_relus(MMult), "Preds")
MODELS = {m.name: m for m in (LINEAR, NNET, MMULT)}
