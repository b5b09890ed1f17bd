"""The spec a build (or `inspect`) uses for a CSV: a preset's when nothing names a target, a spec file's, or one
inferred from a survey of every row; the options win.

A spec file either lists every column (`[[columns]]`, as `inspect --write-spec` writes it) or is a recipe: the
target, the derived columns (`[derive]`) and the options `build` takes, with every column it does not name
inferred from the data as `--target` does.
"""
from __future__ import annotations

from pathlib import Path

from xlnet.errors import XlnetError
from xlnet.model.expr import parse_derive
from xlnet.model.features import derive as derive_values
from xlnet.model.spec import (Column, DerivedTracker, Spec, hidden_layers, infer, read_spec_file, spec_from_file)
from xlnet.presets import Preset, lesson
from xlnet.table.reading import CsvSource, Survey, Table, check_columns, type_table

DEFAULT_MISSING = "median"  # a row with a missing value still teaches the model: filled, not dropped
RECIPE_LISTS = ("categorical", "numeric", "log", "ignore")
RECIPE_VALUES = ("target", "loss", "hidden", "missing", "id", "positive", "classes", "continuous", "max_levels")


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
    """Whether the spec is inferred from the rows (so they are surveyed before anything else): a target named, or a
    spec file that is a recipe."""
    if spec_file is not None:
        return not read_spec_file(spec_file).get("columns")
    return target is not None


def derive_options(derive) -> list[tuple[str, str]]:
    """`--derive` options (NAME=EXPRESSION texts, or (name, expression) pairs) as (name, expression) pairs."""
    return [parse_derive(d) if isinstance(d, str) else tuple(d) for d in derive or ()]


def make_spec(source: CsvSource | Table, survey: Survey | None = None, *, target: str | None = None,
              spec_file: str | Path | None = None, missing: str | None = None, loss: str | None = None,
              hidden: int | None = None, derive=(), **options) -> Spec:
    """The preset's spec when nothing names a target; else the file's or the one inferred from the `survey` of
    every row, options winning."""
    hidden = None if hidden is None else hidden_layers(hidden)
    derive = derive_options(derive)
    if spec_file is not None:
        d = read_spec_file(spec_file)
        if d.get("columns"):
            return _from_file(d, source, spec_file, target, missing, loss, hidden, derive)
        target, missing, loss, hidden, derive, options = _recipe(d, spec_file, target, missing, loss, hidden,
                                                                 derive, options)
    preset = preset_for(target, spec_file)
    if preset is not None:
        spec = preset.spec(missing or "drop")
        if loss not in (None, spec.loss) or hidden not in (None, spec.hidden) or derive or any(options.values()):
            raise XlnetError(f"{source.source}: name the target column with --target to use spec options "
                             f"(the {preset.name}'s preset takes none).")
        _check_preset_csv(source, spec, preset)
        check_columns(source, spec, hint=preset.columns_hint)
        return spec
    if not target:
        raise XlnetError(f"{spec_file}: the recipe names no target; add target = \"COLUMN\" or use --target.")
    settings = dict(target=target, missing=missing or DEFAULT_MISSING, loss=loss,
                    hidden=2 if hidden is None else hidden, source=str(source.source), **options)
    trackers = _derived_trackers(source, survey, derive, settings) if derive else []
    return infer(source.header, survey.trackers, survey.n_rows, derived=trackers, **settings)


def _check_preset_csv(source, spec: Spec, preset: Preset) -> None:
    """A CSV that lacks most of the preset's columns is another table: say how to model it."""
    required = [c.name for c in spec.columns if c.required and c.kind != "ignored"]
    absent = [name for name in required if name not in source.header]
    if len(absent) > len(required) / 2:
        raise XlnetError(f"{source.source}: it is not {preset.describes} (it has no {', '.join(absent[:3])}, ...); "
                         f"to predict a column of this CSV, name it with --target COLUMN (its columns: "
                         f"{', '.join(source.header)[:200]}).")


def _from_file(d: dict, source, spec_file, target, missing, loss, hidden, derive) -> Spec:
    if target:
        d["target"] = target
    d.setdefault("missing", missing or "drop")
    for key, value in (("loss", loss), ("hidden", hidden)):
        if value is not None:
            d[key] = value
    d["derive"] = {**_table(d, "derive", spec_file), **dict(derive)}
    return spec_from_file(d, source.header, str(spec_file))


def _recipe(d: dict, spec_file, target, missing, loss, hidden, derive, options):
    """A recipe file's settings, the command's options winning (lists joined)."""
    unknown = set(d) - set(RECIPE_LISTS) - set(RECIPE_VALUES) - {"derive", "weight_decay", "task"}
    if unknown:
        raise XlnetError(f"{spec_file}: unknown setting {sorted(unknown)[0]!r}; a recipe takes "
                         f"{', '.join(RECIPE_VALUES + RECIPE_LISTS)} and a [derive] table.")
    for key in RECIPE_LISTS:
        given = d.get(key, [])
        if not (isinstance(given, list) and all(isinstance(n, str) for n in given)):
            raise XlnetError(f"{spec_file}: {key} must be a list of column names, like {key} = [\"Title\"].")
        options[key] = tuple(dict.fromkeys(list(given) + list(options.get(key, ()))))
    for key, option in (("id", "id_column"), ("positive", "positive"), ("classes", "classes"),
                        ("continuous", "continuous"), ("max_levels", "max_levels")):
        if key in d and not options.get(option):
            options[option] = d[key]
    derive = list({**_table(d, "derive", spec_file), **dict(derive)}.items())
    missing = missing or d.get("missing")
    return (target or d.get("target"), missing, loss or d.get("loss"),
            hidden if hidden is not None else d.get("hidden"), derive, options)


def _table(d: dict, key: str, spec_file) -> dict[str, str]:
    table = d.get(key, {})
    if not (isinstance(table, dict) and all(isinstance(v, str) for v in table.values())):
        raise XlnetError(f"{spec_file}: [{key}] must map each new column's name to its expression, like "
                         "FamilySize = \"SibSp+Parch+1\".")
    return table


def _derived_trackers(source, survey: Survey, derive: list[tuple[str, str]], settings: dict):
    """Each derived column's values over every row, as read (before any filling), for inference: a pass over the
    rows, typed by the spec of the CSV's own columns."""
    names = dict(derive)
    plain = dict(settings)  # options that name derived columns apply to them later, not to this first spec
    for key in RECIPE_LISTS:
        if key in plain:
            plain[key] = tuple(n for n in plain[key] if n not in names)
    if plain.get("id_column") in names:
        del plain["id_column"]
    spec = infer(source.header, survey.trackers, survey.n_rows, **plain)
    spec.columns += [Column(name, "ignored", formula=formula) for name, formula in derive]
    spec.check(str(source.source))
    trackers = {name: DerivedTracker() for name, _ in derive}
    for chunk in source.chunks():
        env = derive_values(spec, dict(type_table(chunk, spec).values), refuse=False)
        for name, tracker in trackers.items():
            tracker.add(env[name])
    return [(name, formula, trackers[name]) for name, formula in derive]
