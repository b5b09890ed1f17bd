"""Reading and checking the Titanic CSV: Kaggle's train.csv as downloaded, or the embedded copy."""
from __future__ import annotations

import codecs
import csv
import io
import math
import re
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from .errors import XlnetError

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("Survived", "Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked")
OPTIONAL = ("Name",)
MAY_BE_MISSING = ("Age", "Fare", "Embarked")  # empty cells follow --missing
INTEGER = {"Survived": (0, 1), "Pclass": (1, 2, 3), "SibSp": None, "Parch": None}
LEVELS = {"Sex": ("male", "female"), "Embarked": ("S", "C", "Q")}
CELL_TEXT_LIMIT = 32_767  # characters an Excel cell holds
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not allowed in the workbook's XML
EMBEDDED = Path(__file__).resolve().parent.parent / "data" / "titanic.csv"
MISSING_CHOICES = ("drop", "mode")


def _decode(raw: bytes, path: Path) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel's "Unicode text"
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    if b"\x00" in raw[:65536]:
        raise XlnetError(f"{path}: this is a binary file, not a CSV; export the data as CSV (comma-separated text).")
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")


def _number(text: str, decimal_comma: bool) -> float:
    if decimal_comma:
        text = text.replace(",", ".")
    x = float(text)
    if not math.isfinite(x):
        raise ValueError(text)
    return x


def read_csv(path: str | Path, *, max_rows: int | None = None) -> pd.DataFrame:
    """Every passenger row as read, checked and typed; missing Age/Fare are NaN, missing Embarked None."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise XlnetError(f"{path}: cannot read it ({e.strerror}).") from None
    text = _decode(raw, path)
    if not text.strip():
        raise XlnetError(f"{path}: the file is empty; xlnet needs Kaggle's Titanic train.csv or the same columns.")
    header_line = text.splitlines()[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    delimiter = "\t" if header_line.count("\t") > header_line.count(delimiter) else delimiter
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in next(rows)]
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise XlnetError(f"{path}: the column {', '.join(duplicates)} appears more than once in the header; keep one.")
    missing = [c for c in COLUMNS if c not in header and c not in OPTIONAL]
    if missing:
        hint = (" Kaggle's test.csv has no Survived column: use train.csv." if missing == ["Survived"] else
                f" The header read was: {', '.join(header)[:200]}.")
        raise XlnetError(f"{path}: required column missing: {', '.join(missing)}.{hint}")
    index = {c: header.index(c) for c in COLUMNS if c in header}
    records, read_up_to = [], rows.line_num
    try:
        for fields in rows:
            if not any(f.strip() for f in fields):
                continue
            line = rows.line_num
            if len(fields) != len(header):
                raise XlnetError(f"{path}: line {line} has {len(fields)} fields but the header has {len(header)}; "
                                 "check the quoting of that line.")
            records.append(_record(path, line, {c: fields[i].strip() for c, i in index.items()}, delimiter == ";"))
            read_up_to = line
            if max_rows is not None and len(records) > max_rows:
                raise XlnetError(f"{path}: more than {max_rows:,} passenger rows, more than a worksheet holds "
                                 "(1,048,576 rows with its headers); split the file.")
    except csv.Error as e:
        raise XlnetError(f"{path}: line {read_up_to + 1} is not valid CSV ({e}).") from None
    if not records:
        raise XlnetError(f"{path}: the header is there but there are no passenger rows.")
    import pandas as pd  # here, so that commands that read no CSV start faster

    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def _record(path: Path, line: int, values: dict, decimal_comma: bool) -> dict:
    name = values.get("Name", "")
    if CONTROL.search(name):
        raise XlnetError(f"{path}: line {line}, column Name: it holds a control character "
                         f"({CONTROL.search(name).group()!r}) that a workbook cannot store; remove it.")
    if len(name) > CELL_TEXT_LIMIT:
        raise XlnetError(f"{path}: line {line}, column Name: {len(name):,} characters, more than the "
                         f"{CELL_TEXT_LIMIT:,} a cell holds.")
    out = {"Name": name}
    for column in ("Survived", "Pclass", "Age", "SibSp", "Parch", "Fare"):
        text = values[column]
        where = f"{path}: line {line}, column {column}"
        if text == "":
            if column not in MAY_BE_MISSING:
                raise XlnetError(f"{where}: the value is empty; every passenger needs a {column}.")
            out[column] = math.nan
            continue
        try:
            x = _number(text, decimal_comma)
        except ValueError:
            hint = (" If the file uses decimal commas, save it as CSV with decimal points."
                    if "," in text else "")
            raise XlnetError(f"{where}: {text[:40]!r} is not a number.{hint}") from None
        allowed = INTEGER.get(column)
        if column in INTEGER and (x != int(x) or (allowed and int(x) not in allowed) or x < 0):
            valid = " or ".join(map(str, allowed)) if allowed else "a whole number, 0 or more"
            raise XlnetError(f"{where}: {text[:40]!r} is not valid; it must be {valid}.")
        if x < 0:
            raise XlnetError(f"{where}: {text[:40]!r} is negative; it must be 0 or more.")
        out[column] = int(x) if column in INTEGER else x
    for column, levels in LEVELS.items():
        text = values[column]
        if text == "" and column in MAY_BE_MISSING:
            out[column] = None
        elif text not in levels:
            allowed = " or ".join(levels) + (" or empty" if column in MAY_BE_MISSING else "")
            raise XlnetError(f"{path}: line {line}, column {column}: {text[:40]!r} is not valid; "
                             f"it must be {allowed}.")
        else:
            out[column] = text
    return out


def check_missing(missing: str) -> None:
    if missing not in MISSING_CHOICES:
        raise XlnetError(f"--missing must be one of {', '.join(MISSING_CHOICES)}, not {missing!r}.")


def clean(raw: pd.DataFrame, missing: str = "drop", source: str | Path = "the CSV") -> pd.DataFrame:
    """The rows the models use: missing values dropped (the lesson) or filled with the column's mode."""
    check_missing(missing)
    cols = list(MAY_BE_MISSING)
    if missing == "drop":
        kept = raw.dropna(subset=cols)
        if kept.empty:
            raise XlnetError(f"{source}: no rows left after dropping rows with a missing Age, Fare or Embarked; "
                             "use --missing mode to fill them instead.")
    else:
        kept = raw.copy()
        for c in cols:
            present = kept[c].dropna()
            if present.empty:
                raise XlnetError(f"{source}: every {c} is missing, so it has no mode to fill it with.")
            kept[c] = kept[c].where(kept[c].notna(), present.mode().iloc[0])
    if kept["Age"].max() <= 0:
        raise XlnetError(f"{source}: every Age kept is 0, so Age_N = Age/MAX(Age) would divide by zero; "
                         "xlnet needs at least one Age above 0.")
    return kept.reset_index(drop=True)


def check_valid_pct(valid_pct: float) -> None:
    if not (isinstance(valid_pct, (int, float)) and 0 <= valid_pct < 1):
        raise XlnetError(f"--valid-pct must be a fraction from 0 to below 1, like 0.2, not {valid_pct!r}.")


def validation_split(n: int, valid_pct: float, seed: int | None) -> "np.ndarray | None":
    """'train'/'valid' for each of n rows: a seeded random valid_pct of them held out; None for 0."""
    check_valid_pct(valid_pct)
    if valid_pct == 0:
        return None
    n_valid = round(valid_pct * n)
    if not 0 < n_valid < n:
        raise XlnetError(f"--valid-pct {valid_pct} of {n} rows leaves {n_valid} for validation and "
                         f"{n - n_valid} for training; each needs at least one.")
    # A stream of its own, so the starting parameters do not depend on the split.
    rng = np.random.default_rng(None if seed is None else [seed, 1])
    sets = np.full(n, "train", dtype=object)
    sets[rng.choice(n, n_valid, replace=False)] = "valid"
    return sets
