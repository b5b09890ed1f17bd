"""Derived columns: expressions the user writes, each a live formula on the model sheets that LibreOffice and
Gnumeric compute as numpy does (text exactly, numbers at relative 1e-12), and every bad expression refused in one
line naming it, with nothing written."""
from __future__ import annotations

import csv
import io

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import ROOT, read_sheets
from office import gnumeric_convert, ssconvert
from test_workbook import check_against_numpy, check_computed_columns
from xlnet.cli import cli
from xlnet.commands.build import build
from xlnet.commands.fit import fit_workbook
from xlnet.errors import XlnetError
from xlnet.model.expr import Expression
from xlnet.model import features as features_module

PENGUINS_CSV = ROOT / "data" / "penguins.csv"
TITLE = 'TRIM(MID(Name,FIND(",",Name)+1,FIND(".",Name)-FIND(",",Name)-1))'
NAMES = ["Braund, Mr. Owen Harris", "smith,  MR.  john", "", "Élodie, Mme. X", "  spaced  out  ", "no comma here",
         'a "quoted" one', "Rothes, the Countess. of (Lucy)", "UPPER, Dr. LOWER", "x"]
NUMS = ["0", "1", "2.5", "3", "", "7", "10", "0.5", "-4", "12"]
CODES = ["12", "3.5", "abc", "", "7", "A B", "-2", "x", "0", "Mr"]
EDGE_CASES = {
    "Found": 'IFERROR(FIND("x",Name),-1)', "FoundFrom": 'IFERROR(FIND("o",Name,5),"none")',
    "Searched": 'IFERROR(SEARCH("MR",Name),0)', "Wild": 'IFERROR(SEARCH("b?a*d",Name),0)',
    "PastEnd": "MID(Name,50,3)", "Left3": "LEFT(Name,3)", "Right2": "RIGHT(Name,2)", "Left": "LEFT(Name)",
    "Length": "LEN(Name)", "Up": "UPPER(Name)", "Low": "LOWER(Name)", "Trimmed": "TRIM(Name)",
    "Swapped": 'SUBSTITUTE(Name,"a","o")', "SecondA": 'SUBSTITUTE(Name,"a","o",2)',
    "Blank": 'IF(ISBLANK(Num),"none","some")', "IsNum": "ISNUMBER(Num)*1", "PlusOne": "Num+1",
    "Smith": 'IF(TRIM(Name)="SMITH, MR. JOHN",1,0)', "Joined": 'Name&"-"&ROUND(Num,0)',
    "Valued": "IF(ISBLANK(Code),0,IFERROR(VALUE(Code),-99))", "RoundTen": "ROUND(Num*1.2345,-1)", "RoundThree": "ROUND(Num/7,3)",
    "Half": "ROUND(Num+0.5,0)", "Least": "MIN(Num,3)", "Most": "MAX(Num,Name,-1)", "Both": "AND(Num>1,Num<5)*1",
    "Either": "OR(Num>9,Num<0)*1", "Nots": "NOT(ISBLANK(Num))*1", "Whole": "INT(Num/3)", "Dist": "ABS(Num-3)",
    "Root": 'IFERROR(SQRT(Num),"neg")', "Ln": "IFERROR(LN(Num+1),-1)", "Log": 'IFERROR(LOG10(Num),"no")',
    "Exp": "EXP(Num/10)", "Sq": "Num^2", "NegSq": "-Num^2", "Pow": "2^Num", "Inv": 'IFERROR(1/Num,"inf")',
    "Chain": "Num-1-2", "Nested": "2^3^2", "Big": 'IF(Num>2,"big","small")', "Quote": '"say ""hi"""&Name',
    "Case": 'IF(Code="mr",1,0)', "CodeNum": 'IF(ISNUMBER(Code),Code*2,Code&"!")', "Eq": '"=1+1"',
}


def _table(rows: list[list[str]], header: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header] + rows)
    return out.getvalue()


def edge_csv(path, copies: int = 3):
    rows = [[str(i % 2), NAMES[i % 10], NUMS[(i * 3) % 10], CODES[(i * 7) % 10], str(i % 5 * 1.5)]
            for i in range(10 * copies)]
    path.write_text(_table(rows, ["y", "Name", "Num", "Code", "X"]), encoding="utf-8")
    return path


def apps(path, libreoffice, tmp_path) -> dict:
    out = {"LibreOffice": openpyxl.load_workbook(libreoffice(path, tmp_path / "lo"), data_only=True)}
    if ssconvert():
        out["Gnumeric"] = openpyxl.load_workbook(gnumeric_convert(path, tmp_path / "gn"), data_only=True)
    return out


def build_derived(tmp_path, derive: dict[str, str], **options):
    source = edge_csv(tmp_path / "edge.csv")
    return build(source, tmp_path / "d.xlsx", target="y", derive=list(derive.items()),
                 ignore=tuple(derive) + ("Name", "Num", "Code"), valid_pct=0, **options)


def test_each_function_s_edge_cases_compute_as_the_apps_do(tmp_path, libreoffice):
    s = build_derived(tmp_path, EDGE_CASES)
    sheet = read_sheets(s.out)["linear"]
    assert sheet.env["PastEnd"].tolist()[:3] == ["", "", ""]
    assert sheet.env["Smith"].tolist()[1] == 1.0 and sheet.env["Nested"][0] == 64.0
    assert sheet.env["Eq"][0] == "=1+1"  # text, never a formula
    for app, wb in apps(s.out, libreoffice, tmp_path).items():
        check_computed_columns(wb["linear"], sheet, app)


def test_titanic_title_and_family_size_are_live_features(tmp_path, libreoffice, kaggle_train):
    s = build(kaggle_train, tmp_path / "t.xlsx", target="Survived", derive=[("Title", TITLE),
              ("FamilySize", "SibSp+Parch+1")], categorical=("Title",), numeric=("FamilySize",))
    title, size = s.spec.column("Title"), s.spec.column("FamilySize")
    assert (title.kind, size.kind, size.transform) == ("categorical", "numeric", "scale")
    assert title.levels[:4] == ["Mr", "Miss", "Mrs", "Master"]
    fit_workbook(s.out, restarts=4, epochs=30)
    check_against_numpy(s.out, libreoffice, tmp_path)
    formula = openpyxl.load_workbook(s.out)["linear"]
    at = read_sheets(s.out)["linear"].layout
    assert formula.cell(4, at.col["Title"]).value == (
        '=TRIM(MID(I4,FIND(",",I4)+1,FIND(".",I4)-FIND(",",I4)-1))').replace("I", _letter(at, "Name"))
    # New rows: the predict sheet computes the derived columns the same way.
    r = CliRunner().invoke(cli, ["predict", str(s.out), str(kaggle_train.with_name("test.csv")), "--sheet",
                                 "--out", str(tmp_path / "p.csv")])
    assert r.exit_code == 0, r.output
    values = openpyxl.load_workbook(libreoffice(s.out, tmp_path / "lo2"), data_only=True)["predict"]
    header = {values.cell(3, c).value: c for c in range(1, values.max_column + 1)}
    titles = [values.cell(4 + i, header["Title"]).value for i in range(418)]
    assert titles[:3] == ["Mr", "Mrs", "Mr"] and titles.count("Master") == 21


def _letter(at, column: str) -> str:
    from xlnet.xlsx.read import letters
    return letters(at.col[column])


TEXTS = st.text(alphabet="aBc ,.x1-", max_size=6)
LEAVES = st.one_of(st.sampled_from(["Name", "Num", "Code", "X"]),
                   st.integers(-3, 12).map(str), st.sampled_from(["0.5", "2.25", "1E1"]),
                   TEXTS.map(lambda t: '"' + t.replace('"', '""') + '"'))


def _node(children):
    def binary(op):
        return st.tuples(children, children).map(lambda ab: f"({ab[0]}){op}({ab[1]})")

    def call(name, n):
        return st.lists(children, min_size=n, max_size=n).map(lambda a: f"{name}({','.join(a)})")
    return st.one_of(*(binary(op) for op in ("+", "-", "*", "/", "^", "&", "=", "<>", "<", ">=")),
                     st.tuples(st.sampled_from(["-", "+"]), children).map(lambda t: f"{t[0]}({t[1]})"),
                     *(call(name, n) for name, n in (("IF", 3), ("IFERROR", 2), ("ABS", 1), ("ROUND", 2),
                                                       ("INT", 1), ("MIN", 2), ("MAX", 3), ("LEN", 1), ("LEFT", 2),
                                                       ("RIGHT", 1), ("MID", 3), ("FIND", 2), ("SEARCH", 3),
                                                       ("TRIM", 1), ("UPPER", 1), ("LOWER", 1),
                                                       ("SUBSTITUTE", 3), ("VALUE", 1), ("ISBLANK", 1),
                                                       ("ISNUMBER", 1), ("AND", 2), ("OR", 1), ("NOT", 1),
                                                       ("SQRT", 1), ("LN", 1), ("LOG10", 1), ("EXP", 1))))


EXPRESSIONS = st.recursive(LEAVES, _node, max_leaves=8).map(lambda e: f'IFERROR({e},"E")')


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck),
          phases=(Phase.explicit, Phase.reuse, Phase.generate))  # a shrink would recalculate in the apps for hours
@given(st.lists(EXPRESSIONS, min_size=40, max_size=40))
def test_generated_expressions_compute_as_the_apps_do(tmp_path_factory, libreoffice, expressions):
    tmp_path = tmp_path_factory.mktemp("gen")
    source = edge_csv(tmp_path / "probe.csv", copies=1)
    from xlnet.table.reading import CsvSource, type_cells
    table = next(CsvSource(source).chunks())
    env = {name: type_cells(table, name) for name in ("Name", "Num", "Code", "X")}
    kept = {}
    for k, text in enumerate(expressions):  # those numpy computes in every row; the others would be refused
        values = Expression(f"G{k}", text, list(env)).values(env, len(table), None)
        if values.dtype == float or all(v is not None for v in values.tolist()):
            kept[f"G{k}"] = text
    if not kept:
        return
    s = build_derived(tmp_path, kept)
    sheet = read_sheets(s.out)["linear"]
    for app, wb in apps(s.out, libreoffice, tmp_path).items():
        check_computed_columns(wb["linear"], sheet, app)


def run(tmp_path, *derive, extra=()):
    source = edge_csv(tmp_path / "edge.csv")
    args = ["build", str(source), "--target", "y", "--out", str(tmp_path / "o.xlsx"), "--ignore", "Name,Num,Code"]
    for d in derive:
        args += ["--derive", d]
    return CliRunner().invoke(cli, args + list(extra))


@pytest.mark.parametrize("derive, message", [
    (["T=LEFT(Name,"], "T: at character 11 of 'LEFT(Name,': expected a value, found 'the end'"),
    (["T=INDIRECT(\"A1\")"], "T: at character 1 of 'INDIRECT(\"A1\")': INDIRECT is not a function xlnet"),
    (["T=HYPERLINK(\"http://x\",Name)"], "HYPERLINK is not a function xlnet derives with"),
    (["T=WEBSERVICE(\"http://x\")"], "WEBSERVICE is not a function xlnet derives with"),
    (["T=[Book1]Sheet1!A1"], "'!' is not part of the language"),
    (["T=Sheet1!A1"], "'!' is not part of the language"),
    (["T=Nme&\"x\""], "'Nme' is not a column (or a column derived before it); did you mean 'Name'"),
    (["T=name"], "did you mean 'Name'"),
    (["Name=Num+1"], "the column 'Name' is defined twice"),
    (["T=Num+1", "T=Num+2"], "the column 'T' is defined twice"),
    (["Ones=1"], "the derived column 'Ones' has the name of a column the sheet already has"),
    (["A=B+1", "B=Num+1"], "'B' is not a column (or a column derived before it)"),
    (["A=B+1", "B=A+1"], "'B' is not a column (or a column derived before it)"),
    (["T=y+1"], "it reads the target 'y'"),
    (["T=1/Num"], "line 2: T = 1/Num is #DIV/0! there (Num is 0); wrap it in IFERROR(1/Num, VALUE_IF_ERROR)"),
    (["T=FIND(\"q\",Name)"], "line 2: T = FIND(\"q\",Name) is #VALUE! there"),
    (["T=Num>1"], "is TRUE or FALSE; a column holds numbers or text: write IF(Num>1,1,0)"),
    (["T=Code*2"], "line 3: T = Code*2 is #VALUE! there (Code is 'x'); wrap it in IFERROR"),
    (["T=IFERROR(VALUE(Code),0)"], "line 11: T = IFERROR(VALUE(Code),0): VALUE of an empty cell is 0 in LibreOffice"),
    (["T=Name&1/3"], "made into text is written with different digits by each app"),
    (["T=SUBSTITUTE(SUBSTITUTE(Name,\" \",\"" + "x" * 255 + "\"),\"x\",\"" + "y" * 255 + "\")"],
     "is #VALUE! there"),
    (["T=\"" + "x" * 256 + "\""], "a text constant holds at most 255 characters"),
    (["T"], "write it as NAME=EXPRESSION"),
])
def test_bad_expressions_are_refused_in_one_line_and_nothing_is_written(tmp_path, derive, message):
    r = run(tmp_path, *derive)
    assert r.exit_code == 1 and message in r.output, r.output
    assert r.output.startswith("Error: ") and r.output.count("\n") == 1, r.output
    assert not (tmp_path / "o.xlsx").exists()


def test_text_where_a_number_is_needed_names_the_row(tmp_path):
    r = run(tmp_path, 'T=IF(Num>5,"many",Num)', extra=["--numeric", "T"])
    assert r.exit_code == 1 and "is a number in some rows" in r.output, r.output


def test_a_spec_file_recipe_derives_and_write_spec_round_trips(tmp_path):
    source = edge_csv(tmp_path / "edge.csv")
    recipe = tmp_path / "r.toml"
    recipe.write_text('target = "y"\nignore = ["Name", "Num", "Code"]\ncategorical = ["First"]\nnumeric = ["Double"]\n'
                      '[derive]\nFirst = "UPPER(LEFT(TRIM(Name)))"\nDouble = "X*2"\n', encoding="utf-8")
    s = build(source, tmp_path / "a.xlsx", spec_file=recipe, valid_pct=0)
    assert [c.name for c in s.spec.derived] == ["First", "Double"]
    assert s.spec.column("First").kind == "categorical" and s.spec.column("Double").kind == "numeric"
    written = tmp_path / "w.toml"
    r = CliRunner().invoke(cli, ["inspect", str(source), "--spec", str(recipe), "--write-spec", str(written)])
    assert r.exit_code == 0 and "= UPPER(LEFT(TRIM(Name)))" in r.output, r.output
    again = build(source, tmp_path / "b.xlsx", spec_file=written, valid_pct=0)
    def what(spec):
        return [(c.name, c.kind, c.transform, c.levels, c.formula) for c in spec.columns]
    assert what(again.spec) == what(s.spec) and again.losses == s.losses


def test_expressions_never_evaluate_python():
    for text in ["__import__('os')", "Name.__class__", "open(\"x\")", "lambda: 1"]:
        with pytest.raises(XlnetError):
            Expression("T", text, ["Name"])


def test_the_titanic_recipe_predicts_kaggle_s_test_rows(tmp_path, kaggle_train, libreoffice):
    recipe = ROOT / "examples" / "titanic.toml"
    s = build(kaggle_train, tmp_path / "r.xlsx", spec_file=recipe)
    assert s.rows_kept == 891 and s.spec.missing == "median"
    assert s.spec.column("Group").levels == ["Mr", "Miss", "Mrs", "Master"]
    assert s.spec.column("Family").levels == ["alone", "small"]
    fit_workbook(s.out, restarts=4, epochs=30)
    check_against_numpy(s.out, libreoffice, tmp_path)
    r = CliRunner().invoke(cli, ["predict", str(s.out), str(kaggle_train.with_name("test.csv")),
                                 "--out", str(tmp_path / "submission.csv")])
    assert r.exit_code == 0, r.output
    rows = list(csv.reader((tmp_path / "submission.csv").open()))
    assert rows[0] == ["PassengerId", "Survived"] and len(rows) == 419 and {r[1] for r in rows[1:]} == {"0", "1"}


def test_a_workbook_saved_by_each_app_keeps_its_derived_columns_and_fits(tmp_path, libreoffice):
    s = build(PENGUINS_CSV, tmp_path / "p.xlsx", target="sex", derive=[("Heavy", 'IF(body_mass_g>4500,"yes","no")'),
                                                                      ("Bill", "bill_length_mm/bill_depth_mm")])
    saved = [libreoffice(s.out, tmp_path / "lo")]
    if ssconvert():  # Gnumeric keeps the two-area solver_adj as ERROR("..."), which xlnet reads
        saved.append(gnumeric_convert(s.out, tmp_path / "gn"))
    for path in saved:
        r = CliRunner().invoke(cli, ["fit", str(path), "--restarts", "2", "--epochs", "5"])
        assert r.exit_code == 0, (path, r.output)
        check_against_numpy(path, libreoffice, tmp_path / f"check-{path.stem}")


def test_the_feature_matrix_is_stacked_in_blocks_of_rows_as_column_stack_would(monkeypatch):
    monkeypatch.setattr(features_module, "STACK_ROWS", 4)  # blocks of 4 rows: 10 rows end in a partial block
    columns = [np.arange(10.0), 1.0, np.arange(10) % 3 == 0, -np.arange(10.0) / 7]
    X = features_module.stacked(columns, 10)
    assert X.dtype == float and X.flags.c_contiguous
    assert np.array_equal(X, np.column_stack([np.arange(10.0), np.ones(10), np.arange(10) % 3 == 0,
                                              -np.arange(10.0) / 7]))
