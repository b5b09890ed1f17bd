"""The `xlnet` command: a thin client of the library that turns its errors into `Error: ...`."""
from __future__ import annotations

import functools

import click

from .build import build as build_workbook
from .data import MISSING_CHOICES
from .errors import XlnetError


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
@click.option("--missing", type=click.Choice(MISSING_CHOICES), default="drop", show_default=True,
              help="Rows with a missing Age, Fare or Embarked: drop them (the lesson) or fill with the mode.")
@click.option("--force", is_flag=True, help="Overwrite the workbook if it exists.")
@reports_errors
def build(csv, out, seed, missing, force):
    """Build the lesson's workbook from a Titanic CSV (default: the embedded copy).

    \b
    Example:
        xlnet build                                  # -> workbooks/titanic.xlsx
        xlnet build train.csv --out my.xlsx --seed 42
    """
    s = build_workbook(csv, out, seed=seed, missing=missing, force=force)
    click.echo(f"Read {s.rows_read} rows from {s.source}, kept {s.rows_kept}, {s.features} features.")
    for name, loss in s.losses.items():
        click.echo(f"  {name:<7} starting loss {loss:.10f}")
    click.echo(f"Wrote {s.out}")
