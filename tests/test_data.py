from __future__ import annotations

import collections

import pytest

from xlnet.data import COLUMNS, EMBEDDED, clean, read_csv
from xlnet.errors import XlnetError


def multiset(df):
    rows = df[list(COLUMNS)].astype(object).where(df[list(COLUMNS)].notna(), None)
    return collections.Counter(rows.itertuples(index=False, name=None))


def test_embedded_rows_are_kaggles_training_passengers(kaggle_train):
    assert multiset(read_csv(EMBEDDED)) == multiset(read_csv(kaggle_train))


def test_kaggle_train_as_downloaded(kaggle_train):
    raw = read_csv(kaggle_train)
    assert len(raw) == 891
    assert raw.iloc[0].to_dict() == {"Survived": 0, "Pclass": 3, "Name": "Braund, Mr. Owen Harris", "Sex": "male",
                                    "Age": 22.0, "SibSp": 1, "Parch": 0, "Fare": 7.25, "Embarked": "S"}
    assert len(clean(raw)) == 712


def test_missing_rows_dropped_or_filled_with_the_mode():
    raw = read_csv(EMBEDDED)
    assert raw["Age"].isna().sum() == 177 and raw["Embarked"].isna().sum() == 2
    assert len(clean(raw, "drop")) == 712
    filled = clean(raw, "mode")
    assert len(filled) == 891 and filled[["Age", "Embarked"]].notna().all().all()
    assert (filled["Age"] == 24).sum() == (raw["Age"] == 24).sum() + 177
    assert (filled["Embarked"] == "S").sum() == (raw["Embarked"] == "S").sum() + 2


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
        read_csv(p)
    assert str(e.value) == f"{p}: {message}".replace("line 2", "line 3")
