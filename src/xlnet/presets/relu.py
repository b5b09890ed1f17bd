"""fast.ai's 2022 lesson "How does a neural net really work?": ReLUs that draw any curve, as a workbook.

Noisy points of a curve, and a model that adds up rectified linear units, `max(0, m·x + b)`, each with its slope
and intercept (the notebook's sliders) and a weight `a` it is added with, plus a constant `c`. With every `a` at
1 and `c` at 0, as the workbook starts, the model is the lesson's plain sum of ReLUs; a plain sum can only bend
upwards (each ReLU is convex, and so is their sum), so descent is free to make a weight negative, and then the
ReLUs draw any curve: that is all a neural net is. Gradient descent moves every parameter, a row of formulas per
step, as in `lesson sgd`; beside the points, each unit's ReLU and the model at `show_step`. Each step's column
is one expression of sgd's ops, rendered as the row's formula and evaluated by numpy, so the sheet and numpy
are one definition.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xlnet.presets.sgd import (FIRST, HEAD, INPUT, NUM, Col, Data, E, Input, Layout, Sum, optimizer_columns,
                               put_inputs, put_steps, sheet_of)
from xlnet.xlsx.parts import SOLVER_OPTIONS, Formula, Style, line_chart, sheet_ref
from xlnet.xlsx.read import letters

SHEET = "relu"
CURVES = {  # name: (the curve, what it is)
    "quadratic": (lambda x: 3 * x * x + 2 * x + 1, "3x²+2x+1, the lesson's quadratic"),
    "wiggly": (lambda x: np.sin(3 * x) + 0.5 * x, "sin(3x)+x/2"),
    "vee": (lambda x: np.abs(x - 0.5), "|x-0.5|, one bend: two ReLUs draw it exactly"),
}
NOISE = {"quadratic": 1.0, "wiggly": 0.15, "vee": 0.05}  # the noise's standard deviation
MAX_UNITS = 20
POINTS = 100
INPUTS = [("lr", "learning rate"), ("beta", "momentum"), ("beta1", "Adam beta1"), ("beta2", "Adam beta2"),
          ("eps", "Adam eps"), ("show_step", "step the model columns and charts show")]


@dataclass
class Pos(E):
    """1 where an array expression is above 0, else 0: a ReLU's slope, and with the expression, the ReLU."""
    a: E

    def formula(self, at): return f"({self.a.formula(at)}>0)"
    def value(self, env): return (np.asarray(self.a.value(env)) > 0).astype(float)


@dataclass
class Plan:
    units: int
    curve: str
    optimizer: str
    steps: int
    n: int = POINTS

    @property
    def params(self) -> tuple[str, ...]:
        """Each unit's slope m, intercept b and weight a, then the constant c."""
        return tuple(f"{p}{k + 1}" for k in range(self.units) for p in ("m", "b", "a")) + ("c",)

    @property
    def inputs(self) -> list[tuple[str, str]]:
        """The named input cells and their labels: the optimisers' settings, and each parameter's start (the
        notebook's sliders)."""
        what = {"m": "slope", "b": "intercept", "a": "weight"}
        return INPUTS + [(start(p), f"starting {what[p[0]]} of unit {p[1:]}" if p != "c" else "starting constant")
                         for p in self.params]

    @property
    def data_names(self) -> list[str]:
        """The points, then each unit's ReLU at show_step, the model and the squared error."""
        return ["x", "y"] + [f"ReLU {k + 1}" for k in range(self.units)] + ["model", "squared error"]

    def columns(self) -> list[tuple[str, E | None, E | None]]:
        """(name, formula of step 0, formula of later steps): None for a value written as it is."""
        x, y = Data("x"), Data("y")
        z = [Col(f"m{k + 1}") * x + Col(f"b{k + 1}") for k in range(self.units)]
        prediction = Col("c")
        for k in range(self.units):
            prediction = prediction + Col(f"a{k + 1}") * (Pos(z[k]) * z[k])
        residual = prediction - y
        out: list = [("step", None, Col("step", prev=True) + 1.0)]
        out += [(p, Input(start(p)), None) for p in self.params]
        out.append(("loss", Sum(residual * residual) / float(self.n), None))
        terms = {}
        for k in range(self.units):
            slope = residual * Col(f"a{k + 1}") * Pos(z[k])  # the loss's slope along the unit's m·x + b
            terms.update({f"m{k + 1}": slope * x, f"b{k + 1}": slope, f"a{k + 1}": residual * (Pos(z[k]) * z[k])})
        terms["c"] = residual
        grads = []
        for p in self.params:
            grads.append(f"g_{p}")
            out.append((grads[-1], Sum(terms[p]) * 2.0 / float(self.n), None))
        state, updates = optimizer_columns(self.optimizer, self.params, grads, state="opt ")
        out += state
        return [(name, first, updates[name] if name in updates else later or first) for name, first, later in out]


def make_data(plan: Plan, seed: int | None) -> dict[str, np.ndarray]:
    """x evenly spread over [-2, 2], and y the curve at x plus a seeded normal noise."""
    x = np.linspace(-2, 2, plan.n)
    noise = np.random.default_rng(seed).normal(0, NOISE[plan.curve], plan.n)
    return {"x": x, "y": CURVES[plan.curve][0](x) + noise}


def input_values(plan: Plan, lr: float) -> dict[str, float]:
    """The learning rate, the optimisers' constants, and each unit's start: slopes alternating in sign, bends
    spread over the points, so that every unit begins alive somewhere."""
    values = {"lr": lr, "beta": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "show_step": plan.steps}
    knots = np.linspace(-1.5, 1.5, plan.units) if plan.units > 1 else np.zeros(1)
    for k, knot in enumerate(knots):
        m = 1.0 if k % 2 == 0 else -1.0
        values.update({start(f"m{k + 1}"): m, start(f"b{k + 1}"): float(-m * knot), start(f"a{k + 1}"): 1.0})
    values[start("c")] = 0.0
    return values


def start(param: str) -> str:
    """The input cell of a parameter's start: start_m_1 for m1, start_c for c."""
    return "start_c" if param == "c" else f"start_{param[0]}_{param[1:]}"


def relu_at(data: dict, rows: list[dict], plan: Plan, step: int) -> dict[str, np.ndarray]:
    """The model columns beside the points at one step: each unit's ReLU, their sum, the squared error."""
    row = rows[step]
    units = {f"ReLU {k + 1}": np.maximum(0.0, row[f"m{k + 1}"] * data["x"] + row[f"b{k + 1}"])
             for k in range(plan.units)}
    model = row["c"] + sum(row[f"a{k + 1}"] * units[f"ReLU {k + 1}"] for k in range(plan.units))
    return {**units, "model": model, "squared error": (model - data["y"]) ** 2}


def write(w, plan: Plan, data: dict, inputs: dict, seed: int | None) -> Layout:
    """The lesson's sheet into a Writer `w`, with its names, Solver's model and its charts."""
    at = Layout(plan)
    style = w.style
    head, inp, num, bold = style(HEAD), style(INPUT), style(NUM), style(Style(bold=True))
    cells: dict[int, dict[int, tuple]] = {}

    def put(c, r, v, s=0):
        cells.setdefault(r, {})[c] = (v, s)

    put(1, 1, f"Lesson 3: {plan.units} ReLU{'s' if plan.units > 1 else ''} fitted to noisy points of "
              f"{CURVES[plan.curve][1]} by {plan.optimizer}, {plan.steps} steps", bold)
    put_inputs(put, at, inputs, head, inp)
    info = at.input_row[at.inputs[-1][0]] + 2
    shown_loss = f"AVERAGE({at.data_range('squared error')})"
    for i, (label, value) in enumerate((("curve", CURVES[plan.curve][1]), ("noise (sd)", NOISE[plan.curve]),
                                        ("seed", seed if seed is not None else "none"),
                                        ("loss at show_step", Formula("=" + shown_loss)))):
        put(1, info + i, label, bold if i == 3 else 0)
        put(2, info + i, value, num if i == 3 else 0)
    for name in at.data_names:
        put(at.data_col[name], 2, name, head)
    for name in at.step_names:
        put(at.step_col[name], 2, name, head)
    put(at.data_col["x"], 1, "points, and the model at show_step", bold)
    put(at.step_col["step"], 1, "steps: each row's parameters are the update of the row above", bold)
    for i in range(plan.n):
        r = FIRST + i
        put(at.data_col["x"], r, float(data["x"][i]), num)
        put(at.data_col["y"], r, float(data["y"][i]), num)
        for name, formula in _model_formulas(at, plan, r).items():
            put(at.data_col[name], r, Formula(formula), num)
    put_steps(put, at, num)
    stream = sheet_of(w, SHEET, at, cells, label_width=44, column_width=12)
    charts_top = info + 6  # each chart on a page of its own: 20 rows, from a page break
    w.charts(stream, _charts(at, plan), [(0, charts_top + 20 * k, 2, charts_top + 20 * k + 18) for k in range(3)])
    stream.close(row_breaks=[charts_top + 20 * k for k in range(3)], landscape=False)
    _names(w, at, plan, info)
    w.define("_xlnm.Print_Area", sheet_ref(SHEET, f"$A$1:$B${charts_top + 60}"), sheet=SHEET)
    return at


def _model_formulas(at: Layout, plan: Plan, r: int) -> dict[str, str]:
    """A point's ReLUs at show_step (each unit's parameters looked up in its column of steps), their sum and the
    squared error."""
    x = f"{letters(at.data_col['x'])}{r}"
    out = {f"ReLU {k + 1}": f"=MAX(0,INDEX(m_{k + 1},show_step+1)*{x}+INDEX(b_{k + 1},show_step+1))"
           for k in range(plan.units)}
    out["model"] = "=INDEX(c,show_step+1)+" + "+".join(
        f"INDEX(a_{k + 1},show_step+1)*{letters(at.data_col[f'ReLU {k + 1}'])}{r}" for k in range(plan.units))
    out["squared error"] = f"=({letters(at.data_col['model'])}{r}-{letters(at.data_col['y'])}{r})^2"
    return out


def _charts(at: Layout, plan: Plan) -> list[bytes]:
    ref = lambda rng: sheet_ref(SHEET, rng)  # noqa: E731
    head = lambda name: ref(f"${letters(at.data_col[name])}$2")  # noqa: E731
    x = ref(at.data_range("x"))
    fit = line_chart("the points and the model at show_step", [
        (head("y"), x, ref(at.data_range("y")), True), (head("model"), x, ref(at.data_range("model")))], "x", "y")
    bends = line_chart("each unit's ReLU, and the model: c + a1·ReLU 1 + a2·ReLU 2 + ...", [
        (head(name), x, ref(at.data_range(name))) for name in [f"ReLU {k + 1}" for k in range(plan.units)]
        + ["model"]], "x", "ReLU")
    losses = line_chart("loss per step", [(ref(f"${letters(at.step_col['loss'])}$2"), ref(at.step_range("step")),
                                           ref(at.step_range("loss")))], "step", "loss (mean squared error)")
    return [fit, bends, losses]


def _names(w, at: Layout, plan: Plan, info: int) -> None:
    """Workbook-level names for anyone and any test; Solver's model on the sheet: minimise the loss of the
    starting parameters (step 0) by changing them."""
    for name, _ in at.inputs:
        w.define(name, sheet_ref(SHEET, f"$B${at.input_row[name]}"))
    w.define("x", sheet_ref(SHEET, at.data_range("x")))
    w.define("y", sheet_ref(SHEET, at.data_range("y")))
    w.define("loss", sheet_ref(SHEET, at.step_range("loss")))
    for p in plan.params:
        w.define("c" if p == "c" else f"{p[0]}_{p[1:]}", sheet_ref(SHEET, at.step_range(p)))
    starts = [at.input_row[start(p)] for p in plan.params]
    loss0 = f"${letters(at.step_col['loss'])}${FIRST}"
    solver = {"solver_opt": sheet_ref(SHEET, loss0), "solver_adj": sheet_ref(SHEET, f"$B${min(starts)}:$B${max(starts)}"),
              **SOLVER_OPTIONS}
    for key, value in solver.items():
        w.define(key, value, sheet=SHEET, hidden=True)
