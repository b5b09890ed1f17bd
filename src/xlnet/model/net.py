"""The model sheets as nets: a list of layers, each a few columns of ops and a parameter block; the loss with its
gradient.

`layer_units = [n_features] + hidden + [1]`: `linear` has no hidden layer (one SUMPRODUCT per row); `nnet` a
SUMPRODUCT per hidden unit, ReLUs, and an output layer; `mmult` the same net with each hidden layer as one MMULT
array formula. The output layer is data of the spec: `Output` (weights and a bias) or the lesson's `Sum` of the
hidden units. `Model.loss_and_grad` runs the very ops whose formulas the sheet holds, so numpy's loss and the
sheet's are one definition.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xlnet.model.ops import (Accuracy, Average, AverageIf, Col, Dense, LogLoss, MMult, Objective, Op, ReLU, RSquared,
                      Sigmoid, Square, Summary, SumProduct)
from xlnet.model.spec import Spec

SHEETS = ("linear", "nnet", "mmult")


@dataclass(frozen=True)
class Block:
    """A rectangle of parameter cells, with the labels beside it."""
    name: str
    shape: tuple[int, int]
    col_labels: tuple[str, ...] = ()  # above the block
    row_labels: tuple[str, ...] = ()  # left of the block

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]


@dataclass(frozen=True)
class Model:
    name: str
    blocks: tuple[Block, ...]
    columns: tuple[tuple[str, Op], ...]
    prediction: str
    target: str
    task: str = "binary"
    score_always: bool = True  # a score cell without a validation set too
    decay: bool = False        # a weight decay cell, and an objective cell (loss + decay * sum of squares)
    depth: int = 0             # hidden layers

    @property
    def convex(self) -> bool:
        """One basin (no hidden layer: a linear model under squared error or log-loss): one start is enough."""
        return self.depth == 0

    @property
    def n_params(self) -> int:
        return sum(b.size for b in self.blocks)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def unpack(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """The blocks, each (..., *shape), from parameter vectors (..., n_params) (scikit-learn's _unpack)."""
        out, i = {}, 0
        for b in self.blocks:
            out[b.name] = theta[..., i:i + b.size].reshape(*theta.shape[:-1], *b.shape)
            i += b.size
        return out

    def pack(self, blocks: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([blocks[b.name].reshape(*blocks[b.name].shape[:-2], -1) for b in self.blocks], -1)

    def metrics(self, split: bool) -> dict[str, Op]:
        """The summary cells: the loss and a score of each set, and the objective Solver minimises."""
        score = Accuracy if self.task == "binary" else RSquared
        key = "accuracy" if self.task == "binary" else "r2"
        if not split:
            out = {"train_loss": Average("Loss"),
                   **({f"train_{key}": score(self.prediction, self.target)} if self.score_always else {})}
        else:
            out = {"train_loss": AverageIf("Loss", "train"), "valid_loss": AverageIf("Loss", "valid"),
                   f"train_{key}": score(self.prediction, self.target, "train"),
                   f"valid_{key}": score(self.prediction, self.target, "valid")}
        if self.decay:
            out["objective"] = Objective(tuple(b.name for b in self.blocks))
        return out

    def evaluate(self, X: np.ndarray, y: np.ndarray, theta: np.ndarray, sets: np.ndarray | None = None,
                 weight_decay: float = 0.0) -> dict:
        """Every model column, the loss and the metrics, as the sheet computes them."""
        env = self.column_values(X, y, theta, sets, weight_decay)
        for name, op in self.metrics(sets is not None).items():  # in order: the objective adds to the loss
            env[name] = op.value(env)
        env["loss"] = env["train_loss"]
        return env

    def column_values(self, X: np.ndarray, y: np.ndarray, theta: np.ndarray, sets: np.ndarray | None = None,
                      weight_decay: float = 0.0) -> dict:
        """Every model column of these rows."""
        env = {"X": X, self.target: y, "Set": sets, "weight_decay": weight_decay, **self.unpack(theta)}
        for name, op in self.columns:
            env[name] = op.value(env)
        return env

    def predict(self, X: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """The prediction column for rows whose target is not known: the columns up to it, no loss, no metrics."""
        env = {"X": X, self.target: np.zeros(len(X)), **self.unpack(theta)}
        for name, op in self.columns:
            env[name] = op.value(env)
            if name == self.prediction:
                return env[name]
        raise KeyError(self.prediction)

    def loss_and_grad(self, X: np.ndarray, y: np.ndarray, theta: np.ndarray,
                      weight_decay: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """The objective over the rows (the mean loss, plus the weight decay's penalty) and its gradient, for
        parameters (..., n_params): one value per leading index."""
        blocks = self.unpack(theta)
        env = {"X": X, self.target: y, "weight_decay": weight_decay, **blocks}
        backwards = []
        for name, op in self.columns:
            env[name], backward = op.forward(env)
            backwards.append((name, backward))
        env["train_loss"], mean_backward = Average("Loss").forward(env)
        grads: dict = {}
        if weight_decay:
            loss, backward = Objective(tuple(blocks)).forward(env)
            backward(np.ones_like(loss), grads)
            mean_backward(grads.pop("train_loss"), grads)
        else:
            loss = env["train_loss"]
            mean_backward(np.ones_like(loss), grads)
        for name, backward in reversed(backwards):
            if name in grads:
                backward(grads.pop(name), grads)
        return loss, self.pack({b: grads.get(b, np.zeros_like(blocks[b])) for b in blocks})


class Scores:
    """A model sheet's summary cells over rows that come a chunk at a time (`add`), as `Model.evaluate` gives
    them for all the rows at once."""

    def __init__(self, model: Model, theta: np.ndarray, weight_decay: float, split: bool):
        self.model, self.theta, self.weight_decay = model, theta, weight_decay
        self.metrics = model.metrics(split)
        self.parts: dict[str, tuple] = {}

    def add(self, X: np.ndarray, y: np.ndarray, sets: np.ndarray | None) -> None:
        env = self.model.column_values(X, y, self.theta, sets)
        for name, op in self.metrics.items():
            if isinstance(op, Summary):
                p = op.parts(env)
                self.parts[name] = op.merge(self.parts[name], p) if name in self.parts else p

    def values(self) -> dict[str, float]:
        env = {"weight_decay": self.weight_decay, **self.model.unpack(self.theta)}
        for name, op in self.metrics.items():  # in order: the objective adds to the loss
            env[name] = op.of_parts(self.parts[name]) if name in self.parts else op.value(env)
        return {name: float(env[name]) for name in self.metrics}


def solver_target(metrics: dict[str, float]) -> float:
    """What a sheet's Solver cell minimises, from its summary figures: the objective where the sheet has weight
    decay, else the training loss."""
    return metrics.get("objective", metrics["train_loss"])


def _tail(spec: Spec, z: str) -> tuple[tuple[tuple[str, Op], ...], str]:
    """The loss column (and a probability column for log-loss) after the output `z`; returns the prediction."""
    y = Col(spec.target)
    if spec.loss == "logloss":
        return (("Prob", Sigmoid(Col(z))), ("Loss", LogLoss(Col(z), y))), "Prob"
    return (("Loss", Square(Col(z) - y)),), z


Columns = tuple[tuple[str, Op], ...]


@dataclass(frozen=True)
class Hidden:
    """A hidden layer over the features: a linear column per unit, then its ReLU. `array`: the units' linear
    columns are one MMULT array formula (the block a column per unit); else a SUMPRODUCT per unit and row (the
    block a row per unit). The features' Ones column gives each unit its bias."""
    units: int
    array: bool = False

    def build(self, features: tuple[str, ...], block: str = "W") -> tuple[tuple[Block, ...], Columns, tuple[str, ...]]:
        H, F = self.units, len(features)
        lin = tuple(f"Lin{k + 1}" for k in range(H))
        relu = tuple(f"ReLU{k + 1}" for k in range(H))
        if self.array:
            W, unit = Block(block, (F, H), tuple(f"Param{k + 1}" for k in range(H)), features), MMult
        else:
            W, unit = Block(block, (H, F), features), SumProduct
        columns = tuple((lin[k], unit(k, block)) for k in range(H)) + tuple((relu[k], ReLU(Col(lin[k])))
                                                                            for k in range(H))
        return (W,), columns, relu


@dataclass(frozen=True)
class Output:
    """The output unit: weights and a bias over the columns before it (`array`: one MMULT array formula, the
    weights a column), or over the features (the linear sheet: one SUMPRODUCT, Ones giving the bias)."""
    array: bool = False

    def build(self, inputs: tuple[str, ...], name: str, over_features: bool) -> tuple[tuple[Block, ...], Columns]:
        if over_features:
            return (Block("W", (1, len(inputs)), inputs),), ((name, SumProduct(0)),)
        labels = inputs + ("bias",)
        V = Block("V", (len(labels), 1), ("Output",), labels) if self.array else Block("V", (1, len(labels)), labels)
        return (V,), ((name, Dense(inputs, "V", array=self.array)),)


@dataclass(frozen=True)
class Sum:
    """The lesson's output: the columns before it added, with no parameters."""

    def build(self, inputs: tuple[str, ...], name: str, over_features: bool) -> tuple[tuple[Block, ...], Columns]:
        total = Col(inputs[0])
        for column in inputs[1:]:
            total = total + Col(column)
        return (), ((name, total),)


def layers(sheet: str, spec: Spec) -> tuple[list[Hidden], Output | Sum]:
    """A sheet's net: `linear` none hidden, `nnet` and `mmult` the spec's (mmult's as array formulas); the output
    layer the spec's."""
    if sheet == "linear":
        return [], Output()
    array = sheet == "mmult"
    return [Hidden(spec.hidden, array)], Sum() if spec.output == "sum" else Output(array)


def build_model(sheet: str, spec: Spec, feature_names: tuple[str, ...]) -> Model:
    """A model sheet's columns and parameter blocks, layer by layer: `layer_units = [n_features] + hidden + [1]`."""
    hidden, output = layers(sheet, spec)
    blocks: tuple[Block, ...] = ()
    columns: Columns = ()
    inputs = tuple(feature_names)
    for layer in hidden:
        b, c, inputs = layer.build(inputs)
        blocks, columns = blocks + b, columns + c
    z = "Linear" if not hidden else "Out" if spec.loss == "logloss" else "Preds"
    b, c = output.build(inputs, z, over_features=not hidden)
    tail, prediction = _tail(spec, z)
    return Model(sheet, blocks + b, columns + c + tail, prediction, spec.target, spec.task, spec.scores_without_split,
                 spec.weight_decay is not None, depth=len(hidden))


def build_models(spec: Spec, feature_names: tuple[str, ...]) -> dict[str, Model]:
    """The three model sheets of a spec."""
    return {sheet: build_model(sheet, spec, feature_names) for sheet in SHEETS}


def starting_params(models: dict[str, Model], seed: int | None) -> dict[str, np.ndarray]:
    """The lesson's RAND()-0.5 for every parameter, reproducible from one seed."""
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-0.5, 0.5, m.n_params) for name, m in models.items()}
