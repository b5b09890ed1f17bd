"""The model sheets as nets: a list of layers, each a few columns of ops and a parameter block; the loss with its
gradient.

`layer_units = [n_features] + hidden + [1]`: `linear` has no hidden layer (one SUMPRODUCT per row); `nnet` a
SUMPRODUCT per hidden unit, ReLUs, and an output layer; `mmult` the same net with each hidden layer as one MMULT
array formula. The output layer is data of the spec: `Output` (weights and a bias) or the lesson's `Sum` of the
hidden units. `Model.loss_and_grad` runs the very ops whose formulas the sheet holds, so numpy's loss and the
sheet's are one definition.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from xlnet.model.ops import (BACKWARDS, DIFFERENTIABLE, Accuracy, Argmax, Average, AverageIf, ClassAccuracy,
                            ClassIs, Col, Dense, Exp, LogLoss, MMult, Objective, Op, ReLU, RowMax, RowSum, RSquared,
                            Sigmoid, SoftmaxLoss, Square, Summary, SumProduct)
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
    probabilities: tuple[str, ...] = ()  # a multi-class sheet's probability columns, a class each
    target_columns: tuple[str, ...] = ("Loss",)  # the columns that need the target (no use for new rows)
    shown: tuple[str, ...] = ()  # columns the sheet shows that the loss does not read: a fit skips them
    array: bool = False          # the blocks a column per unit (MMULT), not a row per unit

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

    @functools.cached_property
    def _computed(self) -> frozenset[str]:
        """The columns the model computes: a gradient flows into them, never into the data."""
        return frozenset(self.column_names)

    def same_net(self, other: Model) -> bool:
        """Whether `other` computes this net's function of the same parameters, its blocks perhaps the other way
        round (nnet and mmult: a row per unit, or a column): then one fit serves both."""
        shapes = [b.shape if self.array == other.array else b.shape[::-1] for b in other.blocks]
        return self.depth > 0 and shapes == [b.shape for b in self.blocks] and \
            (self.depth, self.task, self.target, self.decay, self.column_names, self.prediction) == \
            (other.depth, other.task, other.target, other.decay, other.column_names, other.prediction)

    def params_from(self, other: Model, theta: np.ndarray) -> np.ndarray:
        """The parameters `theta` of `other`, a same_net, in this model's order."""
        blocks = other.unpack(theta)
        turned = self.array != other.array
        return self.pack({b.name: np.swapaxes(blocks[o.name], -1, -2) if turned else blocks[o.name]
                          for b, o in zip(self.blocks, other.blocks)})

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
        score = {"binary": Accuracy, "multiclass": ClassAccuracy}.get(self.task, RSquared)
        key = "r2" if self.task == "continuous" else "accuracy"
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
        """The prediction column for rows whose target is not known (a class number, for classes)."""
        return self.predict_columns(X, theta)[self.prediction]

    def predict_proba(self, X: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """A multi-class sheet's probabilities, (rows, classes)."""
        env = self.predict_columns(X, theta)
        return np.column_stack([env[name] for name in self.probabilities])

    def predict_columns(self, X: np.ndarray, theta: np.ndarray) -> dict:
        """The columns up to the prediction, for rows whose target is not known: no loss, no metrics."""
        env = {"X": X, self.target: np.zeros(len(X)), **self.unpack(theta)}
        for name, op in self.columns:
            env[name] = op.value(env)
            if name == self.prediction:
                return env
        raise KeyError(self.prediction)

    def loss_and_grad(self, X: np.ndarray, y: np.ndarray, theta: np.ndarray,
                      weight_decay: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """The objective over the rows (the mean loss, plus the weight decay's penalty) and its gradient, for
        parameters (..., n_params): one value per leading index."""
        blocks = self.unpack(theta)
        env = {"X": X, self.target: y, "weight_decay": weight_decay, **blocks,
               DIFFERENTIABLE: self._computed, BACKWARDS: {}}
        backwards = []
        for name, op in self.columns:
            if name in self.shown:
                continue
            env[name], backward = op.forward(env)
            env[BACKWARDS][name] = backward
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
        env.clear()  # the backwards refer to it: without this, each call's arrays would wait for the cycle collector
        return loss, self.pack({b: grads[b] if b in grads else np.zeros_like(blocks[b]) for b in blocks})


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


def _tail(spec: Spec, z: tuple[str, ...]) -> tuple[Columns, str, tuple[str, ...]]:
    """What follows the output units `z`: the loss column, with a probability column for log-loss, or for classes
    a softmax shown step by step (the row's largest logit, EXP of each logit less it, their sum, each class's
    probability), the predicted class, the target one-hot, and the cross-entropy. Returns the columns, the
    prediction and the probability columns."""
    y = Col(spec.target)
    if spec.task == "multiclass":  # the loss reads only the outputs and the one-hot target
        levels = spec.classes
        e, p, onehot = (tuple(f"{kind} {level}" for level in levels) for kind in ("E", "P", "Y"))
        columns = ((("Max", RowMax(z)),) + tuple((e[k], Exp(Col(z[k]) - Col("Max"))) for k in range(len(z)))
                   + (("Sum", RowSum(e)),) + tuple((p[k], Col(e[k]) / Col("Sum")) for k in range(len(z)))
                   + (("Class", Argmax(p)),)
                   + tuple((onehot[k], ClassIs(spec.target, k, level)) for k, level in enumerate(levels))
                   + (("Loss", SoftmaxLoss(z, onehot, "Max", "Sum")),))
        return columns, "Class", p
    if spec.loss == "logloss":
        return (("Prob", Sigmoid(Col(z[0]))), ("Loss", LogLoss(Col(z[0]), y))), "Prob", ()
    return (("Loss", Square(Col(z[0]) - y)),), z[0], ()


Columns = tuple[tuple[str, Op], ...]


@dataclass(frozen=True)
class Hidden:
    """A hidden layer of ReLU units: a linear column per unit, then its ReLU. `array`: the layer's linear columns
    are one MMULT array formula (the block a column per unit); else a SUMPRODUCT per unit and row (the block a row
    per unit). The first layer takes the features, whose Ones column gives each unit its bias; a later one the
    ReLUs before it, and its block holds the biases (see ops.Dense)."""
    units: int
    array: bool = False

    def build(self, inputs: tuple[str, ...], layer: int = 1) -> tuple[tuple[Block, ...], Columns, tuple[str, ...]]:
        H, n = self.units, len(inputs)
        prefix = "" if layer == 1 else f"L{layer} "
        lin = tuple(f"{prefix}Lin{k + 1}" for k in range(H))
        relu = tuple(f"{prefix}ReLU{k + 1}" for k in range(H))
        block = "W" if layer == 1 else f"W{layer}"
        if layer == 1:
            W = Block(block, (n, H), tuple(f"Param{k + 1}" for k in range(H)), inputs) if self.array else \
                Block(block, (H, n), inputs)
            units = tuple((lin[k], (MMult if self.array else SumProduct)(k, block)) for k in range(H))
        else:
            W = _dense_block(block, inputs, lin, self.array)
            units = tuple((lin[k], Dense(inputs, block, self.array, k, H)) for k in range(H))
        return (W,), units + tuple((relu[k], ReLU(Col(lin[k]))) for k in range(H)), relu


def _dense_block(name: str, inputs: tuple[str, ...], units: tuple[str, ...], array: bool) -> Block:
    """The block of a Dense layer: a row per unit (weights, then the bias), or with `array` a column per unit."""
    labels = inputs + ("bias",)
    if array:
        return Block(name, (len(labels), len(units)), units, labels)
    return Block(name, (len(units), len(labels)), labels, units)


@dataclass(frozen=True)
class Output:
    """The output units, a class each (one for a number or a binary target): weights and a bias over the columns
    before them (`array`: one MMULT array formula, the weights a column per unit), or over the features (the
    linear sheet: a SUMPRODUCT per unit, Ones giving the bias)."""
    array: bool = False

    def build(self, inputs: tuple[str, ...], names: tuple[str, ...], over_features: bool
              ) -> tuple[tuple[Block, ...], Columns]:
        K = len(names)
        if over_features:
            W = Block("W", (K, len(inputs)), inputs, names if K > 1 else ())
            return (W,), tuple((names[k], SumProduct(k)) for k in range(K))
        if K == 1:  # one unit: its block labelled as a single row or column
            labels = inputs + ("bias",)
            V = Block("V", (len(labels), 1), ("Output",), labels) if self.array else Block("V", (1, len(labels)),
                                                                                            labels)
        else:
            V = _dense_block("V", inputs, names, self.array)
        return (V,), tuple((names[k], Dense(inputs, "V", array=self.array, k=k, units=K)) for k in range(K))


@dataclass(frozen=True)
class Sum:
    """The lesson's output: the columns before it added, with no parameters."""

    def build(self, inputs: tuple[str, ...], names: tuple[str, ...], over_features: bool
              ) -> tuple[tuple[Block, ...], Columns]:
        total = Col(inputs[0])
        for column in inputs[1:]:
            total = total + Col(column)
        return (), ((names[0], total),)


def layers(sheet: str, spec: Spec) -> tuple[list[Hidden], Output | Sum]:
    """A sheet's net: `linear` none hidden, `nnet` and `mmult` the spec's (mmult's as array formulas); the output
    layer the spec's."""
    if sheet == "linear":
        return [], Output()
    array = sheet == "mmult"
    return [Hidden(units, array) for units in spec.layers], Sum() if spec.output == "sum" else Output(array)


def build_model(sheet: str, spec: Spec, feature_names: tuple[str, ...]) -> Model:
    """A model sheet's columns and parameter blocks, layer by layer: `layer_units = [n_features] + hidden +
    [n_outputs]`, an output unit per class (one for a number or a binary target)."""
    hidden, output = layers(sheet, spec)
    blocks: tuple[Block, ...] = ()
    columns: Columns = ()
    inputs = tuple(feature_names)
    for number, layer in enumerate(hidden, 1):
        b, c, inputs = layer.build(inputs, number)
        blocks, columns = blocks + b, columns + c
    if spec.classes:
        z = tuple(f"Z {level}" for level in spec.classes)
    else:
        z = ("Linear" if not hidden else "Out" if spec.loss == "logloss" else "Preds",)
    b, c = output.build(inputs, z, over_features=not hidden)
    tail, prediction, probabilities = _tail(spec, z)
    target_columns = tuple(name for name, op in tail if isinstance(op, ClassIs)) + ("Loss",)
    shown = tuple(name for name, op in tail if name not in target_columns)
    return Model(sheet, blocks + b, columns + c + tail, prediction, spec.target, spec.task, spec.scores_without_split,
                 spec.weight_decay is not None, len(hidden), probabilities, target_columns, shown,
                 bool(hidden) and hidden[0].array)


def build_models(spec: Spec, feature_names: tuple[str, ...]) -> dict[str, Model]:
    """The three model sheets of a spec."""
    return {sheet: build_model(sheet, spec, feature_names) for sheet in SHEETS}


def starting_params(models: dict[str, Model], seed: int | None) -> dict[str, np.ndarray]:
    """The lesson's RAND()-0.5 for every parameter, reproducible from one seed."""
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-0.5, 0.5, m.n_params) for name, m in models.items()}
