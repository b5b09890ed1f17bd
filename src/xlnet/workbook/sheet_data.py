"""What one model sheet holds, read back from a workbook: its rows, features, parameters and summary figures."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

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

    @property
    def sets(self) -> np.ndarray | None:
        return self.env.get("Set")

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
