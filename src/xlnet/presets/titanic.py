"""fast.ai's "How does a neural net really work": Kaggle's Titanic columns, checked strictly, and its ten features.

Strict values keep numpy and the sheet equal: Excel compares text without case, numpy exactly. The net is the
lesson's: two ReLUs summed, with no output weights (`output="sum"`).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from xlnet.model.spec import Column, Spec
from xlnet.presets import Preset

CSV = Path(str(resources.files(__package__).joinpath("titanic.csv")))


def spec(missing: str = "drop") -> Spec:
    return Spec(
        columns=[
            Column("PassengerId", "id", required=False),
            Column("Survived", "target", levels=[0, 1], allowed=[0, 1], integer=True, missing_ok=False),
            Column("Pclass", "categorical", "dummies", levels=[1, 2], labels=["Pclass_1", "Pclass_2"],
                   allowed=[1, 2, 3], integer=True, missing_ok=False),
            Column("Name", "ignored", required=False),
            Column("Sex", "categorical", "dummies", levels=["male"], labels=["Male"], allowed=["male", "female"],
                   missing_ok=False),
            Column("Age", "numeric", "scale", labels=["Age_N"], minimum=0.0),
            Column("SibSp", "numeric", "none", integer=True, minimum=0.0, missing_ok=False),
            Column("Parch", "numeric", "none", integer=True, minimum=0.0, missing_ok=False),
            Column("Ticket", "ignored", required=False),
            Column("Fare", "numeric", "log", labels=["log_Fare"], minimum=0.0),
            Column("Cabin", "ignored", required=False),
            Column("Embarked", "categorical", "dummies", levels=["S", "C"], labels=["Embark_S", "Embark_C"],
                   allowed=["S", "C", "Q"]),
        ],
        target="Survived", task="binary", loss="mse", hidden=2, missing=missing, preset="lesson", output="sum",
        raw_order=["Survived", "Embarked", "Pclass", "Sex", "Age", "Fare"],
        feature_order=["SibSp", "Parch", "Age", "Fare", "Pclass", "Embarked", "Sex"],
        noun="passenger",
    )


def legacy_spec() -> Spec:
    """The spec of a workbook xlnet 0.1 wrote (it had no spec sheet): the lesson's, without score cells."""
    old = spec()
    old.scores_without_split = False
    return old


PRESET = Preset(
    name="lesson", spec=spec, csv=CSV, out="workbooks/titanic.xlsx",
    empty_hint="xlnet needs Kaggle's Titanic train.csv or the same columns.", describes="Kaggle's Titanic train.csv",
    columns_hint=" Kaggle's test.csv has no Survived column: use train.csv. "
                 "For your own data, name the target with --target.")
