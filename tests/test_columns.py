"""What xlnet makes of a CSV's own columns: every level with enough rows keeps a dummy (no fixed cap of 20, no
alphabetical ties), `--max-levels` bounds it, notes tell what the spec does, and a missing value is filled rather
than its row dropped when a target is named."""
from __future__ import annotations

import csv
import io

from click.testing import CliRunner

from xlnet.cli import cli
from xlnet.commands.build import build


def cities_csv(path, cities: int = 46, rows_each: int = 40):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["price", "city", "rooms"])
    for i in range(cities * rows_each):
        city = f"City{(i * 7) % cities:02d}"
        w.writerow([100 + (i * 7) % cities * 3 + i % 5, city, "" if i % 10 == 3 else str(1 + i % 6)])
    path.write_text(out.getvalue())
    return path


def test_every_level_with_enough_rows_keeps_its_dummy(tmp_path):
    s = build(cities_csv(tmp_path / "c.csv"), tmp_path / "c.xlsx", target="price", continuous=True)
    city = s.spec.column("city")
    assert len(city.levels) == 45 and "City39" not in city.levels  # one baseline, the rest each a dummy
    assert city.levels[:3] == ["City00", "City07", "City14"]  # equally frequent: in the order the rows show them
    assert city.note == "text; baseline 'City39'"  # the last seen of the least frequent


def test_max_levels_bounds_the_dummies_and_says_so(tmp_path):
    r = CliRunner().invoke(cli, ["inspect", str(cities_csv(tmp_path / "c.csv")), "--target", "price",
                                 "--continuous", "--max-levels", "10"])
    assert r.exit_code == 0, r.output
    line = next(line for line in r.output.splitlines() if line.startswith("city"))
    assert line.endswith("text; 36 past --max-levels 10 pooled with the baseline"), line


def test_rare_levels_are_pooled_by_a_rule_on_counts(tmp_path):
    path = tmp_path / "r.csv"
    rows = [["y", "c"]] + [[str(i % 2), "common"] for i in range(200)] + [[str(i % 2), "rare"] for i in range(2)] + \
        [[str(i % 2), "other"] for i in range(100)]
    path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    s = build(path, tmp_path / "r.xlsx", target="y")
    assert s.spec.column("c").levels == ["common", "other"]
    assert s.spec.column("c").note == "text; 1 level of fewer than 3.02 rows pooled with the baseline"


def test_a_named_target_fills_missing_values_and_the_lesson_still_drops(tmp_path):
    s = build(cities_csv(tmp_path / "c.csv"), tmp_path / "c.xlsx", target="price", continuous=True)
    assert (s.spec.missing, s.rows_read, s.rows_kept) == ("median", 1840, 1840)
    assert s.report["filled"] == {"rooms": 184}
    lesson = build(out=tmp_path / "t.xlsx")
    assert (lesson.spec.missing, lesson.rows_kept) == ("drop", 712)


def test_a_hand_edited_spec_file_is_described_as_the_spec_file_says(tmp_path):
    source = cities_csv(tmp_path / "c.csv")
    spec = tmp_path / "s.toml"
    r = CliRunner().invoke(cli, ["inspect", str(source), "--target", "price", "--continuous", "--max-levels", "5",
                                 "--write-spec", str(spec)])
    assert r.exit_code == 0 and "pooled" in spec.read_text()
    spec.write_text(spec.read_text().replace('levels = ["City00", "City07", "City14", "City21", "City28"]',
                                             'levels = ["City00"]'))
    r = CliRunner().invoke(cli, ["inspect", str(source), "--spec", str(spec)])
    line = next(line for line in r.output.splitlines() if line.startswith("city"))
    assert "pooled" not in line and line.endswith("the spec file"), line
