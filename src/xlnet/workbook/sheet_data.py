"""What one model sheet holds, read back from a workbook: its rows, features, parameters and summary figures."""
from __future__ import annotations

import functools
from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from xlnet.model.features import feature_matrix
from xlnet.model.net import Model, solver_target
from xlnet.model.spec import Spec
from xlnet.workbook.layout import SheetLayout

DECAY = "weight decay"  # a sheet's decay cell, as history records it after the parameters


@dataclass
class SheetData:
    """What one model sheet holds: its value columns, features, and parameters."""
    name: str
    spec: Spec
    model: Model
    env: dict
    W: np.ndarray            # the parameter vector, in the model's order
    layout: SheetLayout
    weight_decay: float = 0.0  # the sheet's weight decay cell (0 where it has none)
    _metrics: dict = field(default_factory=dict, repr=False, compare=False)  # (W, decay) -> metrics: see metrics
    _figures: dict = field(default_factory=dict, repr=False, compare=False)  # what the rows show: see figure

    @property
    def sets(self) -> np.ndarray | None:
        return self.env["Set"] if self.layout.split else None

    @functools.cached_property
    def X(self) -> np.ndarray:
        return feature_matrix(self.spec, self.env)

    @functools.cached_property
    def y(self) -> np.ndarray:
        """The target as numbers (a class's number, for classes)."""
        return self.spec.codes(self.env[self.spec.target])

    def metrics(self, W: np.ndarray | None = None, weight_decay: float | None = None) -> dict[str, float]:
        """The summary cells: the training loss and score, with a validation set the validation ones, and the
        objective (at the sheet's weight decay unless another is given)."""
        decay = self.weight_decay if weight_decay is None else weight_decay
        W = self.W if W is None else np.asarray(W, float)
        key = (W.tobytes(), float(decay))  # a fit asks again for the same W: a pass over every row each time
        if key not in self._metrics:
            env = self.model.evaluate(self.X, self.y, W, self.sets, decay)
            self._metrics[key] = {name: float(env[name]) for name in self.model.metrics(self.sets is not None)}
        return dict(self._metrics[key])

    def valid_loss(self, W: np.ndarray) -> float:
        """The validation loss alone, computed on the validation rows alone (a fifth of metrics' work)."""
        valid = ~self.train_rows()
        return float(self.model.column_values(self.X[valid], self.y[valid], W)["Loss"].mean())

    def loss(self, W: np.ndarray | None = None) -> float:
        return self.metrics(W)["train_loss"]

    def objective(self, W: np.ndarray | None = None) -> float:
        """What the sheet's Solver cell minimises: the training loss, plus the decay's penalty where it has one."""
        return solver_target(self.metrics(W))

    def settable_cells(self, W: np.ndarray, weight_decay: float) -> dict[tuple[int, int], float]:
        """(column, row) -> value of the cells a fit or a restore writes: the parameters, and the decay cell."""
        cells = dict(zip(self.layout.param_cells(), map(float, W)))
        if self.layout.decay_cell_at:
            cells[self.layout.decay_cell_at] = float(weight_decay)
        return cells

    def recorded(self, W: np.ndarray, weight_decay: float) -> tuple[list[str], np.ndarray]:
        """The names and values a history row records: the parameters, and the decay after them."""
        if not self.model.decay:
            return self.layout.param_names(), np.asarray(W, float)
        return self.layout.param_names() + [DECAY], np.append(W, weight_decay)

    def train_rows(self) -> np.ndarray:
        return np.ones(len(self.y), bool) if self.sets is None else self.sets == "train"

    def train_data(self, train: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """X and y of the rows a fit learns from (`train`: train_rows, where the caller has it already)."""
        train = self.train_rows() if train is None else train
        return self.X[train], self.y[train]

    # What the rows show, besides the metrics: each computed once, or known without the rows where the workbook
    # records it (workbook.summary).
    def remember(self, metrics: dict[str, float], figures: dict) -> None:
        """Figures known without the rows (a summary the workbook records): the metrics of the sheet's own
        parameters and decay, and other figures by name."""
        self._metrics[(np.asarray(self.W, float).tobytes(), float(self.weight_decay))] = dict(metrics)
        self._figures.update(figures)

    def figure(self, name: str | tuple, compute: Callable[[], object]):
        if name not in self._figures:
            self._figures[name] = compute()
        return self._figures[name]

    def statistics(self) -> dict[str, float]:
        """The statistic cells above the feature columns (a MAX, for instance): column -> value."""
        return self.figure("statistics", lambda: {column: float(op.b.value(self.env))
                                                  for column, op in self.layout.statistics.items()})

    def levels_seen(self) -> dict[str, list]:
        """Each categorical feature's levels in the training rows, as they are held there."""
        def levels() -> dict[str, list]:
            train = self.train_rows()
            return {c.name: sorted(set(self.env[c.name][train].tolist()), key=repr) for c in self.spec.features
                    if c.kind == "categorical" and c.name in self.env}
        return self.figure("levels", levels)

    def modes(self) -> dict[str, object]:
        """The most frequent value in the training rows of each feature whose spec keeps no fill value (a
        workbook of xlnet 0.1), the lowest of equals: their fill for new rows."""
        def modes() -> dict[str, object]:
            train, out = self.train_rows(), {}
            for c in self.spec.features:
                if c.fill is None and not c.is_derived and c.name in self.env:
                    counts = Counter(self.env[c.name][train].tolist())
                    top = max(counts.values())
                    out[c.name] = sorted(k for k, m in counts.items() if m == top)[0]
            return out
        return self.figure("modes", modes)

    def optimum(self, weight_decay: float | None = None) -> float | None:
        """The objective's minimum for a convex model under squared error (ridge regression, at the sheet's weight
        decay unless another is given); none otherwise."""
        if not self.model.convex or self.spec.loss != "mse":
            return None
        decay = self.weight_decay if weight_decay is None else float(weight_decay)

        def least_squares() -> float:
            X, y = self.train_data()
            if decay:
                w = np.linalg.solve(X.T @ X / len(y) + decay * np.eye(X.shape[1]), X.T @ y / len(y))
            else:
                w, *_ = np.linalg.lstsq(X, y, rcond=None)
            return float(np.mean((X @ w - y) ** 2) + decay * w @ w)
        return self.figure(("optimum", decay), least_squares)


class RowsOnDemand(MutableMapping):
    """A sheet's value columns, read from the workbook the first time any is asked for: a sheet whose figures the
    workbook records beside its seam is read without its rows until something needs them (reading.read_each)."""

    def __init__(self, load: Callable[[], dict]):
        self._load, self._env = load, None

    @property
    def loaded(self) -> bool:
        return self._env is not None

    def _rows(self) -> dict:
        if self._env is None:
            self._env = self._load()
        return self._env

    def __getitem__(self, key):
        return self._rows()[key]

    def __setitem__(self, key, value) -> None:
        self._rows()[key] = value

    def __delitem__(self, key) -> None:
        del self._rows()[key]

    def __iter__(self):
        return iter(self._rows())

    def __len__(self) -> int:
        return len(self._rows())
