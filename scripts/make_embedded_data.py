"""Make src/xlnet/presets/titanic.csv (the lesson preset's data, shipped in the package) from the
explainerdashboard 0.5.8 wheel on PyPI (MIT, (c) 2019 Oege Dijk).

The wheel ships Kaggle's 891 Titanic training passengers split in two files with
one-hot columns; this maps them back to Kaggle's column names.

    python scripts/make_embedded_data.py          # downloads the wheel with pip
    python scripts/make_embedded_data.py WHEEL    # or uses one you have
"""
from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "explainerdashboard==0.5.8"
MEMBERS = ("explainerdashboard/datasets/titanic_train.csv", "explainerdashboard/datasets/titanic_test.csv")
OUT = Path(__file__).resolve().parent.parent / "src" / "xlnet" / "presets" / "titanic.csv"
COLUMNS = ("Survived", "Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked")
PORTS = {"Embarked_Cherbourg": "C", "Embarked_Queenstown": "Q", "Embarked_Southampton": "S", "Embarked_Unknown": ""}


def number(text: str) -> str:
    """'22.0' -> '22', '0.42' -> '0.42': the way Kaggle's file writes numbers."""
    x = float(text)
    return str(int(x)) if x == int(x) else repr(x)


def sex_of(row: dict) -> str:
    """The Sex dummies; one passenger has neither set in the package, so read it off the title."""
    for sex in ("male", "female"):
        if row[f"Sex_{sex}"] == "1":
            return sex
    title = row["Name"].split(", ", 1)[1].split(".", 1)[0]
    return {"Mr": "male", "Master": "male", "Mrs": "female", "Miss": "female", "Ms": "female"}[title]


def convert(row: dict) -> dict:
    sex = sex_of(row)
    (port,) = [p for column, p in PORTS.items() if row[column] == "1"]
    return {"Survived": row["Survival"], "Pclass": row["PassengerClass"], "Name": row["Name"], "Sex": sex,
            "Age": "" if float(row["Age"]) == -999 else number(row["Age"]),
            "SibSp": row["No_of_siblings_plus_spouses_on_board"],
            "Parch": row["No_of_parents_plus_children_on_board"], "Fare": number(row["Fare"]), "Embarked": port}


def wheel_path(argv: list[str], tmp: str) -> Path:
    if argv:
        return Path(argv[0])
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", tmp, PACKAGE], check=True)
    return next(Path(tmp).glob("explainerdashboard-0.5.8-*.whl"))


def main(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel_path(argv, tmp)) as wheel:
        rows = [convert(r) for m in MEMBERS for r in csv.DictReader(io.TextIOWrapper(wheel.open(m), "utf-8"))]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    OUT.write_text(buf.getvalue(), encoding="utf-8")
    print(f"{OUT}: {len(rows)} rows, sha256 {hashlib.sha256(OUT.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main(sys.argv[1:])
