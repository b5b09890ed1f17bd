"""xlnet's README sheet: what each sheet holds, which cells are inputs, what Solver minimises and how to refit, in
plain words and in the workbook's own addresses."""
from __future__ import annotations

import textwrap

from xlnet.model.net import Model
from xlnet.model.spec import Spec
from xlnet.workbook.layout import DATA_SHEET, FIRST_ROW, SheetLayout, absolute
from xlnet.xlsx.parts import Style, sheet_ref
from xlnet.xlsx.write import Writer

README_SHEET = "README"
README_NAME = "_xlnet_readme"  # the hidden name that marks the sheet as xlnet's own
TITLE = Style(bold=True)
WIDTH = 120  # characters of column A: every line fits, on screen and on a printed page


def _what(model: Model, spec: Spec) -> str:
    if model.depth == 0:
        return "the linear model: each row's output is SUMPRODUCT of its features and one row of parameters."
    layers = spec.layers
    shape = (f"one hidden layer of {layers[0]} ReLU unit{'s' if layers[0] > 1 else ''}" if len(layers) == 1 else
             f"{len(layers)} hidden layers of {', '.join(map(str, layers))} ReLU units")
    how = "an MMULT array formula per layer" if model.name == "mmult" else "a SUMPRODUCT column per unit"
    return f"a neural net, {shape}, written as {how}."


def _output(spec: Spec) -> str:
    if spec.task == "multiclass":
        return ("The output is a softmax over the classes: each class's probability (P columns) and the predicted "
                "class (Class).")
    if spec.task == "continuous":
        return f"The output is the predicted {spec.target}; the loss is the squared error."
    if spec.loss == "logloss":
        return "The output is the probability of 1 (a sigmoid); the loss is the log-loss."
    return "The output is the prediction (over 0.5 counts as 1); the loss is the squared error, as in the lesson."


def _wrapped(line: str) -> list[str]:
    """A line cut into lines of at most WIDTH characters, at spaces, indented as the first."""
    indent = line[:len(line) - len(line.lstrip())]
    return textwrap.wrap(line, WIDTH, subsequent_indent=indent) or [""]


def readme_lines(spec: Spec, layouts: dict[str, SheetLayout]) -> list[tuple[str, bool]]:
    """(text, is a heading) of each line of the sheet."""
    first = next(iter(layouts.values()))
    lines = [("A model you can read: every number below the headers is a live formula", True),
             ("This workbook was made by xlnet from a CSV. No macros and no add-in: each model sheet computes its "
              "predictions", False),
             ("and its loss with ordinary formulas, so you can change any input cell and watch everything follow.",
              False),
             ("", False), ("The sheets", True)]
    for name, at in layouts.items():
        lines.append((f"  {name}: {_what(at.model, spec)}", False))
    lines.append((f"  {DATA_SHEET}: every column of the CSV as it was read.", False))
    lines += [("  history, curves (after `xlnet fit`): every fit's parameters before and after, and its loss curve; "
               "predict (after", False),
              ("  `xlnet predict --sheet`): new rows and each model's prediction, as live formulas.", False),
              ("", False), ("On each model sheet", True),
              (f"  From row {FIRST_ROW} down, one {spec.noun} each: the CSV's values, then the derived columns and the "
               "features (formulas),", False),
              ("  then the model's columns.", False)]
    if spec.derived:
        lines.append(("  Derived columns: " + "; ".join(f"{c.name} = {' '.join(c.formula.split())}"
                                                         for c in spec.derived)[:WIDTH - 20], False))
    lines += [("  Inputs are the yellow cells with a border: the parameters" + (
        " and the weight decay" if first.decay_cell_at else "") + "; the rest is computed from them and the data.",
        False), (f"  {_output(spec)}", False)]
    if first.split:
        lines += [("  The Set column marks each row train or valid: the fit learns from the train rows; the valid "
                   "figures say how", False), ("  the model does on rows it never saw.", False)]
    lines += [("", False), ("What Solver minimises, and how to refit", True)]
    for name, at in layouts.items():
        cell = absolute(*at.loss_cell_at)
        what = "the objective: the mean training loss + the weight decay x the sum of the squared parameters" \
            if at.model.decay else "the mean loss of the rows"
        lines.append((f"  {name}!{cell}: {what}.", False))
    lines += [("  Each sheet keeps its Solver settings: in Excel, Data > Solver (GRG Nonlinear); in LibreOffice, "
               "Tools > Solver.", False),
              ("  Or, with xlnet installed: `xlnet fit THIS.xlsx` (better fits, and faster), then `xlnet predict "
               "THIS.xlsx new.csv`.", False)]
    return [(text, heading) for line, heading in lines for text in _wrapped(line)]


def write_readme_sheet(w: Writer, spec: Spec, models: dict[str, Model], n: int, split: bool) -> None:
    """The README sheet into a new workbook, at the position of the sheets written so far."""
    layouts = {name: SheetLayout(spec, model, n, split) for name, model in models.items()}
    stream = w.sheet(README_SHEET, widths={1: WIDTH})
    title, plain = w.style(TITLE), w.style(Style())
    for r, (text, heading) in enumerate(readme_lines(spec, layouts), 1):
        if text:
            stream.row(r, [(1, text, title if heading else plain)])
    stream.close()
    w.define(README_NAME, sheet_ref(README_SHEET, "$A$1"), hidden=True)
