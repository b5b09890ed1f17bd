"""The `xlnet` command: a thin client of the library that turns its errors into `Error: ...`."""
from __future__ import annotations

import functools
import json
import sys
import time

import click

from .errors import XlnetError
from .fit import GradientFit, fit_workbook
from .layout import MODEL_SHEETS


def reports_errors(f):
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except XlnetError as e:
            raise click.ClickException(str(e)) from None
    return wrapper


@click.group()
@click.version_option(package_name="xlnet")
def cli():
    """The fast.ai lesson's spreadsheet neural net: build it from a CSV, fit it, compare with Solver."""


@cli.command()
@click.argument("csv", required=False, type=click.Path(dir_okay=False))
@click.option("--out", default="workbooks/titanic.xlsx", show_default=True, type=click.Path(dir_okay=False),
              help="The workbook to write.")
@click.option("--seed", default=42, show_default=True, type=int, help="Seed of the random starting parameters.")
@click.option("--missing", type=click.Choice(("drop", "mode")), default="drop", show_default=True,
              help="Rows with a missing Age, Fare or Embarked: drop them (the lesson) or fill with the mode.")
@click.option("--valid-pct", default=0.0, show_default=True, type=float,
              help="Fraction of the rows held out as a validation set (0: the lesson's layout).")
@click.option("--force", is_flag=True, help="Overwrite the workbook if it exists.")
@reports_errors
def build(csv, out, seed, missing, valid_pct, force):
    """Build the lesson's workbook from a Titanic CSV (default: the embedded copy).

    \b
    Example:
        xlnet build                                  # -> workbooks/titanic.xlsx
        xlnet build train.csv --out my.xlsx --seed 42
        xlnet build --valid-pct 0.2 --seed 42         # hold out 20 % for validation
    """
    from .build import build as build_workbook  # pandas loads only for the commands that read a CSV

    s = build_workbook(csv, out, seed=seed, missing=missing, valid_pct=valid_pct, force=force)
    valid = f" ({s.rows_kept - s.rows_valid} train, {s.rows_valid} valid)" if s.rows_valid else ""
    click.echo(f"Read {s.rows_read} rows from {s.source}, kept {s.rows_kept}{valid}, {s.features} features.")
    for name, m in s.metrics.items():
        more = f", valid loss {m['valid_loss']:.10f}" if s.rows_valid else ""
        click.echo(f"  {name:<7} starting loss {m['train_loss']:.10f}{more}")
    click.echo(f"Wrote {s.out}")


class LazyBar:
    """A progress bar on stderr (a terminal) that appears only once the work has taken more than a second."""

    def __init__(self, total: int, quiet: bool):
        self.total, self.quiet, self.done, self.bar = total, quiet or not sys.stderr.isatty(), 0, None
        self.start = time.monotonic()

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
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@cli.command()
@click.argument("workbook", type=click.Path(dir_okay=False))
@click.option("--model", "which", type=click.Choice(MODEL_SHEETS + ("all",)), default="all", show_default=True,
              help="The model sheet to fit.")
@click.option("--epochs", default=200, show_default=True, type=int, help="Adam epochs before L-BFGS.")
@click.option("--lr", default=0.03, show_default=True, type=float, help="Adam's peak learning rate.")
@click.option("--restarts", default=96, show_default=True, type=int,
              help="Random starts (the first is the workbook's).")
@click.option("--batch-size", type=int, default=None, help="Mini-batch SGD for Adam (default: full batch).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the restarts and mini-batches.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the fitted workbook here (default: in place).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@reports_errors
def fit(workbook, which, epochs, lr, restarts, batch_size, seed, out, quiet):
    """Fit the parameters of the workbook's model sheets and write them back.

    Reads the rows and the starting parameters from the workbook itself, so edits made
    in Excel count. Only the parameter cells change; the history sheet keeps the
    parameters they held before.

    \b
    Example:
        xlnet fit workbooks/titanic.xlsx
        xlnet fit my.xlsx --model nnet --seed 1 --out fitted.xlsx
    """
    sheets = MODEL_SHEETS if which == "all" else (which,)
    settings = dict(epochs=epochs, lr=lr, restarts=restarts, batch_size=batch_size, random_state=seed)
    bar = LazyBar(GradientFit(**settings).steps() * len(sheets), quiet)
    try:
        results = fit_workbook(workbook, sheets=sheets, out=out, progress=bar, **settings)
    finally:
        bar.close()
    split = "valid_loss" in results[0].after
    extra = f"{'valid loss':>16}{'train acc':>11}{'valid acc':>11}" if split else ""
    click.echo(f"{'sheet':<8}{'loss before':>16}{'loss after':>16}{extra}{'iterations':>12}{'seconds':>9}")
    for r in results:
        a = r.after
        extra = f"{a['valid_loss']:>16.10f}{a['train_accuracy']:>11.4f}{a['valid_accuracy']:>11.4f}" if split else ""
        click.echo(f"{r.sheet:<8}{r.loss_before:>16.10f}{r.loss_after:>16.10f}{extra}{r.iterations:>12}"
                   f"{r.seconds:>9.2f}")
    click.echo(f"Wrote {out or workbook}")


def _row(sheet, label, m, gap="", seconds=None, split=False):
    loss = "" if m is None else f"{m['train_loss']:.10f}"
    extra = ""
    if split:
        extra = "".join(f"{'' if m is None or k not in m else format(m[k], f) :>14}"
                        for k, f in (("valid_loss", ".10f"), ("train_accuracy", ".4f"), ("valid_accuracy", ".4f")))
    secs = "" if seconds is None else f"{seconds:.2f}"
    return f"{sheet:<8}{label:<20}{loss:>14}{gap:>9}{extra}{secs:>9}"


@cli.command()
@click.argument("workbook", type=click.Path(dir_okay=False))
@click.option("--model", "which", type=click.Choice(MODEL_SHEETS + ("all",)), default="all", show_default=True)
@click.option("--libreoffice", "use_lo", is_flag=True, help="Also run LibreOffice's solver on a copy, headless.")
@click.option("--engine", type=click.Choice(("swarm", "deps", "sco")), default="swarm", show_default=True,
              help="LibreOffice's solver engine (deps and sco need libreoffice-nlpsolver).")
@click.option("--time-limit", default=60.0, show_default=True, type=float, help="Seconds per sheet for LibreOffice.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of xlnet's restarts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--quiet", is_flag=True, help="No progress messages.")
@reports_errors
def compare(workbook, which, use_lo, engine, time_limit, seed, as_json, quiet):
    """Compare the workbook's losses with xlnet's fit (and LibreOffice's solver). Read-only.

    The workbook's loss is that of the parameters now in it, as Excel Solver, LibreOffice,
    a hand edit or `xlnet fit` left them; xlnet's is what its solver reaches on the same
    data, without writing it. gap % is how far the workbook's loss is above xlnet's.

    \b
    Example:
        xlnet compare workbooks/titanic.xlsx
        xlnet compare my.xlsx --libreoffice --time-limit 60 --json
    """
    from .compare import compare_workbook

    sheets = MODEL_SHEETS if which == "all" else (which,)
    say = (lambda msg: None) if quiet or as_json else (lambda msg: click.echo(msg, err=True))
    results = compare_workbook(workbook, sheets=sheets, use_libreoffice=use_lo, engine=engine,
                               time_limit=time_limit, random_state=seed, progress=say)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        split = any(r.workbook and "valid_loss" in r.workbook for r in results)
        extra = f"{'valid loss':>14}{'train acc':>14}{'valid acc':>14}" if split else ""
        click.echo(f"{'sheet':<8}{'parameters':<20}{'loss':>14}{'gap %':>9}{extra}{'seconds':>9}")
        for r in results:
            if r.problem:
                click.echo(f"{r.sheet:<8}not compared: {r.problem}")
                continue
            click.echo(_row(r.sheet, "workbook", r.workbook, f"{r.gap_percent:.4f}", split=split))
            click.echo(_row(r.sheet, "xlnet", r.xlnet, seconds=r.xlnet_seconds, split=split))
            if r.optimum is not None:
                click.echo(_row(r.sheet, "least squares", {"train_loss": r.optimum}, split=split))
            if r.libreoffice:
                lo = r.libreoffice
                click.echo(_row(r.sheet, f"LibreOffice {lo['engine']}", {"train_loss": lo["loss"]},
                                seconds=lo["seconds"], split=split))
            if r.cached_loss is not None and abs(r.cached_loss - r.workbook["train_loss"]) > 1e-9 * r.cached_loss:
                click.echo(f"{'':<8}note: the saved loss cell shows {r.cached_loss:.10f}; "
                           "recalculate the workbook to see the loss of its current parameters")
    problems = [r for r in results if r.problem]
    if problems:
        raise click.ClickException(f"{len(problems)} sheet(s) could not be compared: "
                                   + ", ".join(r.sheet for r in problems))


if __name__ == "__main__":
    cli()
