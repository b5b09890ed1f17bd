from __future__ import annotations

from click.testing import CliRunner

from xlnet.cli import cli


def test_build_prints_a_summary_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "t.xlsx"
    r = CliRunner().invoke(cli, ["build", "--out", str(out), "--seed", "1"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].endswith("kept 712, 10 features.")
    assert "linear  starting loss 0." in r.output and f"Wrote {out}" in r.output
    before = out.read_bytes()
    r = CliRunner().invoke(cli, ["build", "--out", str(out)])
    assert r.exit_code == 1
    assert r.output == (f"Error: {out} already exists and may hold your Solver results; "
                        "use --force to overwrite it, or --out to write elsewhere.\n")
    assert out.read_bytes() == before
    assert CliRunner().invoke(cli, ["build", "--out", str(out), "--force"]).exit_code == 0


def test_build_of_a_bad_csv_writes_nothing(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("Survived,Pclass,Sex,Age,SibSp,Parch,Fare\n0,3,male,22,1,0,7.25\n")
    out = tmp_path / "t.xlsx"
    r = CliRunner().invoke(cli, ["build", str(csv), "--out", str(out)])
    assert r.exit_code == 1
    assert r.output == (f"Error: {csv}: required column missing: Embarked. "
                        "The header read was: Survived, Pclass, Sex, Age, SibSp, Parch, Fare.\n")
    assert list(tmp_path.iterdir()) == [csv]


def test_build_makes_the_output_folder_and_refuses_odd_outputs(tmp_path):
    out = tmp_path / "new" / "folder" / "t.xlsx"
    assert CliRunner().invoke(cli, ["build", "--out", str(out)]).exit_code == 0 and out.exists()
    odd = tmp_path / "t.csv"
    r = CliRunner().invoke(cli, ["build", "--out", str(odd)])
    assert r.output == f"Error: {odd} is not a path an .xlsx workbook can be written to; choose another --out.\n"
    assert r.exit_code == 1 and not odd.exists()
    r = CliRunner().invoke(cli, ["build", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "is a directory" in r.output


def test_the_cli_page_shows_each_commands_help_as_it_is():
    """docs/cli.md's `--help` blocks are the commands' own (scripts/cli_doc.py refreshes them)."""
    import importlib.util

    from conftest import ROOT
    spec = importlib.util.spec_from_file_location("cli_doc", ROOT / "scripts" / "cli_doc.py")
    cli_doc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli_doc)
    doc = cli_doc.DOC.read_text()
    assert len(cli_doc.BLOCK.findall(doc)) == 8  # build, inspect, fit, predict, compare, restore, the lessons
    assert cli_doc.refreshed(doc) == doc, "run python scripts/cli_doc.py"
