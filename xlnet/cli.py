"""The `xlnet` command: a thin client of the library that turns its errors into `Error: ...`."""
from __future__ import annotations

import functools
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
@click.option("--restarts", default=96, show_default=True, type=int, help="Random starts (the first is the workbook's).")
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


if __name__ == "__main__":
    cli()
