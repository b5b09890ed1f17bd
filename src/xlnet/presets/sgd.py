"""fast.ai's 2019 lesson "SGD from scratch" as a workbook: every step of gradient descent a row of formulas.

100 points on `y = x@a + noise` with `a = (3, 2)` (or a quadratic), a guess, and the steps: each row holds the
parameters, the loss, each gradient (analytic, and by finite differences beside it) and the optimiser's state;
the next row's parameters are the update. Each column is one expression of the ops below, rendered as the
row's formula and evaluated by numpy step by step, so the sheet and numpy are one definition.
"""
from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np

from xlnet.xlsx.parts import Formula, Style, line_chart, sheet_ref
from xlnet.xlsx.read import letters

SHEET = "sgd"
OPTIMIZERS = ("sgd", "momentum", "adam")
MODELS = {"line": (3.0, 2.0), "quadratic": (3.0, 2.0, 1.0)}  # the true coefficients
START = {"line": (-1.0, 1.0), "quadratic": (-1.0, 1.0, 0.0)}  # the lesson's guess
INPUT = Style(fill="FFFFF2CC", border=True)
HEAD = Style(bold=True, align="center")
NUM = Style(num_fmt="0.000000")
GENERAL = Style()        # a diverging descent's figures: General shows 1.51111E+60 where 0.000000 shows ###
FIXED_BELOW = 1e5        # figures this large or larger do not fit a column at 6 decimals


# --- ops: a formula and a numpy value each --------------------------------------------------------------
class E:
    def __add__(self, o): return Bin(self, "+", o)
    def __sub__(self, o): return Bin(self, "-", o)
    def __mul__(self, o): return Bin(self, "*", o)
    def __truediv__(self, o): return Bin(self, "/", o)
    def __pow__(self, o): return Bin(self, "^", o)


def lift(v) -> "E":
    return v if isinstance(v, E) else Num(v)


@dataclass
class Num(E):
    v: float

    def formula(self, at): return repr(self.v) if self.v >= 0 else f"({self.v!r})"
    def value(self, env): return self.v


@dataclass
class Bin(E):
    a: E
    op: str
    b: E

    def __post_init__(self):
        self.a, self.b = lift(self.a), lift(self.b)

    def formula(self, at): return f"({self.a.formula(at)}{self.op}{self.b.formula(at)})"

    def value(self, env):
        a, b = self.a.value(env), self.b.value(env)
        return {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power}[self.op](a, b)


@dataclass
class Col(E):
    """A column of this step's row (prev=True: of the row before)."""
    name: str
    prev: bool = False

    def formula(self, at): return at.step_cell(self.name, -1 if self.prev else 0)
    def value(self, env): return env["prev" if self.prev else "row"][self.name]


@dataclass
class Input(E):
    """A named input cell: lr, beta, ..."""
    name: str

    def formula(self, at): return self.name
    def value(self, env): return env["inputs"][self.name]


@dataclass
class Data(E):
    """A whole data column (x, x2, ones, y, batch) as an array."""
    name: str

    def formula(self, at): return at.data_range(self.name)
    def value(self, env): return env["data"][self.name]


@dataclass
class Sum(E):
    """SUMPRODUCT of an array expression: the sum over the data rows."""
    a: E

    def formula(self, at): return f"SUMPRODUCT({self.a.formula(at)})"
    def value(self, env): return np.sum(self.a.value(env))


@dataclass
class InBatch(E):
    """1 for the data rows of this step's mini-batch (the batch column equals MOD(step, batches)), else 0."""
    batches: int

    def formula(self, at): return f"({at.data_range('batch')}=MOD({at.step_cell('step', 0)},{self.batches}))"
    def value(self, env): return (env["data"]["batch"] == env["row"]["step"] % self.batches).astype(float)


@dataclass
class Sqrt(E):
    a: E

    def formula(self, at): return f"SQRT({self.a.formula(at)})"
    def value(self, env): return np.sqrt(self.a.value(env))


# --- the lesson's columns --------------------------------------------------------------------------------
@dataclass
class Plan:
    model: str
    optimizer: str
    n: int
    steps: int
    batch_size: int | None

    @property
    def k(self) -> int:
        return len(MODELS[self.model])

    @property
    def features(self) -> tuple[str, ...]:
        return ("x", "ones") if self.model == "line" else ("x2", "x", "ones")

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(f"a{i + 1}" for i in range(self.k))

    @property
    def batches(self) -> int:
        return 1 if not self.batch_size else -(-self.n // self.batch_size)

    def columns(self) -> list[tuple[str, E | None, E | None]]:
        """(name, formula of step 0, formula of later steps): None for a value written as it is."""
        a, g = self.params, [f"g{i + 1}" for i in range(self.k)]

        def residual(shift: dict | None = None):
            terms = [(Col(p) + shift[p] if shift and p in shift else Col(p)) * Data(f)
                     for p, f in zip(a, self.features)]
            pred = terms[0]
            for t in terms[1:]:
                pred = pred + t
            return pred - Data("y")
        mask, count = (InBatch(self.batches), float(self.batch_size)) if self.batch_size else (None, float(self.n))

        def batch_loss(shift=None):
            r = residual(shift)
            return Sum((mask * r * r) if mask else r * r) / count
        out: list = [("step", None, Col("step", prev=True) + 1.0)]
        for p in a:
            out.append((p, Input(f"start_{p[1:]}"), None))  # later rows: the update, filled in below
        out.append(("loss", Sum(residual() * residual()) / float(self.n), None))
        for i, p in enumerate(a):
            r = residual()
            feature = Data(self.features[i])
            out.append((g[i], Sum((mask * r * feature) if mask else r * feature) * 2.0 / count, None))
        h = Input("h")
        for i, p in enumerate(a):
            out.append((f"fd{i + 1}", (batch_loss({p: h}) - batch_loss({p: Num(0.0) - h})) / (h * 2.0), None))
        state, updates = optimizer_columns(self.optimizer, a, g)
        out += state
        return [(name, first, updates[name] if name in updates else later or first) for name, first, later in out]

    @property
    def inputs(self) -> list[tuple[str, str]]:
        """The named input cells and their labels."""
        return list(INPUTS) + [(f"start_{i + 1}", f"starting a{i + 1}") for i in range(self.k)]

    @property
    def data_names(self) -> list[str]:
        return list(self.features) + ["y"] + (["batch"] if self.batch_size else [])


def optimizer_columns(optimizer: str, params: tuple[str, ...], grads: list[str], state: str = ""
                      ) -> tuple[list[tuple[str, E, E]], dict[str, E]]:
    """The optimiser's state columns (momentum's v, Adam's m and s: a column each per parameter, named by its
    number after `state`) and each parameter's update from the row before: plain gradient descent, momentum, or
    Adam with its bias correction."""
    lr = Input("lr")
    out: list = []
    if optimizer == "sgd":
        return out, {p: Col(p, True) - lr * Col(g, True) for p, g in zip(params, grads)}
    if optimizer == "momentum":
        for i, g in enumerate(grads):
            v = f"{state}v{i + 1}"
            out.append((v, Col(g), Input("beta") * Col(v, True) + Col(g)))
        return out, {p: Col(p, True) - lr * Col(f"{state}v{i + 1}", True) for i, p in enumerate(params)}
    b1, b2, eps = Input("beta1"), Input("beta2"), Input("eps")
    for i, g in enumerate(grads):
        gi, m, s = Col(g), f"{state}m{i + 1}", f"{state}s{i + 1}"
        out.append((m, (Num(1.0) - b1) * gi, b1 * Col(m, True) + (Num(1.0) - b1) * gi))
        out.append((s, (Num(1.0) - b2) * gi * gi, b2 * Col(s, True) + (Num(1.0) - b2) * gi * gi))
    t = Col("step", True) + 1.0
    return out, {p: Col(p, True) - lr * (Col(f"{state}m{i + 1}", True) / (Num(1.0) - b1 ** t))
                 / (Sqrt(Col(f"{state}s{i + 1}", True) / (Num(1.0) - b2 ** t)) + eps) for i, p in enumerate(params)}


def make_data(plan: Plan, seed: int | None) -> dict[str, np.ndarray]:
    """x uniform in [-1, 1) from the seed, the ones, y = x@a + noise, and each row's mini-batch number."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, plan.n)
    noise = rng.normal(0, 1, plan.n)
    features = {"x": x, "x2": x * x, "ones": np.ones(plan.n)}
    y = sum(c * features[f] for c, f in zip(MODELS[plan.model], plan.features)) + noise
    batch = np.zeros(plan.n)
    if plan.batch_size:
        order = np.random.default_rng(None if seed is None else [seed, 3]).permutation(plan.n)
        batch[order] = np.arange(plan.n) // plan.batch_size
    return {**features, "y": y, "batch": batch}


def descend(plan: Plan, data: dict, inputs: dict) -> list[dict[str, float]]:
    """Every step's row, as the sheet computes it."""
    rows: list[dict] = []
    with np.errstate(all="ignore"):
        for step in range(plan.steps + 1):
            env = {"data": data, "inputs": inputs, "prev": rows[-1] if rows else {}, "row": {}}
            for name, first, later in plan.columns():
                op = first if step == 0 else later
                env["row"][name] = 0.0 if op is None else float(op.value(env))
            rows.append(env["row"])
    return rows


# --- the workbook ---------------------------------------------------------------------------------------
INPUTS = (("lr", "learning rate"), ("beta", "momentum"), ("beta1", "Adam beta1"), ("beta2", "Adam beta2"),
          ("eps", "Adam eps"), ("h", "finite-difference step"), ("show_step", "step the chart shows"))
FIRST = 3  # first data row and first step row; headers on row 2


class Layout:
    """Where the lesson's cells are: inputs in A:B, the data from column D, the steps after it."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.data_names = plan.data_names
        self.data_col = {name: 4 + i for i, name in enumerate(self.data_names)}
        start = 4 + len(self.data_names) + 1
        self.step_names = [name for name, _, _ in plan.columns()]
        self.step_col = {name: start + i for i, name in enumerate(self.step_names)}
        self.inputs = plan.inputs
        self.input_row = {name: 3 + i for i, (name, _) in enumerate(self.inputs)}
        self.last_data = FIRST + plan.n - 1
        self.last_step = FIRST + plan.steps
        self.row = FIRST

    def step_cell(self, name: str, offset: int) -> str:
        return f"{letters(self.step_col[name])}{self.row + offset}"

    def data_range(self, name: str) -> str:
        c = letters(self.data_col[name])
        return f"${c}${FIRST}:${c}${self.last_data}"

    def step_range(self, name: str) -> str:
        c = letters(self.step_col[name])
        return f"${c}${FIRST}:${c}${self.last_step}"

    def formulas(self, row: int) -> dict[str, str]:
        self.row = row
        step = row - FIRST
        out = {}
        for name, first, later in self.plan.columns():
            op = first if step == 0 else later
            if op is not None:
                out[name] = "=" + op.formula(self)
        return out


def input_values(plan: Plan, lr: float) -> dict[str, float]:
    values = {"lr": lr, "beta": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "h": 1e-4, "show_step": plan.steps}
    values.update({f"start_{i + 1}": v for i, v in enumerate(START[plan.model])})
    return values


def write(w, plan: Plan, data: dict, inputs: dict, seed: int | None) -> Layout:
    """The lesson's sheet into a Writer `w`, with its names and charts."""
    at = Layout(plan)
    style = w.style
    steps = descend(plan, data, inputs)
    fits = all(isinstance(v, str) or (math.isfinite(v) and abs(v) < FIXED_BELOW) for row in steps for v in row.values())
    head, inp, num = style(HEAD), style(INPUT), style(NUM if fits else GENERAL)
    cells: dict[int, dict[int, tuple]] = {}

    def put(c, r, v, s=0):
        cells.setdefault(r, {})[c] = (v, s)

    put(1, 1, f"Lesson 2: {plan.optimizer} on {'a line' if plan.model == 'line' else 'a quadratic'}, "
              f"{plan.n} points, {plan.steps} steps" + (f", batches of {plan.batch_size}" if plan.batch_size else ""),
        style(Style(bold=True)))
    put_inputs(put, at, inputs, head, inp)
    true_row = at.input_row[at.inputs[-1][0]] + 2
    put(1, true_row, f"true a (y = {'a1·x + a2' if plan.model == 'line' else 'a1·x² + a2·x + a3'} + noise)",
        style(Style(bold=True)))
    for i, a in enumerate(MODELS[plan.model]):
        put(1, true_row + 1 + i, f"a{i + 1}")
        put(2, true_row + 1 + i, a)
    put(1, true_row + plan.k + 1, "seed")
    put(2, true_row + plan.k + 1, seed if seed is not None else "none")
    fit_row = true_row + plan.k + 3
    put(1, fit_row, "x", head)
    put(2, fit_row, "fit at show_step", head)
    grid = np.linspace(-1, 1, 2 if plan.model == "line" else 21)
    params = [f"INDEX(a_{i + 1},show_step+1)" for i in range(plan.k)]
    for j, x in enumerate(grid):
        r = fit_row + 1 + j
        put(1, r, float(x))
        terms = {"x": f"A{r}", "x2": f"A{r}^2", "ones": "1"}
        put(2, r, Formula("=" + "+".join(f"{p}*{terms[f]}" for p, f in zip(params, plan.features))), num)
    for name in at.data_names:
        put(at.data_col[name], 2, name, head)
    for name in at.step_names:
        put(at.step_col[name], 2, name, head)
    put(at.data_col[at.data_names[0]], 1, "data", style(Style(bold=True)))
    put(at.step_col["step"], 1, "steps: each row's parameters are the update of the row above",
        style(Style(bold=True)))
    for i in range(plan.n):
        for name in at.data_names:
            put(at.data_col[name], FIRST + i, float(data[name][i]), num if name != "batch" else 0)
    put_steps(put, at, num)
    stream = sheet_of(w, SHEET, at, cells, label_width=30, column_width=11)
    ref = lambda rng: sheet_ref(SHEET, rng)  # noqa: E731
    x_col = "$A$" + str(fit_row + 1) + ":$A$" + str(fit_row + len(grid))
    y_col = "$B$" + str(fit_row + 1) + ":$B$" + str(fit_row + len(grid))
    points = line_chart("the data and the fit at show_step", [
        (ref(f"${letters(at.data_col['y'])}$2"), ref(at.data_range("x")), ref(at.data_range("y")), True),
        (ref(f"$B${fit_row}"), ref(x_col), ref(y_col))], "x", "y")
    losses = line_chart("loss per step", [(ref(f"${letters(at.step_col['loss'])}$2"), ref(at.step_range("step")),
                                           ref(at.step_range("loss")))], "step", "loss (mean squared error)")
    w.charts(stream, [points, losses], [(0, fit_row + len(grid) + 1, 2, fit_row + len(grid) + 19),
                                        (0, fit_row + len(grid) + 20, 2, fit_row + len(grid) + 38)])
    stream.close()
    for name, _ in at.inputs:
        w.define(name, sheet_ref(SHEET, f"$B${at.input_row[name]}"))
    w.define("x", sheet_ref(SHEET, at.data_range("x")))
    w.define("y", sheet_ref(SHEET, at.data_range("y")))
    w.define("loss", sheet_ref(SHEET, at.step_range("loss")))
    for i in range(plan.k):
        w.define(f"a_{i + 1}", sheet_ref(SHEET, at.step_range(f"a{i + 1}")))
    return at


def put_inputs(put, at: Layout, inputs: dict[str, float], head: int, inp: int) -> None:
    """The named inputs, each a label and a value styled as an input, under an `input`/`value` header."""
    put(1, 2, "input", head)
    put(2, 2, "value", head)
    for name, label in at.inputs:
        put(1, at.input_row[name], f"{label} ({name})")
        put(2, at.input_row[name], float(inputs[name]), inp)


def put_steps(put, at: Layout, num: int) -> None:
    """Every step's row into `put(column, row, value, style)`: step 0's number, and each column's formula."""
    for r in range(FIRST, at.last_step + 1):
        if r == FIRST:
            put(at.step_col["step"], r, 0.0)
        for name, formula in at.formulas(r).items():
            put(at.step_col[name], r, Formula(formula), num if name != "step" else 0)


def sheet_of(w, name: str, at: Layout, cells: dict[int, dict[int, tuple]], *, label_width: float,
             column_width: float):
    """A lesson's sheet opened in the Writer `w` with its cells (row -> column -> (value, style)) written, the
    inputs' labels `label_width` wide and the data and step columns `column_width`; left open for its charts."""
    widths = {1: label_width, 2: 16}
    widths.update({c: column_width for c in list(at.data_col.values()) + list(at.step_col.values())})
    stream = w.sheet(name, widths=widths, freeze=(0, 2))
    for r in sorted(cells):
        stream.row(r, [(c, *cells[r][c]) for c in sorted(cells[r])])
    return stream
