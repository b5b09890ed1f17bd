"""Operations that know three things side by side: their spreadsheet formula,
their numpy forward pass and their gradient.

A sheet column is an expression of these operations. Rendering it gives the
cell formula of one row; evaluating it gives the whole column in numpy, with
any leading axes of the parameters broadcast (one per random restart).
`forward` returns the value and a `backward(g, grads)` that adds the gradient
of each column and parameter block into `grads`.
"""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

Backward = Callable[[np.ndarray, dict], None]


class Cells(Protocol):
    """Where things are on the sheet; `layout.SheetLayout` implements it."""

    def cell(self, column: str) -> str: ...
    def column_range(self, column: str) -> str: ...
    def fixed_cell(self, name: str) -> str: ...
    def features_row(self) -> str: ...
    def features_all(self) -> str: ...
    def param_range(self, k: int | None = None) -> str: ...


def _add_grad(grads: dict, name: str, g: np.ndarray) -> None:
    grads[name] = grads[name] + g if name in grads else g


def _nothing(g, grads) -> None:
    pass


def _literal(v) -> str:
    return f'"{v}"' if isinstance(v, str) else repr(v)


class Op:
    def formula(self, at: Cells) -> str:
        raise NotImplementedError

    def forward(self, env: dict) -> tuple[np.ndarray, Backward]:
        raise NotImplementedError

    def value(self, env: dict) -> np.ndarray:
        return self.forward(env)[0]

    def __add__(self, other: Op) -> Op:
        return Add(self, other)

    def __sub__(self, other: Op) -> Op:
        return Sub(self, other)

    def __truediv__(self, other: Op) -> Op:
        return Div(self, other)


class Col(Op):
    """Another column of the same row."""

    def __init__(self, name: str):
        self.name = name

    def formula(self, at):
        return at.cell(self.name)

    def forward(self, env):
        return env[self.name], lambda g, grads: _add_grad(grads, self.name, g)


class Num(Op):
    def __init__(self, v: float):
        self.v = v

    def formula(self, at):
        return _literal(self.v)

    def forward(self, env):
        return np.float64(self.v), _nothing


class Max(Op):
    """The column's maximum, kept in a fixed cell above the column (`$E$1`)."""

    def __init__(self, name: str):
        self.name = name

    def formula(self, at):
        return at.fixed_cell(self.name)

    def forward(self, env):
        return np.max(env[self.name]), _nothing


class Add(Op):
    def __init__(self, a: Op, b: Op):
        self.a, self.b = a, b

    def formula(self, at):
        return f"{self.a.formula(at)}+{self.b.formula(at)}"

    def forward(self, env):
        (a, da), (b, db) = self.a.forward(env), self.b.forward(env)

        def backward(g, grads):
            da(g, grads)
            db(g, grads)
        return a + b, backward


class Sub(Op):
    def __init__(self, a: Op, b: Op):
        self.a, self.b = a, b

    def formula(self, at):
        return f"{self.a.formula(at)}-{self.b.formula(at)}"

    def forward(self, env):
        (a, da), (b, db) = self.a.forward(env), self.b.forward(env)

        def backward(g, grads):
            da(g, grads)
            db(-g, grads)
        return a - b, backward


class Div(Op):
    """Division by a constant of the fit (features only: no gradient)."""

    def __init__(self, a: Op, b: Op):
        self.a, self.b = a, b

    def formula(self, at):
        return f"{self.a.formula(at)}/{self.b.formula(at)}"

    def forward(self, env):
        return self.a.value(env) / self.b.value(env), _nothing


class Square(Op):
    def __init__(self, a: Op):
        self.a = a

    def formula(self, at):
        return f"({self.a.formula(at)})^2"

    def forward(self, env):
        a, da = self.a.forward(env)
        return a * a, lambda g, grads: da(2 * a * g, grads)


class ReLU(Op):
    def __init__(self, a: Op):
        self.a = a

    def formula(self, at):
        x = self.a.formula(at)
        return f"IF({x}<0,0,{x})"

    def forward(self, env):
        a, da = self.a.forward(env)
        return np.where(a < 0, 0.0, a), lambda g, grads: da(g * (a > 0), grads)


class Log10(Op):
    def __init__(self, a: Op):
        self.a = a

    def formula(self, at):
        return f"LOG10({self.a.formula(at)})"

    def forward(self, env):
        return np.log10(self.a.value(env)), _nothing


class Dummy(Op):
    """1 where the column equals `level`, else 0: one dummy variable."""

    def __init__(self, name: str, level):
        self.name, self.level = name, level

    def formula(self, at):
        return f"IF({at.cell(self.name)}={_literal(self.level)},1,0)"

    def forward(self, env):
        return (env[self.name] == self.level).astype(float), _nothing


class SumProduct(Op):
    """The features of the row times unit k's parameters (a row of the block): `X @ W[k]`."""

    def __init__(self, k: int):
        self.k = k

    def unit(self) -> tuple:
        return (..., self.k, slice(None))

    def formula(self, at):
        return f"SUMPRODUCT({at.features_row()},{at.param_range(self.k)})"

    def forward(self, env):
        X, W, unit = env["X"], env["W"], self.unit()

        def backward(g, grads):
            dW = np.zeros_like(W)
            dW[unit] = g @ X
            _add_grad(grads, "W", dW)
        return W[unit] @ X.T, backward


class MMult(SumProduct):
    """Column k of one array formula `MMULT(features, params)`, params a column per unit."""

    def unit(self) -> tuple:
        return (..., slice(None), self.k)

    def formula(self, at):
        return f"MMULT({at.features_all()},{at.param_range()})"


class Average(Op):
    """Mean of a whole column: the loss cell."""

    def __init__(self, name: str):
        self.name = name

    def formula(self, at):
        return f"AVERAGE({at.column_range(self.name)})"

    def forward(self, env):
        x = env[self.name]
        n = x.shape[-1]
        return x.mean(axis=-1), lambda g, grads: _add_grad(
            grads, self.name, np.broadcast_to(np.asarray(g)[..., None] / n, x.shape))


class AverageIf(Op):
    """Mean of a column over the rows whose `Set` is `which` (the train or valid loss)."""

    def __init__(self, name: str, which: str):
        self.name, self.which = name, which

    def formula(self, at):
        return f'AVERAGEIF({at.column_range("Set")},"{self.which}",{at.column_range(self.name)})'

    def forward(self, env):
        x, mask = env[self.name], env["Set"] == self.which
        n = mask.sum()
        return (x * mask).sum(axis=-1) / n, lambda g, grads: _add_grad(
            grads, self.name, np.asarray(g)[..., None] * mask / n)


class Accuracy(Op):
    """Share of the `which` rows whose prediction > 0.5 matches Survived."""

    def __init__(self, prediction: str, which: str):
        self.prediction, self.which = prediction, which

    def formula(self, at):
        s, p, y = at.column_range("Set"), at.column_range(self.prediction), at.column_range("Survived")
        return f'SUMPRODUCT(({s}="{self.which}")*(({p}>0.5)=({y}=1)))/COUNTIF({s},"{self.which}")'

    def forward(self, env):
        mask = env["Set"] == self.which
        right = (env[self.prediction] > 0.5) == (env["Survived"] == 1)
        return (right * mask).sum(axis=-1) / mask.sum(), _nothing
