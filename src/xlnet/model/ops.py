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
DIFFERENTIABLE = "differentiable"  # the env's set of columns a gradient flows into (absent: every column)
BACKWARDS = "backwards"            # the env's backward of each computed column, by name (Model.loss_and_grad)
GRADS_SEEN = "grads seen"          # the columns a gradient has reached


class Cells(Protocol):
    """Where things are on the sheet; `layout.SheetLayout` implements it."""

    def cell(self, column: str) -> str: ...
    def column_range(self, column: str) -> str: ...
    def fixed_cell(self, name: str) -> str: ...
    def features_row(self) -> str: ...
    def features_all(self) -> str: ...
    def param_range(self, block: str = "W", k: int | None = None) -> str: ...
    def param_span(self, block: str, start: int, stop: int | None = None) -> str: ...
    def param_rect(self, block: str, r0: int, r1: int, c0: int, c1: int) -> str: ...
    def labels_row(self, names: tuple[str, ...]) -> str: ...
    def columns_row(self, names: tuple[str, ...]) -> str: ...
    def columns_all(self, names: tuple[str, ...]) -> str: ...
    def summary_cell(self, name: str) -> str: ...


def array_runs(columns: tuple[tuple[str, "Op"], ...], at: Cells) -> list[tuple[tuple[str, ...], str]]:
    """The array formulas of these columns: (the columns one fills, its formula text) for each run of consecutive
    array columns with the same formula (an MMULT fills a column per unit)."""
    out: list[tuple[tuple[str, ...], str]] = []
    names: list[str] = []
    text = None
    for name, op in tuple(columns) + ((None, None),):
        this = op.formula(at) if op is not None and getattr(op, "array", False) else None
        if names and this != text:
            out.append((tuple(names), text))
            names = []
        if this is not None:
            names.append(name)
            text = this
    return out


IN_PLACE = object()  # a column's gradient already written into its layer's gathered array (UnitGrad.slot)


def _add_grad(grads: dict, name: str, g: np.ndarray) -> None:
    grads[name] = grads[name] + g if name in grads else g


class ColGrad:
    """The backward of a reference to a column that a layer's unit computes (`backwards`: its backward, by the
    column's name): where that unit gathers its gradient in place (UnitGrad.slot), an op reading the column (a
    ReLU) may write its gradient there, the first to do so, and later ones add to it."""

    def __init__(self, env: dict, name: str):
        self.env, self.name = env, name

    @property
    def slot(self):
        target = self.env.get(BACKWARDS, {}).get(self.name)
        return getattr(target, "slot", None) if self.name not in self.env.get(GRADS_SEEN, ()) else None

    @property
    def unit(self) -> "UnitGrad | None":
        """The backward of the layer's unit that computes the column, where a unit does."""
        target = self.env.get(BACKWARDS, {}).get(self.name)
        return target if isinstance(target, UnitGrad) else None

    def __call__(self, g: np.ndarray | None, grads: dict) -> None:
        self.env.setdefault(GRADS_SEEN, set()).add(self.name)
        if g is None:
            grads[self.name] = IN_PLACE
        elif grads.get(self.name) is IN_PLACE:
            slot = self.env[BACKWARDS][self.name].slot()
            slot += g
        else:
            _add_grad(grads, self.name, g)


def _nothing(g, grads) -> None:
    pass


def literal(v) -> str:
    """A constant as a formula writes it: text in double quotes (a quote inside doubled), a number as itself."""
    return '"' + v.replace('"', '""') + '"' if isinstance(v, str) else repr(v)


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
        wanted = env.get(DIFFERENTIABLE)
        if wanted is not None and self.name not in wanted:  # data (the target): no gradient to compute
            return env[self.name], _nothing
        if wanted is not None:
            return env[self.name], ColGrad(env, self.name)
        return env[self.name], lambda g, grads: _add_grad(grads, self.name, g)


class Num(Op):
    def __init__(self, v: float):
        self.v = v

    def formula(self, at):
        return literal(self.v)

    def forward(self, env):
        return np.float64(self.v), _nothing


class Max(Op):
    """The column's largest value (`how="max"`) or largest absolute value (`"maxabs"`), kept in a fixed cell
    above the column (`$E$1`); the layout writes that cell's formula, `statistic` gives it."""

    def __init__(self, name: str, how: str = "max"):
        self.name, self.how = name, how

    def statistic(self, rng: str) -> str:
        return f"MAX({rng})" if self.how == "max" else f"MAX(MAX({rng}),-MIN({rng}))"

    def formula(self, at):
        return at.fixed_cell(self.name)

    def forward(self, env):
        fixed = env.get(("statistic", self.name))  # new rows use the statistic of the rows built on
        if fixed is not None:
            return np.float64(fixed), _nothing
        x = env[self.name]
        return (np.max(x) if self.how == "max" else np.max(np.abs(x))), _nothing


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
            if db is not _nothing:
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
        return a * a, lambda g, grads: da(a * (2 * np.asarray(g)), grads)  # 2g is small where g is broadcast


class ReLU(Op):
    def __init__(self, a: Op):
        self.a = a

    def formula(self, at):
        x = self.a.formula(at)
        return f"IF({x}<0,0,{x})"

    def forward(self, env):
        a, da = self.a.forward(env)
        unit = getattr(da, "unit", None)  # a unit of a layer: the layer's ReLUs in one pass, this one a part of it
        relu = np.maximum(a, 0.0) if unit is None else unit.of_layer(_relu)

        def backward(g, grads):
            slot = getattr(da, "slot", None)  # a unit of a layer: its share of the layer's gradient, in place
            if slot is None:
                da(g * (a > 0), grads)
            else:
                np.multiply(g, a > 0, out=slot())
                da(None, grads)
        return relu, backward


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


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
        return f"IF({at.cell(self.name)}={literal(self.level)},1,0)"

    def forward(self, env):
        coded = env.get(("coded", self.name))  # the column as its distinct values and each row's number among them
        if coded is not None:
            levels, codes = coded
            return self._is_level(levels)[codes], _nothing
        return self._is_level(env[self.name]), _nothing

    def _is_level(self, x) -> np.ndarray:
        if isinstance(self.level, str):  # a spreadsheet compares text without regard to case
            level = self.level.lower()
            x = x.tolist() if isinstance(x, np.ndarray) else x  # one object per cell, looked up below as itself
            is_level = {v: float(isinstance(v, str) and v.lower() == level) for v in set(x)}  # each distinct once
            return np.fromiter(map(is_level.__getitem__, x), float, len(x))
        return (np.asarray(x) == self.level).astype(float)


class SumProduct(Op):
    """The features of the row times unit k's parameters (a row of the block): `X @ W[k]`.

    The units of one block are computed together, `W @ X.T` in one product, and so is their gradient:
    each unit's backward leaves its part, and the last one in takes the product.
    """

    def __init__(self, k: int, block: str = "W"):
        self.k, self.block = k, block

    def units_first(self, W: np.ndarray) -> np.ndarray:
        """The block as (..., units, features)."""
        return W

    def formula(self, at):
        return f"SUMPRODUCT({at.features_row()},{at.param_range(self.block, self.k)})"

    def forward(self, env):
        X, W = env["X"], env[self.block]
        key = (type(self).__name__, self.block)
        if key not in env:
            env[key] = _rows_product(_front(self.units_first(W)), X.T)  # (units, ..., rows)
        Z = env[key]

        def finish(G, grads):
            _add_grad(grads, self.block, self.units_first(_back(_rows_product(G, X))))
        return Z[self.k], UnitGrad(env, key, Z.shape, self.k, finish)


class UnitGrad:
    """Unit k's backward, in a layer whose units' gradients are gathered into one array (units, ..., rows) and
    taken on together, once the last has come. `slot()` is unit k's part of that array: an op before it (a ReLU)
    writes its gradient there, rather than handing over an array to be copied in. The units come first, so that
    each unit's values and gradient are contiguous: elementwise ops on a unit then run at full speed (on 712
    rows and 96 restarts a ReLU's backward took 1.8 times as long on a unit strided through the layer)."""

    def __init__(self, env: dict, key: tuple, shape: tuple[int, ...], k: int,
                 finish: Callable[[np.ndarray, dict], None]):
        self.env, self.key, self.shape, self.k, self.finish = env, key, shape, k, finish

    def _gathered(self) -> np.ndarray:
        G = self.env.get(self.key + ("G",))
        if G is None:
            G = self.env[self.key + ("G",)] = np.empty(self.shape)
        return G

    def slot(self) -> np.ndarray:
        return self._gathered()[self.k]

    def of_layer(self, f: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Unit k's part of f(the layer's values), f taken once for the whole layer (units, ..., rows): the parts
        of one result, a layer that reads them takes them whole (_stacked)."""
        key = self.key + (f,)
        if key not in self.env:
            self.env[key] = f(self.env[self.key])
        return self.env[key][self.k]

    def __call__(self, g: np.ndarray | None, grads: dict) -> None:
        """Unit k's gradient `g` (IN_PLACE or None: already in its slot)."""
        if g is not None and g is not IN_PLACE:
            self._gathered()[self.k] = g
        done = self.env.setdefault(self.key + ("done",), set())
        done.add(self.k)
        if len(done) == self.shape[0]:
            self.finish(self._gathered(), grads)


def _front(A: np.ndarray) -> np.ndarray:
    """(..., units, x) as (units, ..., x), a view (as np.moveaxis gives, at a tenth of its cost)."""
    return A.transpose(A.ndim - 2, *range(A.ndim - 2), A.ndim - 1)


def _back(A: np.ndarray) -> np.ndarray:
    """(units, ..., x) as (..., units, x), a view."""
    return A.transpose(*range(1, A.ndim - 1), 0, A.ndim - 1)


def _rows_product(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A @ B for a stack A (..., m, k) and one matrix B (k, n), as one BLAS product rather than one per restart
    (2-4x faster on long columns)."""
    out = np.reshape(A, (-1, A.shape[-1])) @ B
    return out.reshape(*A.shape[:-1], B.shape[-1])


class MMult(SumProduct):
    """Column k of one array formula `MMULT(features, params)`, params a column per unit."""

    array = True

    def units_first(self, W: np.ndarray) -> np.ndarray:
        return W.swapaxes(-1, -2)

    def formula(self, at):
        return f"MMULT({at.features_all()},{at.param_range(self.block)})"


class Dense(Op):
    """Unit k of a layer over the columns before it: those columns times the unit's weights, plus its bias.

    The block holds a row per unit, its weights then its bias, and a row's formula is
    `SUMPRODUCT(inputs, weights)+bias`; `array=True` writes the whole layer as one array formula over all rows,
    `MMULT(inputs, weights)+biases`, the block a column per unit with the biases as its last row. The units of one
    block are computed together, and their gradient too, as SumProduct's are.
    """

    def __init__(self, inputs: tuple[str, ...], block: str = "V", array: bool = False, k: int = 0, units: int = 1):
        self.inputs, self.block, self.array, self.k, self.units = inputs, block, array, k, units

    def formula(self, at):
        n = len(self.inputs)
        if self.array:
            weights, bias = at.param_rect(self.block, 0, n, 0, self.units), at.param_rect(self.block, n, n + 1, 0,
                                                                                          self.units)
            return f"MMULT({at.columns_all(self.inputs)},{weights})+{bias}"
        k = self.k
        weights, bias = at.param_rect(self.block, k, k + 1, 0, n), at.param_rect(self.block, k, k + 1, n, n + 1)
        return f"SUMPRODUCT({at.columns_row(self.inputs)},{weights})+{bias}"

    def units_first(self, W: np.ndarray) -> np.ndarray:
        """The block as (..., units, inputs + 1)."""
        return W.swapaxes(-1, -2) if self.array else W

    def forward(self, env):
        key = ("Dense", self.block)
        U = self.units_first(env[self.block])  # (..., units, inputs + 1)
        n = len(self.inputs)
        if key not in env:
            H = env[key + ("H",)] = _stacked(env, self.inputs)  # (inputs, ..., rows)
            Z = np.empty((U.shape[-2],) + H.shape[1:])
            np.matmul(U[..., :n], _back(H), out=_back(Z))
            Z += _front(U[..., n:])
            env[key] = Z  # (units, ..., rows)
        Z, H = env[key], env[key + ("H",)]

        def finish(G, grads):
            G_ = _back(G)  # (..., units, rows)
            dU = np.concatenate([G_ @ H.transpose(*range(1, H.ndim), 0), G_.sum(axis=-1, keepdims=True)], -1)
            _add_grad(grads, self.block, self.units_first(dU))
            dH = np.empty(H.shape)
            np.matmul(U[..., :n].swapaxes(-1, -2), G_, out=_back(dH))
            for j, name in enumerate(self.inputs):
                _add_grad(grads, name, dH[j])
        return Z[self.k], UnitGrad(env, key, Z.shape, self.k, finish)


def _stacked(env: dict, names: tuple[str, ...]) -> np.ndarray:
    """Columns of the same rows, each broadcast to the shape of all, as one array (len(names), ..., rows): where
    they are the parts of one such array, in order (a layer's units), that array itself, not a copy."""
    columns = [env[name] for name in names]
    base = getattr(columns[0], "base", None)
    if isinstance(base, np.ndarray) and base.ndim == columns[0].ndim + 1 and base.shape[0] == len(columns) \
            and all(c.base is base and c.shape == base.shape[1:] and c.strides == base.strides[1:]
                    and c.ctypes.data == base.ctypes.data + k * base.strides[0] for k, c in enumerate(columns)):
        return base
    return np.stack(np.broadcast_arrays(*columns))


class Sigmoid(Op):
    """1/(1+e^-z), in the form that cannot overflow in either the sheet or numpy."""

    def __init__(self, a: Op):
        self.a = a

    def formula(self, at):
        z = self.a.formula(at)
        return f"IF({z}>=0,1/(1+EXP(-{z})),EXP({z})/(1+EXP({z})))"

    def forward(self, env):
        z, dz = self.a.forward(env)
        e = np.exp(-np.abs(z))
        p = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
        return p, lambda g, grads: dz(g * p * (1 - p), grads)


class LogLoss(Op):
    """-[y ln p + (1-y) ln(1-p)] for p = sigmoid(z), as MAX(z,0)-y*z+LN(1+EXP(-ABS(z))): no overflow, no LN(0)."""

    def __init__(self, z: Op, y: Op):
        self.z, self.y = z, y

    def formula(self, at):
        z, y = self.z.formula(at), self.y.formula(at)
        return f"MAX({z},0)-{y}*{z}+LN(1+EXP(-ABS({z})))"

    def forward(self, env):
        (z, dz), y = self.z.forward(env), self.y.value(env)
        e = np.exp(-np.abs(z))
        loss = np.maximum(z, 0) - y * z + np.log(1 + e)
        p = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
        return loss, lambda g, grads: dz(g * (p - y), grads)


class RowMax(Op):
    """The row's largest value among some columns (a softmax subtracts it: EXP never overflows)."""
    function, reduce = "MAX", staticmethod(np.max)

    def __init__(self, names: tuple[str, ...]):
        self.names = names

    def formula(self, at):
        return f"{self.function}({at.columns_row(self.names)})"

    def forward(self, env):
        return self.reduce(_stacked(env, self.names), axis=0), _nothing


class RowSum(RowMax):
    """The row's sum of some columns."""
    function, reduce = "SUM", staticmethod(np.sum)


class Exp(Op):
    """e to the power of a column: a softmax's numerators (shown; the loss takes its gradient from the logits)."""

    def __init__(self, a: Op):
        self.a = a

    def formula(self, at):
        return f"EXP({self.a.formula(at)})"

    def forward(self, env):
        return np.exp(self.a.value(env)), _nothing


class ClassIs(Op):
    """1 where the row's class is class k (its label `level`), else 0: the target one-hot, as a Dummy is. The sheet
    compares the label (text without case, as a spreadsheet does); numpy the class number."""

    def __init__(self, target: str, k: int, level):
        self.target, self.k, self.level = target, k, level

    def formula(self, at):
        return f"IF({at.cell(self.target)}={literal(self.level)},1,0)"

    def forward(self, env):
        return (env[self.target] == self.k).astype(float), _nothing


class SoftmaxLoss(Op):
    """The cross-entropy of a softmax over the logits `z` against the one-hot `y`, in the log-sum-exp form that
    cannot overflow or take LN(0): LN(SUM(EXP(z-max)))+max-SUMPRODUCT(y,z). Its gradient is p-y for each logit."""

    def __init__(self, z: tuple[str, ...], y: tuple[str, ...], row_max: str, row_sum: str):
        self.z, self.y, self.row_max, self.row_sum = z, y, row_max, row_sum

    def formula(self, at):
        return (f"LN({at.cell(self.row_sum)})+{at.cell(self.row_max)}"
                f"-SUMPRODUCT({at.columns_row(self.y)},{at.columns_row(self.z)})")

    def forward(self, env):
        Z = _stacked(env, self.z)  # (classes, ..., rows)
        Y = _stacked(env, self.y)
        Y = Y.reshape(Y.shape[:1] + (1,) * (Z.ndim - Y.ndim) + Y.shape[1:])
        top = Z.max(axis=0, keepdims=True)
        E = np.exp(Z - top)
        total = E.sum(axis=0, keepdims=True)
        loss = (np.log(total) + top)[0] - (Y * Z).sum(axis=0)

        def backward(g, grads):
            d = g * (E / total - Y)
            for k, name in enumerate(self.z):
                _add_grad(grads, name, d[k])
        return loss, backward


class Argmax(Op):
    """The class whose column is largest in the row (the first, on a tie): its label in the sheet, found by
    INDEX and MATCH over the labels above the columns; its class number in numpy."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names

    def formula(self, at):
        row = at.columns_row(self.names)
        return f"INDEX({at.labels_row(self.names)},1,MATCH(MAX({row}),{row},0))"

    def forward(self, env):
        return _stacked(env, self.names).argmax(axis=0).astype(float), _nothing


class Summary(Op):
    """A cell summing up the rows: its value comes from sums over the rows (`parts`), which chunks of rows
    `merge` (adding them, unless a subclass says otherwise), so that a million rows are scored a chunk at a time.
    No gradient flows through it unless a subclass's `forward` gives one (the loss cells)."""

    def parts(self, env: dict) -> tuple:
        raise NotImplementedError

    def merge(self, a: tuple, b: tuple) -> tuple:
        return tuple(x + y for x, y in zip(a, b))

    def of_parts(self, parts: tuple):
        total, n = parts
        return total / n

    def forward(self, env):
        return self.of_parts(self.parts(env)), _nothing


class Average(Summary):
    """Mean of a whole column: the loss cell."""

    def __init__(self, name: str):
        self.name = name

    def formula(self, at):
        return f"AVERAGE({at.column_range(self.name)})"

    def parts(self, env):
        x = env[self.name]
        return x.sum(axis=-1), x.shape[-1]

    def forward(self, env):
        x = env[self.name]
        n = x.shape[-1]
        return self.of_parts(self.parts(env)), lambda g, grads: _add_grad(
            grads, self.name, np.asarray(g)[..., None] / n)  # the same for every row: broadcast where it is used


class AverageIf(Summary):
    """Mean of a column over the rows whose `Set` is `which` (the train or valid loss)."""

    def __init__(self, name: str, which: str):
        self.name, self.which = name, which

    def formula(self, at):
        return f'AVERAGEIF({at.column_range("Set")},"{self.which}",{at.column_range(self.name)})'

    def parts(self, env):
        mask = env["Set"] == self.which
        return (env[self.name] * mask).sum(axis=-1), mask.sum()

    def forward(self, env):
        parts = self.parts(env)
        return self.of_parts(parts), lambda g, grads: _add_grad(
            grads, self.name, np.asarray(g)[..., None] * (env["Set"] == self.which) / parts[1])


class Objective(Op):
    """What Solver minimises: the training loss plus weight decay times the sum of the squared parameters.

    The decay is a cell of its own beside it (`weight_decay` in the env), so a user can set it and refit.
    """

    def __init__(self, blocks: tuple[str, ...], loss: str = "train_loss", decay: str = "weight_decay"):
        self.blocks, self.loss, self.decay = blocks, loss, decay

    def formula(self, at):
        squares = ",".join(at.param_range(b) for b in self.blocks)
        return f"{at.summary_cell(self.loss)}+{at.summary_cell(self.decay)}*SUMSQ({squares})"

    def forward(self, env):
        decay, W = env[self.decay], [env[b] for b in self.blocks]
        penalty = sum((w * w).sum(axis=(-2, -1)) for w in W)

        def backward(g, grads):
            _add_grad(grads, self.loss, g)
            if decay:
                for name, w in zip(self.blocks, W):
                    _add_grad(grads, name, 2 * decay * np.asarray(g)[..., None, None] * w)
        return env[self.loss] + decay * penalty, backward


def _rows(env: dict, which: str | None, n: int) -> np.ndarray:
    return np.ones(n, bool) if which is None else env["Set"] == which


class Accuracy(Summary):
    """Share of the `which` rows (all rows for None) whose prediction > 0.5 matches the 0/1 target."""

    def __init__(self, prediction: str, target: str, which: str | None = None):
        self.prediction, self.target, self.which = prediction, target, which

    def matches(self, p: str, y: str) -> str:
        """A row's match, as an array formula over the prediction and target ranges."""
        return f"(({p}>0.5)=({y}=1))"

    def right(self, env: dict) -> np.ndarray:
        return (env[self.prediction] > 0.5) == (env[self.target] == 1)

    def formula(self, at):
        p, y = at.column_range(self.prediction), at.column_range(self.target)
        if self.which is None:
            return f"SUMPRODUCT({self.matches(p, y)}*1)/ROWS({y})"
        s = at.column_range("Set")
        return f'SUMPRODUCT(({s}="{self.which}")*{self.matches(p, y)})/COUNTIF({s},"{self.which}")'

    def parts(self, env):
        mask = _rows(env, self.which, env[self.target].shape[-1])
        return (self.right(env) * mask).sum(axis=-1), mask.sum()


class ClassAccuracy(Accuracy):
    """Share of the `which` rows (all rows for None) whose predicted class is the target's."""

    def matches(self, p: str, y: str) -> str:
        return f"({p}={y})"

    def right(self, env: dict) -> np.ndarray:
        return env[self.prediction] == env[self.target]


class RSquared(Summary):
    """1 - SSE/SST of the `which` rows (all rows for None): the share of the target's variance explained."""

    def __init__(self, prediction: str, target: str, which: str | None = None):
        self.prediction, self.target, self.which = prediction, target, which

    def formula(self, at):
        p, y = at.column_range(self.prediction), at.column_range(self.target)
        if self.which is None:
            return f"1-SUMXMY2({p},{y})/DEVSQ({y})"
        s, w = at.column_range("Set"), f'"{self.which}"'
        return (f"1-SUMPRODUCT(({s}={w})*({p}-{y})^2)/"
                f"SUMPRODUCT(({s}={w})*({y}-AVERAGEIF({s},{w},{y}))^2)")

    def parts(self, env):
        """SSE, and the rows' count, mean and sum of squared deviations (DEVSQ)."""
        y, p = env[self.target], env[self.prediction]
        mask = _rows(env, self.which, y.shape[-1])
        n = int(mask.sum())
        mean = y[mask].mean() if n else 0.0
        return (((p - y) ** 2) * mask).sum(axis=-1), n, mean, (((y - mean) ** 2) * mask).sum()

    def merge(self, a, b):
        """Chan, Golub and LeVeque's update: the mean and DEVSQ of two chunks together, without cancellation."""
        (sse_a, n_a, mean_a, dev_a), (sse_b, n_b, mean_b, dev_b) = a, b
        if not (n_a and n_b):
            return (sse_a + sse_b, *(b if n_b else a)[1:])
        n, d = n_a + n_b, mean_b - mean_a
        return sse_a + sse_b, n, mean_a + d * n_b / n, dev_a + dev_b + d * d * n_a * n_b / n

    def of_parts(self, parts):
        sse, _, _, devsq = parts
        with np.errstate(divide="ignore", invalid="ignore"):  # a set whose targets are all equal: #DIV/0! there
            return 1 - sse / devsq
