from __future__ import annotations

import collections

import numpy as np
import pytest

from xlnet.table.cleaning import clean
from xlnet.presets.titanic import CSV as EMBEDDED
from xlnet.table.reading import read_table, type_table
from xlnet.errors import XlnetError
from xlnet.presets import titanic

COLUMNS = ("Survived", "Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked")


def multiset(path):
    table = read_table(path)
    return collections.Counter(zip(*(table.column(c) for c in COLUMNS)))


def typed(path, missing="drop"):
    table = read_table(path)
    spec = titanic.spec(missing)
    return table, spec, type_table(table, spec)


def test_embedded_rows_are_kaggles_training_passengers(kaggle_train):
    normal = lambda c: collections.Counter(tuple(v.rstrip("0").rstrip(".") if "." in v else v for v in row)
                                           for row in c.elements())
    assert normal(multiset(EMBEDDED)) == normal(multiset(kaggle_train))


def test_kaggle_train_as_downloaded(kaggle_train):
    table, spec, frame = typed(kaggle_train)
    assert len(table) == 891
    assert {c: table.column(c)[0] for c in COLUMNS} == {
        "Survived": "0", "Pclass": "3", "Name": "Braund, Mr. Owen Harris", "Sex": "male", "Age": "22", "SibSp": "1",
        "Parch": "0", "Fare": "7.25", "Embarked": "S"}
    assert len(clean(frame, spec)) == 712


def test_missing_rows_dropped_or_filled_with_the_mode():
    table, spec, frame = typed(EMBEDDED)
    assert np.isnan(frame.values["Age"]).sum() == 177 and sum(v is None for v in frame.values["Embarked"]) == 2
    assert len(clean(frame, spec)) == 712
    table, spec, frame = typed(EMBEDDED, "mode")
    filled = clean(frame, spec)
    assert len(filled) == 891 and not np.isnan(filled.values["Age"]).any()
    assert (filled.values["Age"] == 24).sum() == (frame.values["Age"] == 24).sum() + 177
    assert (filled.values["Embarked"] == "S").sum() == (frame.values["Embarked"] == "S").sum() + 2
    assert filled.report["filled"] == {"Age": 177, "Embarked": 2}
    assert spec.column("Age").fill == 24 and spec.column("Embarked").fill == "S"


def write(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


HEADER = "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n"
ROW = '1,0,3,"Braund, Mr. Owen Harris",male,22,1,0,A/5 21171,7.25,,S\n'


@pytest.mark.parametrize("line, message", [
    ('1,0,3,"B, Mr. O",male,abc,1,0,T,7.25,,S', "line 2, column Age: 'abc' is not a number."),
    ('1,2,3,"B, Mr. O",male,22,1,0,T,7.25,,S', "line 2, column Survived: '2' is not valid; it must be 0 or 1."),
    ('1,0,4,"B, Mr. O",male,22,1,0,T,7.25,,S', "line 2, column Pclass: '4' is not valid; it must be 1 or 2 or 3."),
    ('1,0,3,"B, Mr. O",m,22,1,0,T,7.25,,S', "line 2, column Sex: 'm' is not valid; it must be male or female."),
    ('1,0,3,"B, Mr. O",male,22,1,0,T,7.25,,X',
     "line 2, column Embarked: 'X' is not valid; it must be S or C or Q or empty."),
    ('1,0,3,"B, Mr. O",male,22,1,0,T,-1,,S', "line 2, column Fare: '-1' is negative; it must be 0 or more."),
])
def test_bad_values_name_file_line_and_column(tmp_path, line, message):
    p = write(tmp_path, HEADER + ROW + line + "\n")
    with pytest.raises(XlnetError) as e:
        typed(p)
    assert str(e.value) == f"{p}: {message}".replace("line 2", "line 3")


def test_a_header_of_100000_columns_is_checked(tmp_path):
    """The duplicate check counts names once (it was quadratic: 104 s for this header)."""
    header = ",".join(f"c{i}" for i in range(100_000))
    p = write(tmp_path, header + ",c5\n" + ",".join("1" for _ in range(100_001)) + "\n")
    with pytest.raises(XlnetError, match="the column c5 appears more than once in the header; keep one."):
        read_table(p)


def test_the_csv_is_read_in_chunks_and_batches_as_it_would_be_whole(tmp_path, monkeypatch):
    """The reader streams: the encoding is found by decoding the file chunk by chunk, and the rows are numbered a
    batch at a time. Tiny chunks and batches put a character and the row limit across every boundary."""
    from xlnet.table import reading as data
    rows = [f'{i},"Dupré, Mme. {i}",{i % 3}\n' for i in range(1, 8)]
    for chunk in (1, 2, 3, 5, 64):
        monkeypatch.setattr(data, "READ_CHUNK", chunk)
        monkeypatch.setattr(data, "ENCODE_ROWS", 3)
        for encoding in ("utf-8", "utf-8-sig", "cp1252", "utf-16"):
            p = tmp_path / f"{encoding}.csv"
            p.write_bytes(("\r\n" + "Id,Name,Class\n" + "".join(rows) + " , ,\n").encode(encoding))
            table = read_table(p, max_rows=7)
            assert table.header == ["Id", "Name", "Class"]
            assert list(table.column("Name")) == [f"Dupré, Mme. {i}" for i in range(1, 8)]
            assert table.column("Class").distinct == ["1", "2", "0"]
            assert table.lines.tolist() == list(range(3, 10))
            with pytest.raises(XlnetError, match="more than 6 row rows, more than a worksheet holds"):
                read_table(p, max_rows=6)


def test_build_reads_the_csv_once_and_refuses_it_if_it_changed_meanwhile(tmp_path, monkeypatch):
    """build parses the CSV once (its later passes read the chunks it kept); a save of the file during that read
    must not mix two versions of the rows: one Error line, nothing written."""
    from xlnet.table import reading as data
    from xlnet.commands.build import build
    from xlnet.table.reading import CsvSource

    csv = tmp_path / "t.csv"
    csv.write_bytes(EMBEDDED.read_bytes())
    whole_pass, passes = CsvSource.chunks, []

    def chunks(self, rows=None):
        passes.append(1)
        for k, chunk in enumerate(whole_pass(self, rows)):
            yield chunk
            if k == 0 and edit:
                with open(csv, "a") as f:  # saved again, one passenger longer
                    f.write(EMBEDDED.read_text().splitlines()[1] + "\n")
    monkeypatch.setattr(CsvSource, "chunks", chunks)
    monkeypatch.setattr(data, "ENCODE_ROWS", 100)
    edit = False
    build(csv, tmp_path / "first.xlsx", target="Survived")  # three passes: survey, cleaning, writing
    assert len(passes) == 1
    edit = True
    with pytest.raises(XlnetError, match=r"t\.csv: the file changed while it was read; run the command again"):
        build(csv, tmp_path / "out.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.xlsx", "t.csv"]


def test_no_room_for_builds_kept_chunks_is_one_error_line_and_nothing_written(tmp_path, monkeypatch):
    import errno
    import os
    import tempfile

    from xlnet.commands.build import build

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    with pytest.raises(XlnetError, match=r"titanic\.csv: cannot keep its rows in a temporary file \(No space left on "
                                         r"device\); make room in .* or point TMPDIR elsewhere\."):
        build(out=tmp_path / "out.xlsx")
    assert list(tmp_path.iterdir()) == []
