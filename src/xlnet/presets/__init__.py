"""Presets: a lesson's spec, data and defaults as data that the general code reads, never a code path of its own.

`LESSON` is fast.ai's Titanic lesson, what `xlnet build` makes when no target is named.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from xlnet.model.spec import Spec


@dataclass(frozen=True)
class Preset:
    name: str
    spec: Callable[[str], Spec]  # the preset's spec for a --missing choice
    csv: Path                    # its data, shipped inside the package
    out: str                     # the workbook `xlnet build` writes by default
    empty_hint: str              # said of a CSV with no rows
    columns_hint: str            # said of a CSV that lacks the preset's columns
    describes: str = ""          # what the preset's CSV is, for a CSV that is plainly something else
    valid_pct: float = 0.0       # the rows held out by default
    readme_first: bool = False   # xlnet's README sheet first (else after the lesson's own sheets, in their order)


def lesson() -> Preset:
    from xlnet.presets import titanic
    return titanic.PRESET
