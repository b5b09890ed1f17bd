"""The `xlnet` command: a thin client of the library that turns its errors into `Error: ...`."""
from __future__ import annotations

import functools
import json
import sys
import time

import click

from xlnet.errors import XlnetError
from xlnet.model.net import SHEETS, solver_target
from xlnet.xlsx.safety import interrupt_raises, signal_came, signals_never_swallowed, terminate_like_interrupt

EXCEL_SOLVER_CELLS = 200  # variable cells Excel's own Solver accepts


def reports_errors(f):
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            with terminate_like_interrupt(), interrupt_raises(), signals_never_swallowed():
                return f(*args, **kwargs)
        except KeyboardInterrupt:
            _aborted()
        except Exception as e:
            if signal_came():  # the signal's exception, made another by a library on its way out
                _aborted()
            if isinstance(e, XlnetError):
                raise click.ClickException(str(e)) from None
            raise
    return wrapper


def _aborted() -> None:
    click.echo("Aborted: stopped before writing; nothing was changed.", err=True)
    sys.exit(130)


def names(text: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip()) if text else ()


def spec_options(f):
    """The options that make a spec: shared by build and inspect."""
    for option in reversed((
        click.option("--target", help="The column to predict (default: the lesson's Titanic preset)."),
        click.option("--spec", "spec_file", type=click.Path(dir_okay=False),
                     help="A TOML spec (as `xlnet inspect --write-spec` makes) instead of inference."),
        click.option("--derive", multiple=True, metavar="NAME=EXPRESSION",
                     help="A new column computed by a spreadsheet expression over the others, as a live formula on "
                          "the model sheets: 'FamilySize=SibSp+Parch+1'. Repeat for more; each may use those "
                          "before it. See docs/derive.md."),
        click.option("--categorical", help="Columns to treat as categorical (comma-separated)."),
        click.option("--numeric", help="Columns to treat as numeric, scaled."),
        click.option("--log", help="Numeric columns to transform as LOG10(x+1)."),
        click.option("--ignore", help="Columns to leave out of the model."),
        click.option("--max-levels", type=click.IntRange(1, 1000),
                     help="Dummies per categorical column at most: its most frequent levels. [default: 100] A level "
                          "has a dummy when it has 1 % of the rows or 30 rows; rarer ones join the baseline."),
        click.option("--id", "id_column", help="The id column: kept, never a feature."),
        click.option("--positive", help="The target level that counts as 1: a binary target (one against the rest)."),
        click.option("--classes", is_flag=True, help="Predict the target's values as classes (a softmax over them)."),
        click.option("--continuous", is_flag=True, help="Predict the target as a number, even a few whole ones."),
        click.option("--hidden", help="Units of each hidden layer of the nets: 8, or 8,4 for two layers (default 2, "
                                      "the lesson's)."),
        click.option("--loss", type=click.Choice(("mse", "logloss", "crossentropy")),
                     help="mse (the lesson's; a number), logloss (a sigmoid output, binary target) or "
                          "crossentropy (a softmax output, classes). [default: mse; crossentropy for classes]"),
        click.option("--missing", type=click.Choice(("drop", "mode", "median")),
                     help="Rows with a missing feature: drop them, or fill with the mode, or numbers with the "
                          "median and categories with the mode. [default: median with --target; drop for the "
                          "lesson's preset, as the lesson does]"),
    )):
        f = option(f)
    return f


def spec_kwargs(target, spec_file, derive, categorical, numeric, log, ignore, max_levels, id_column, positive,
                classes, continuous, hidden, loss, missing) -> dict:
    options = dict(derive=derive, categorical=names(categorical), numeric=names(numeric), log=names(log),
                   ignore=names(ignore), max_levels=max_levels, id_column=id_column, positive=positive,
                   classes=classes, continuous=continuous)
    return dict(target=target, spec_file=spec_file, hidden=hidden, loss=loss, missing=missing,
                **{k: v for k, v in options.items() if v})


def model_option(f):
    return click.option("--model", "which", type=click.Choice(SHEETS + ("all",)), default="all",
                        show_default=True, help="The model sheet.")(f)


def _decay(ctx, param, value: str) -> float | str:
    if value in ("auto", "sheet"):
        return value
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"auto, sheet or a number, not {value!r}") from None


def fit_options(f):
    for option in reversed((
        click.option("--epochs", default=200, show_default=True, type=int, help="Adam epochs before L-BFGS."),
        click.option("--lr", default=0.03, show_default=True, type=float, help="Adam's peak learning rate."),
        click.option("--restarts", default=96, show_default=True, type=int,
                     help="Random starts (the first is the workbook's)."),
        click.option("--batch-size", type=int, default=None, help="Mini-batch SGD for Adam (default: full batch)."),
        click.option("--seed", default=0, show_default=True, type=int, help="Seed of the restarts and mini-batches."),
    )):
        f = option(f)
    return f


class Commands(click.Group):
    """A group whose command list shows each command's whole summary (click cuts it at about 45 characters)."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.get_command(ctx, name).get_short_help_str(limit=1000)) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=Commands)
@click.version_option(package_name="xlnet")
def cli():
    """Spreadsheet neural nets you can read: build a workbook from a CSV (fast.ai's Titanic lesson by default),
    fit it, predict with it, compare it with Solver. Each model is live formulas; see README.md."""


@cli.command()
@click.argument("csv", required=False, type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False),
              help="The workbook to write [default: workbooks/titanic.xlsx for the lesson, else CSV-NAME.xlsx].")
@click.option("--seed", default=42, show_default=True, type=int, help="Seed of the random starting parameters.")
@click.option("--valid-pct", type=float,
              help="Fraction of the rows held out as a validation set [default: 0.2 with --target and 50 rows or "
                   "more, so fit can choose what generalises; 0 for the lesson's layout].")
@click.option("--force", is_flag=True, help="Overwrite the workbook if it exists.")
@spec_options
@reports_errors
def build(csv, out, seed, valid_pct, force, **spec):
    """Build the workbook from a CSV: the lesson's Titanic preset, or any table with --target.

    \b
    Example:
        xlnet build                                  # -> workbooks/titanic.xlsx
        xlnet build train.csv --out my.xlsx --seed 42
        xlnet build customers.csv --target churned --hidden 8 --loss logloss --valid-pct 0.2
    """
    from pathlib import Path

    from xlnet.commands.build import build as build_workbook  # the CSV machinery loads only for the commands that read one

    kwargs = spec_kwargs(**spec)
    if out is None and (kwargs["target"] or kwargs["spec_file"]):
        out = Path(csv or "data").stem + ".xlsx"  # the lesson's preset names its own
    s = build_workbook(csv, out, seed=seed, valid_pct=valid_pct, force=force, **kwargs)
    valid = f" ({s.rows_kept - s.rows_valid} train, {s.rows_valid} valid)" if s.rows_valid else ""
    click.echo(f"Read {s.rows_read} rows from {s.source}, kept {s.rows_kept}{valid}, {s.features} features.")
    for line in report_lines(s.report, s.spec):
        click.echo(f"  {line}")
    for name, m in s.metrics.items():
        more = f", valid loss {m['valid_loss']:.10g}" if s.rows_valid else ""
        click.echo(f"  {name:<7} starting loss {m['train_loss']:.10g}{more}")
    for name, n in s.variables.items():
        if n > EXCEL_SOLVER_CELLS:
            click.echo(f"  {name}: {n} parameter cells; Excel's own Solver changes at most {EXCEL_SOLVER_CELLS} "
                       "(xlnet fits them all; Analytic Solver takes more)")
    click.echo(f"Wrote {s.out}")


def report_lines(report: dict, spec) -> list[str]:
    lines = []
    if report.get("target_missing"):
        lines.append(f"left out {report['target_missing']} rows with no {spec.target} (never trained on)")
    if report.get("dropped"):
        lines.append(f"dropped {report['dropped']} rows with a missing value (--missing drop)")
    for column, n in report.get("filled", {}).items():
        lines.append(f"filled {n} missing {column} with {spec.column(column).fill!r}")
    return lines


@cli.command()
@click.argument("csv", type=click.Path(dir_okay=False))
@spec_options
@click.option("--json", "as_json", is_flag=True, help="Print the spec as JSON for scripts.")
@click.option("--write-spec", type=click.Path(dir_okay=False), help="Write the spec as TOML for `build --spec`.")
@reports_errors
def inspect(csv, as_json, write_spec, **spec):
    """Show the column spec xlnet infers from a CSV (or reads from --spec): kinds, transforms, levels, why.

    \b
    Example:
        xlnet inspect customers.csv --target churned
        xlnet inspect customers.csv --target churned --write-spec churn.toml
    """
    from xlnet.commands.inspect import inspect_csv

    text, spec_obj, toml = inspect_csv(csv, **spec_kwargs(**spec))
    if write_spec:
        from xlnet.xlsx.safety import replacing
        with replacing(write_spec) as tmp:
            tmp.write_text(toml, encoding="utf-8")
    click.echo(json.dumps(spec_obj.as_dict(), indent=2, default=str) if as_json else text)
    if write_spec and not as_json:
        click.echo(f"Wrote {write_spec}")


class LazyBar:
    """A progress bar on stderr (a terminal) that appears only once the work has taken more than a second."""

    def __init__(self, total: int, quiet: bool):
        self.total, self.quiet, self.done, self.bar = total, quiet or not sys.stderr.isatty(), 0, None
        self.start = time.monotonic()

    def expect(self, total: int) -> None:
        """The work turned out to be this many steps (a fit that tries several weight decays)."""
        self.total = total
        if self.bar is not None:
            self.bar.length = total

    def __call__(self, steps: int) -> None:
        self.done += steps
        if self.quiet:
            return
        if self.bar is None and time.monotonic() - self.start > 1:
            self.bar = click.progressbar(length=self.total, label="fitting", file=sys.stderr)
            self.bar.__enter__()
            self.bar.update(self.done)
        elif self.bar is not None:
            self.bar.update(steps)

    def close(self) -> None:
        """Ends the bar (and its line), once: a table printed after it starts on a line of its own."""
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def figure(x: float | None, width: int = 16, digits: int = 10) -> str:
    """A figure in a column `width` wide: `digits` significant digits (0.1289429366, 18281459.98), and a space
    before it however large it is, so that columns never run together."""
    if x is None:
        return " " * width
    return " " + f"{x:.{digits}g}".rjust(width - 1)


def _score_key(m: dict, which: str) -> str | None:
    return next((k for k in m if k.startswith(which + "_") and not k.endswith("loss")), None)


@cli.command()
@click.argument("workbook", type=click.Path())
@model_option
@fit_options
@click.option("--out", type=click.Path(), help="Write the fitted workbook here (default: in place).")
@click.option("--cv", type=int, help="Report K-fold cross-validated scores instead, writing nothing.")
@click.option("--weight-decay", default="auto", show_default=True, callback=_decay,
              help="auto: with a validation set, the decay (of 0, 1e-4 ... 0.1) whose fit has the lowest "
                   "validation loss; without one, the sheet's decay cell. sheet: that cell. Or a number.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@reports_errors
def fit(workbook, which, epochs, lr, restarts, batch_size, seed, out, cv, weight_decay, quiet):
    """Fit the parameters of the workbook's model sheets and write them back.

    Reads the rows and the starting parameters from the workbook itself, so edits made
    in Excel count. Only the parameter cells change (and the weight decay cell), and
    xlnet's own history and curves sheets; everything else in the workbook is kept as it is.
    With a validation set, new parameters are written only when their validation loss is
    lower; without one, when the loss Solver minimises is.

    \b
    Example:
        xlnet fit workbooks/titanic.xlsx
        xlnet fit my.xlsx --model nnet --seed 1 --out fitted.xlsx
    """
    from xlnet.fitting.estimator import GradientFit
    from xlnet.commands.fit import fit_workbook

    sheets = SHEETS if which == "all" else (which,)
    settings = dict(epochs=epochs, lr=lr, restarts=restarts, batch_size=batch_size, random_state=seed)
    bar = LazyBar(GradientFit(**settings).steps() * len(sheets) * (cv or 1), quiet)
    try:
        if cv is not None:
            return _cross_validate(workbook, cv, sheets, bar, {**settings, "weight_decay": weight_decay})
        results = fit_workbook(workbook, sheets=sheets, out=out, progress=bar, weight_decay=weight_decay,
                               **settings)
    finally:
        bar.close()
    split = "valid_loss" in results[0].after
    score = _score_key(results[0].after, "train")
    label = "" if score is None else "acc" if score.endswith("accuracy") else "R²"
    objective = any("objective" in r.after for r in results)
    extra = (f"{'objective':>16}" if objective else "") + (
        f"{'valid loss':>16}{'train ' + label:>11}{'valid ' + label:>11}" if split else f"{label:>11}" if score
        else "")
    click.echo(f"{'sheet':<8}{'loss before':>16}{'loss after':>16}{extra}{'iterations':>12}{'seconds':>9}")
    for r in results:
        a = r.after
        extra = (figure(a.get("objective")) if objective else "") + (
            f"{figure(a['valid_loss'])}{figure(a[score], 11, 4)}{figure(a[_score_key(a, 'valid')], 11, 4)}" if split
            else figure(a[score], 11, 4) if score else "")
        click.echo(f"{r.sheet:<8}{figure(r.loss_before)}{figure(r.loss_after)}{extra}{r.iterations:>12}"
                   f"{r.seconds:>9.2f}")
    if objective:
        click.echo("loss: the mean loss of the training rows; objective: the loss plus the weight decay's penalty, "
                   "what fit and Solver minimise.")
    _verdict({r.sheet: r.after for r in results})
    decays = {r.sheet: r.weight_decay for r in results if "objective" in r.after}
    if decays:
        how = "chosen by the validation loss" if split and weight_decay == "auto" else "the sheet's" \
            if weight_decay in ("auto", "sheet") else "as given"
        click.echo(f"Weight decay ({how}): " + ", ".join(f"{k} {v:g}" for k, v in decays.items()))
    for r in results:
        if not r.improved:
            on = " on the validation set" if split else ""
            click.echo(f"{r.sheet}: the fit was no better{on} than the workbook's parameters; they were left as "
                       "they were.")
    click.echo(f"Wrote {out or workbook}")


@cli.command()
@click.argument("workbook", type=click.Path())
@click.argument("csv", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="The CSV to write [default: predictions.csv].")
@click.option("--proba", is_flag=True, help="The probability (or the raw output) instead of the label.")
@click.option("--model", "which", type=click.Choice(SHEETS), help="The model sheet [default: the best on "
              "the validation set; without one, linear].")
@click.option("--id", "id_column", help="The id column to write beside each prediction [default: the spec's].")
@click.option("--force", is_flag=True, help="Overwrite the CSV if it exists.")
@click.option("--sheet", is_flag=True, help="Also add (or replace) a live `predict` sheet in the workbook.")
@reports_errors
def predict(workbook, csv, out, proba, which, id_column, force, sheet):
    """Predict new rows with a fitted workbook: a CSV of id and prediction, in input order.

    \b
    Example:
        xlnet predict workbooks/titanic.xlsx test.csv --out submission.csv   # PassengerId,Survived
        xlnet predict churn.xlsx new_customers.csv --out scores.csv --proba --model nnet
    """
    from xlnet.commands.predict import check_csv_out, predict_csv, write_predictions

    target = out or "predictions.csv"
    check_csv_out(target, force)  # before any work, and before the workbook is written
    p = predict_csv(workbook, csv, model=which, id_column=id_column, sheet=sheet)
    path = write_predictions(p, target, proba=proba, force=force)
    click.echo(f"Predicted {len(p.ids)} rows of {p.source} with {p.model} ({p.why}).")
    if p.no_id:
        click.echo(f"  {p.source} has no {p.no_id} column, so the rows are numbered from 1 (--id names another "
                   "column)")
    for column, (n, value) in p.filled.items():
        click.echo(f"  filled {n} missing {column} with {value!r} (learned when the workbook was built)")
    for column, n in p.unseen.items():
        click.echo(f"  {n} rows have a {column} the workbook never saw: all its dummies are 0 for them")
    if p.sheet:
        click.echo(f"Wrote the sheet {p.sheet!r} of {workbook}")
    click.echo(f"Wrote {path}")


@cli.command()
@click.argument("workbook", type=click.Path())
@click.option("--fit", "number", type=int, required=True, help="The fit's number in the history sheet.")
@click.option("--before", is_flag=True, help="Restore the parameters that fit replaced, not those it wrote.")
@model_option
@reports_errors
def restore(workbook, number, before, which):
    """Put the parameters of a past fit back (from xlnet's history sheet), atomically, with a history row.

    \b
    Example:
        xlnet restore workbooks/titanic.xlsx --fit 1 --before    # as before the first fit
    """
    from xlnet.commands.restore import restore_workbook

    sheets = SHEETS if which == "all" else (which,)
    results = restore_workbook(workbook, number, before=before, sheets=sheets)
    click.echo(f"{'sheet':<8}{'loss before':>16}{'loss after':>16}")
    for r in results:
        click.echo(f"{r.sheet:<8}{figure(r.loss_before)}{figure(r.loss_after)}")
    click.echo(f"Wrote {workbook}")


def _cross_validate(workbook, k, sheets, bar, settings) -> None:
    from xlnet.commands.cv import cross_validate

    results = cross_validate(workbook, k, sheets=sheets, progress=bar, **settings)
    bar.close()
    name = "accuracy" if results[0].score_name == "accuracy" else "R²"
    click.echo(f"{'sheet':<8}{'cv loss':>16}{'cv ' + name:>14}{'sd':>9}  folds")
    for r in results:
        click.echo(f"{r.sheet:<8}{figure(r.loss)}{figure(r.score, 14, 4)}{figure(r.score_sd, 9, 4)}  {len(r.scores)}")
    click.echo(f"{k}-fold cross-validation of {workbook}; nothing was written.")


@cli.group(cls=Commands)
def lesson():
    """The lessons as live workbooks."""


@lesson.command("sgd")
@click.option("--out", default="sgd.xlsx", show_default=True, type=click.Path(dir_okay=False),
              help="The workbook to write.")
@click.option("--steps", default=100, show_default=True, type=int, help="Rows of gradient descent.")
@click.option("--lr", default=0.1, show_default=True, type=float, help="The learning rate (a cell: change it there).")
@click.option("--seed", default=42, show_default=True, type=int, help="Seed of the points and the mini-batches.")
@click.option("--batch-size", type=int, help="Rows per step, from a fixed seeded permutation (default: all).")
@click.option("--optimizer", type=click.Choice(("sgd", "momentum", "adam")), default="sgd", show_default=True,
              help="Plain gradient descent, momentum, or Adam: each a column of formulas.")
@click.option("--model", type=click.Choice(("line", "quadratic")), default="line", show_default=True,
              help="y = a1·x + a2 (the 2019 lesson) or a1·x² + a2·x + a3 (lesson 3's quadratic).")
@click.option("--force", is_flag=True, help="Overwrite the workbook if it exists.")
@reports_errors
def lesson_sgd(out, steps, lr, seed, batch_size, optimizer, model, force):
    """Gradient descent you can watch: every step a row of formulas, no macros.

    \b
    Example:
        xlnet lesson sgd --out sgd.xlsx
        xlnet lesson sgd --batch-size 10 --optimizer adam --out adam.xlsx
    """
    from xlnet.commands.lesson import build_lesson

    s = build_lesson(out, steps=steps, lr=lr, seed=seed, batch_size=batch_size, optimizer=optimizer, model=model,
                     force=force)
    first, last = s.rows[0]["loss"], s.rows[-1]["loss"]
    params = ", ".join(f"a{i + 1} = {s.rows[-1][p]:.6g}" for i, p in enumerate(s.plan.params))
    click.echo(f"{s.plan.optimizer}, lr {lr:g}: loss {first:.6f} at step 0, {last:.6g} at step {steps} ({params}); "
               f"the least-squares loss is {s.optimum:.6f}.")
    if s.within_1pct is not None:
        click.echo(f"Within 1 % of it from step {s.within_1pct}.")
    _lesson_end(s, first, last)


@lesson.command("relu")
@click.option("--out", default="relu.xlsx", show_default=True, type=click.Path(dir_okay=False),
              help="The workbook to write.")
@click.option("--units", default=1, show_default=True, type=int, help="ReLUs added up (1 to 20).")
@click.option("--curve", type=click.Choice(("quadratic", "wiggly", "vee")), default="quadratic", show_default=True,
              help="The points' curve: 3x²+2x+1 (the lesson's), sin(3x)+x/2, or |x-0.5|; plus a seeded noise.")
@click.option("--steps", default=100, show_default=True, type=int, help="Rows of gradient descent.")
@click.option("--lr", default=0.03, show_default=True, type=float, help="The learning rate (a cell: change it there).")
@click.option("--optimizer", type=click.Choice(("sgd", "momentum", "adam")), default="sgd", show_default=True,
              help="Plain gradient descent, momentum, or Adam.")
@click.option("--seed", default=42, show_default=True, type=int, help="Seed of the points' noise.")
@click.option("--force", is_flag=True, help="Overwrite the workbook if it exists.")
@reports_errors
def lesson_relu(out, units, curve, steps, lr, optimizer, seed, force):
    """ReLUs that draw any curve: units max(0, m·x+b) added up, fitted by gradient descent, every step a row.

    \b
    Example:
        xlnet lesson relu --out relu.xlsx
        xlnet lesson relu --units 2 --out double.xlsx
        xlnet lesson relu --units 10 --curve wiggly --steps 500 --lr 0.05 --out squiggly.xlsx
    """
    from xlnet.commands.lesson import build_relu_lesson

    s = build_relu_lesson(out, units=units, curve=curve, steps=steps, lr=lr, optimizer=optimizer, seed=seed,
                          force=force)
    first, last = s.rows[0]["loss"], s.rows[-1]["loss"]
    click.echo(f"{units} ReLU{'s' if units > 1 else ''} on {curve}, {optimizer}, lr {lr:g}: loss {first:.6g} at "
               f"step 0, {last:.6g} at step {steps}; the best weights for these bends would reach "
               f"{s.least_squares:.6g}.")
    _lesson_end(s, first, last)


def _lesson_end(s, first: float, last: float) -> None:
    """A lesson's last lines: a warning where its descent diverges, and the workbook written."""
    if s.diverged:
        click.echo(f"Warning: the descent diverges: the loss grows from {first:.6g} to {last:.6g}; lower --lr.",
                   err=True)
    click.echo(f"Wrote {s.out}")


def _verdict(metrics: dict[str, dict]) -> None:
    """Which sheet `predict` will use, and why, once every model sheet's figures are at hand."""
    from xlnet.fitting.service import choose_sheet
    if set(metrics) == set(SHEETS) and all(metrics.values()):
        name, why = choose_sheet(metrics)
        click.echo(f"predict will use {name}: {why}.")


def _row(sheet, label, m, gap="", seconds=None, split=False):
    value = figure(None if m is None else solver_target(m), 18)
    extra = ""
    if split:
        keys = ["valid_loss"] + [k for k in (m or {}) if k.endswith(("accuracy", "r2"))]
        extra = "".join(figure(None if m is None or k not in m else m[k], 18 if k.endswith("loss") else 12,
                               10 if k.endswith("loss") else 4) for k in keys[:3])
    secs = "" if seconds is None else f"{seconds:.2f}"
    return f"{sheet:<8}{label:<20}{value} {gap:>9}{extra}{secs:>9}"  # a gap of -7.395e-07 fills its 9


@cli.command()
@click.argument("workbook", type=click.Path())
@model_option
@click.option("--libreoffice", "use_lo", is_flag=True, help="Also run LibreOffice's solver on a copy, headless.")
@click.option("--engine", type=click.Choice(("swarm", "deps", "sco")), default="swarm", show_default=True,
              help="LibreOffice's solver engine (deps and sco need libreoffice-nlpsolver).")
@click.option("--time-limit", default=60.0, show_default=True, type=float, help="Seconds per sheet for LibreOffice.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of xlnet's restarts.")
@click.option("--refit", is_flag=True, help="Fit even a sheet that holds xlnet's fit with these settings.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--quiet", is_flag=True, help="No progress messages.")
@reports_errors
def compare(workbook, which, use_lo, engine, time_limit, seed, refit, as_json, quiet):
    """Compare the workbook's losses with xlnet's fit (and LibreOffice's solver). Read-only.

    The workbook's loss is that of the parameters now in it, as Excel Solver, LibreOffice,
    a hand edit or `xlnet fit` left them; xlnet's is what its solver reaches on the same
    data, without writing it. gap % is how far the workbook's loss is above xlnet's. The loss is
    what the sheet's Solver cell minimises: the mean loss, plus the weight decay's penalty where
    the sheet has one. Where the workbook's parameters are `xlnet fit`'s of the same rows
    with the same settings (recorded beside them), that fit is xlnet's, with its seconds,
    and gap % is 0; --refit fits again.

    \b
    Example:
        xlnet compare workbooks/titanic.xlsx
        xlnet compare my.xlsx --libreoffice --time-limit 60 --json
    """
    from xlnet.commands.compare import compare_workbook

    sheets = SHEETS if which == "all" else (which,)
    say = (lambda msg: None) if quiet or as_json else (lambda msg: click.echo(msg, err=True))
    results = compare_workbook(workbook, sheets=sheets, use_libreoffice=use_lo, engine=engine,
                               time_limit=time_limit, refit=refit, random_state=seed, progress=say)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        first = next((r.workbook for r in results if r.workbook), {})
        split = "valid_loss" in first
        score = "R²" if any(k.endswith("r2") for k in first) else "acc"
        extra = f"{'valid loss':>18}{'train ' + score:>12}{'valid ' + score:>12}" if split else ""
        target = "objective" if any("objective" in (r.workbook or {}) for r in results) else "loss"
        click.echo(f"{'sheet':<8}{'parameters':<20}{target:>18}{'gap %':>10}{extra}{'seconds':>9}")
        for r in results:
            if r.problem:
                click.echo(f"{r.sheet:<8}not compared: {r.problem}")
                continue
            click.echo(_row(r.sheet, "workbook", r.workbook, f"{r.gap_percent:.4g}", split=split))
            label = "xlnet (as fitted)" if r.xlnet_source == "workbook" else "xlnet"
            click.echo(_row(r.sheet, label, r.xlnet, seconds=r.xlnet_seconds, split=split))
            if r.optimum is not None:
                click.echo(_row(r.sheet, "least squares", {"train_loss": r.optimum}, split=False))
            if r.libreoffice:
                lo = r.libreoffice
                click.echo(_row(r.sheet, f"LibreOffice {lo['engine']}", {"train_loss": lo["loss"]},
                                seconds=lo["seconds"], split=False))
            now = solver_target(r.workbook)
            if r.cached_loss is not None and abs(r.cached_loss - now) > 1e-9 * abs(r.cached_loss):
                click.echo(f"{'':<8}note: the saved loss cell shows {r.cached_loss:.10g}; "
                           "recalculate the workbook to see the loss of its current parameters")
        _verdict({r.sheet: r.workbook for r in results if not r.problem})
        if any(r.xlnet_source == "workbook" for r in results):
            click.echo("xlnet (as fitted): the workbook holds xlnet fit's result for these rows and settings; "
                       "--refit fits again")
    problems = [r for r in results if r.problem]
    if problems:
        raise click.ClickException(f"{len(problems)} sheet(s) could not be compared: "
                                   + ", ".join(r.sheet for r in problems))


if __name__ == "__main__":
    cli()
