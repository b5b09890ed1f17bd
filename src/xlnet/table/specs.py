"""The spec a build (or `inspect`) uses for a CSV: a preset's when nothing names a target, a spec file's, or one
inferred from a survey of every row; the options win."""
from __future__ import annotations

from pathlib import Path

from xlnet.errors import XlnetError
from xlnet.model.spec import Spec, hidden_layers, infer, read_spec_file, spec_from_file
from xlnet.presets import Preset, lesson
from xlnet.table.reading import CsvSource, Survey, Table, check_columns


def preset_for(target: str | None, spec_file: str | Path | None) -> Preset | None:
    """The lesson's preset where neither a target nor a spec file is named."""
    return lesson() if target is None and spec_file is None else None


def source_for(csv_path: str | Path | None, preset: Preset | None, max_rows: int | None = None) -> CsvSource:
    """The CSV to read (the lesson's, shipped with xlnet, where none is named), with the preset's wording."""
    path = Path(csv_path) if csv_path else lesson().csv
    if preset is None:
        return CsvSource(path, max_rows=max_rows)
    return CsvSource(path, max_rows=max_rows, noun=preset.spec("drop").noun, empty_hint=preset.empty_hint)


def infers(target: str | None, spec_file: str | Path | None) -> bool:
    """Whether the spec is inferred from the rows (so they are surveyed before anything else)."""
    return target is not None and spec_file is None


def make_spec(source: CsvSource | Table, survey: Survey | None = None, *, target: str | None = None,
              spec_file: str | Path | None = None, missing: str = "drop", loss: str | None = None,
              hidden: int | None = None, **options) -> Spec:
    """The preset's spec when nothing names a target; else the file's or the one inferred from the `survey` of
    every row, options winning."""
    hidden = None if hidden is None else hidden_layers(hidden)
    if spec_file is not None:
        d = read_spec_file(spec_file)
        if target:
            d["target"] = target
        d.setdefault("missing", missing)
        for key, value in (("loss", loss), ("hidden", hidden)):
            if value is not None:
                d[key] = value
        return spec_from_file(d, source.header, str(spec_file))
    preset = preset_for(target, spec_file)
    if preset is not None:
        spec = preset.spec(missing)
        if loss not in (None, spec.loss) or hidden not in (None, spec.hidden) or any(options.values()):
            raise XlnetError(f"{source.source}: name the target column with --target to use spec options "
                             f"(the {preset.name}'s preset takes none).")
        check_columns(source, spec, hint=preset.columns_hint)
        return spec
    return infer(source.header, survey.trackers, survey.n_rows, target=target, missing=missing, loss=loss,
                 hidden=2 if hidden is None else hidden, source=str(source.source), **options)
