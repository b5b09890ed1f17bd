"""A sheet's summary: what xlnet computed from a model sheet's rows when it wrote the sheet's parameters (the
metrics of those parameters, the statistics, the levels and fill values seen in training, the least-squares
optimum), recorded in the note beside the sheet's seam (xlsx.seam).

`compare` and `predict` need nothing else from the rows, so with a summary they read only the sheet's first rows
(its parameters) instead of every row: at a million rows, compare takes 0.2 s instead of 4.6 s. A summary is trusted
only while the sheet's zip member is byte for byte the one it was written with (the note's CRC and size), and only
for the very parameters, weight decay, spec, layout and row count it names (its key); anything else reads the rows.
An app that saves the workbook drops the note with the rest of xlnet's zip records.
"""
from __future__ import annotations

import json
import math
import zlib

import numpy as np

from xlnet.model.spec import Spec
from xlnet.workbook.layout import SheetLayout
from xlnet.workbook.sheet_data import SheetData

VERSION = 1  # of what a summary holds and how each figure is computed: a change makes old summaries unread
LARGEST = 4 << 20  # inflated bytes of a summary read at most (a note holds 64 KiB; a bomb is not read)


def key(spec: Spec, at: SheetLayout, W: np.ndarray, decay: float, n: int) -> int:
    """A digest of everything a summary's figures depend on besides the rows: the spec, the layout, the row
    count, the parameters and the weight decay."""
    text = json.dumps({"version": VERSION, "spec": spec.to_json(), "layout": at.fingerprint(), "rows": n,
                       "W": np.asarray(W, float).tobytes().hex(), "decay": float(decay)})
    return zlib.crc32(text.encode())


def note(sheet: SheetData, W: np.ndarray, decay: float) -> bytes | None:
    """The note that records `sheet`'s summary for parameters W at this decay (None: not one worth keeping, as
    where a figure is not finite)."""
    figures = {"metrics": sheet.metrics(W, decay), "statistics": sheet.statistics(), "levels": sheet.levels_seen(),
               "modes": sheet.modes(), "optimum": sheet.optimum(decay)}
    if not all(math.isfinite(v) for v in [*figures["metrics"].values(), *figures["statistics"].values()]):
        return None
    n = sheet.layout.n
    try:
        text = json.dumps({"key": key(sheet.spec, sheet.layout, W, decay, n), "rows": n, **figures},
                          separators=(",", ":"), allow_nan=False, default=_plain)
    except (ValueError, TypeError):  # a level or a fill JSON does not hold (NaN, an odd type): no summary
        return None
    return zlib.compress(text.encode(), 6)


def read(note: bytes | None) -> dict | None:
    """The summary a note holds (None where it holds none that this version reads)."""
    if not note:
        return None
    try:
        inflate = zlib.decompressobj()
        text = inflate.decompress(note, LARGEST)
        if inflate.unconsumed_tail or not inflate.eof:
            return None
        summary = json.loads(text)
    except (zlib.error, ValueError, UnicodeDecodeError, RecursionError):
        return None
    need = {"key": int, "rows": int, "metrics": dict, "statistics": dict, "levels": dict, "modes": dict}
    if not isinstance(summary, dict) or not all(isinstance(summary.get(k), t) for k, t in need.items()):
        return None
    numbers = [*summary["metrics"].values(), *summary["statistics"].values(), summary.get("optimum") or 0.0]
    levels = summary["levels"].values()
    values = [v for level in levels if isinstance(level, list) for v in level] + list(summary["modes"].values())
    if not all(type(v) is float for v in numbers) or not all(isinstance(level, list) for level in levels) \
            or not all(v is None or type(v) in (str, float, int) for v in values):
        return None  # not as xlnet writes one
    return summary


def describes(summary: dict | None, sheet: SheetData) -> bool:
    """Whether a summary is of this sheet as it is: its spec, layout, rows, parameters and decay."""
    at = sheet.layout
    return summary is not None and summary["key"] == key(sheet.spec, at, sheet.W, sheet.weight_decay, at.n)


def adopt(summary: dict, sheet: SheetData) -> None:
    """Give the sheet the summary's figures, as if computed from its rows."""
    sheet.remember(summary["metrics"], {"statistics": summary["statistics"], "levels": summary["levels"],
                                        "modes": summary["modes"],
                                        ("optimum", float(sheet.weight_decay)): summary.get("optimum")})


def _plain(v):
    """A numpy scalar (a level or a mode read from the rows) as JSON holds it."""
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"{type(v).__name__} is not a summary figure")
