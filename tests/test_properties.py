"""Property-based: any CSV, valid, slightly broken or hostile, gives a sound workbook or a clean error."""
from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import built_or_refused
from test_workbook import check_against_numpy

COLUMNS = ["PassengerId", "Survived", "Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Ticket", "Fare", "Cabin",
           "Embarked"]
number = st.floats(0, 600, allow_nan=False).map(lambda x: f"{x:.4g}")
printable = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)
VALID = {
    "PassengerId": st.integers(1, 10_000).map(str), "Survived": st.sampled_from(["0", "1"]),
    "Pclass": st.sampled_from(["1", "2", "3"]), "Sex": st.sampled_from(["male", "female"]),
    "Age": st.one_of(number, number, number, st.just("")), "SibSp": st.integers(0, 8).map(str), "Parch": st.integers(0, 6).map(str),
    "Ticket": printable, "Fare": number, "Cabin": printable,
    "Embarked": st.sampled_from(["S", "C", "Q", ""]),
    "Name": st.one_of(printable, st.sampled_from(['=HYPERLINK("http://x","y")', "+1", "-1", "@A1",
                                                             "\t=1", "=1+1"])),
}
HOSTILE = st.one_of(st.text(max_size=12), st.sampled_from(["nan", "inf", "-1", "1e999", "", "=1+1", "3.5", " 2 "]))


@st.composite
def csv_files(draw, broken: bool):
    columns = draw(st.permutations(COLUMNS)) if broken and draw(st.booleans()) else COLUMNS
    if broken and draw(st.integers(0, 9)) == 0:
        columns = [c for c in columns if c != draw(st.sampled_from(COLUMNS))]
    rows = []
    for _ in range(draw(st.integers(1, 25))):
        rows.append([draw(HOSTILE if broken and draw(st.integers(0, 30)) == 0 else VALID[c]) for c in columns])
    buf = io.StringIO()
    csv.writer(buf, delimiter=draw(st.sampled_from([",", ";"])) if broken else ",").writerows([columns] + rows)
    text = buf.getvalue()
    if broken and draw(st.integers(0, 9)) == 0:
        return text.encode("utf-8")[: draw(st.integers(0, len(text)))]  # a truncated file
    return text.encode(draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])) if broken else "utf-8",
                       errors="replace")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(csv_files(broken=False), csv_files(broken=True)))
def test_build_writes_a_sound_workbook_or_fails_cleanly(data):
    with tempfile.TemporaryDirectory() as d:
        built_or_refused(data, Path(d), missing="drop")


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(data=csv_files(broken=False))
def test_generated_workbooks_recalculate_in_libreoffice_to_numpy(data, libreoffice):
    with tempfile.TemporaryDirectory() as d:
        summary = built_or_refused(data, Path(d), missing="drop")
        if summary is not None:
            losses = check_against_numpy(summary.out, libreoffice, Path(d))
            assert losses == summary.losses or all(
                abs(losses[k] - summary.losses[k]) <= 1e-12 * abs(summary.losses[k]) for k in losses)
