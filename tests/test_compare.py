"""`xlnet compare`: read-only, honest about edited sheets, and racing LibreOffice's own solver."""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from office import soffice
from test_workbook import reference_params
from xlnet.commands.build import build
from xlnet.cli import cli
from xlnet.errors import XlnetError
from xlnet.peers import libreoffice as peers_libreoffice
from xlnet.peers.libreoffice import office_pipes, remove_pipes, solve

HEADER = "Survived,Pclass,Name,Sex,Age,SibSp,Parch,Fare,Embarked\n"


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compare(*args):
    return CliRunner().invoke(cli, ["compare", *map(str, args)])


@pytest.fixture(scope="module")
def solver_workbook(tmp_path_factory, kaggle_train, reference):
    """The lesson's workbook with the parameters Excel Solver left in it."""
    out = tmp_path_factory.mktemp("ref") / "solver.xlsx"
    return build(kaggle_train, out, params=reference_params(reference)).out


def test_compare_shows_excel_solvers_losses_beside_xlnets(solver_workbook):
    before = sha(solver_workbook)
    r = compare(solver_workbook, "--json")
    assert r.exit_code == 0, r.output
    assert sha(solver_workbook) == before  # read-only
    got = {c["sheet"]: c for c in json.loads(r.output)}
    assert {k: round(c["workbook"]["train_loss"], 10) for k, c in got.items()} == {
        "linear": 0.1442271493, "nnet": 0.1431520964, "mmult": 0.1431520964}
    assert got["linear"]["optimum"] == pytest.approx(0.1442271493073, rel=1e-12)
    assert got["linear"]["xlnet"]["train_loss"] == pytest.approx(got["linear"]["optimum"], rel=1e-9)
    for name in ("nnet", "mmult"):
        assert got[name]["xlnet"]["train_loss"] <= 0.1300
        assert got[name]["gap_percent"] > 10
    text = compare(solver_workbook, "--quiet").output.splitlines()
    assert text[0].split() == ["sheet", "parameters", "loss", "gap", "%", "seconds"]
    assert text[1].split()[:3] == ["linear", "workbook", "0.1442271493"]
    assert text[4].split()[:3] == ["nnet", "workbook", "0.1431520964"]
    assert sha(solver_workbook) == before


def test_compare_reads_a_workbook_libreoffice_saved(solver_workbook, libreoffice, tmp_path):
    saved = libreoffice(solver_workbook, tmp_path)  # recalculated, cached values present
    before = sha(saved)
    r = compare(saved, "--json", "--model", "nnet")
    assert r.exit_code == 0, r.output
    (nnet,) = json.loads(r.output)
    assert nnet["cached_loss"] == pytest.approx(nnet["workbook"]["train_loss"], rel=1e-12)
    assert nnet["workbook"]["train_loss"] == pytest.approx(0.1431520964, rel=1e-9)
    assert sha(saved) == before


def test_compare_names_the_cells_a_user_changed(tmp_path):
    out = build(out=tmp_path / "t.xlsx").out
    wb = openpyxl.load_workbook(out)
    wb["linear"]["AC10"] = "=SUMPRODUCT(G10:P10,$R$4:$AA$4)+0.1"
    wb.save(out)
    before = sha(out)
    r = compare(out, "--quiet")
    assert r.exit_code == 1
    lines = r.output.splitlines()
    assert lines[1] == ("linear  not compared: sheet 'linear': 1 cell(s) differ from the formulas xlnet wrote, so its "
                        "losses would not be the ones the sheet computes: AC10 holds "
                        "'=SUMPRODUCT(G10:P10,$R$4:$AA$4)+0.1', xlnet wrote '=SUMPRODUCT(G10:P10,$R$4:$AA$4)'. "
                        "Undo the edits or rebuild with `xlnet build`.")
    assert lines[2].startswith("nnet    workbook")
    assert lines[-1] == "Error: 1 sheet(s) could not be compared: linear"
    assert sha(out) == before


def uno_available():
    try:
        from xlnet.peers.libreoffice import _uno_python
        _uno_python("swarm")
        return True
    except XlnetError:
        return False


@pytest.fixture
def small_workbook(tmp_path, libreoffice):
    if not uno_available():
        pytest.skip("LibreOffice's python3-uno is not installed: run scripts/test")
    rows = [f"{i % 2},{1 + i % 3},P{i},{'male' if i % 3 else 'female'},{5 + 2 * i},{i % 3},{i % 2},{7 + i},S\n"
            for i in range(30)]
    csv = tmp_path / "small.csv"
    csv.write_text(HEADER + "".join(rows))
    return build(csv, tmp_path / "small.xlsx", seed=3).out


def test_compare_races_libreoffices_solver(small_workbook, monkeypatch):
    before = sha(small_workbook)
    runs = []  # soffice quits when asked: no socket of its run left in /tmp even without remove_pipes
    monkeypatch.setattr(peers_libreoffice, "remove_pipes", lambda profile, pipe: runs.append((profile, pipe)))
    r = compare(small_workbook, "--libreoffice", "--time-limit", "2", "--model", "linear", "--json")
    (profile, pipe), = runs
    assert not pipe_paths(profile, pipe) 
    assert r.exit_code == 0, r.output
    (linear,) = json.loads(r.output)
    lo = linear["libreoffice"]
    assert lo["engine"] == "swarm" and 0 < lo["seconds"] < 30
    # LibreOffice's loss for its solution is the loss xlnet computes for the same parameters.
    assert lo["loss"] == pytest.approx(lo["xlnet_loss"], rel=1e-12)
    assert linear["xlnet"]["train_loss"] <= lo["loss"] * (1 + 1e-9)
    assert sha(small_workbook) == before


def pipe_paths(profile: str, pipe: str) -> list[Path]:
    return [path for path in office_pipes(profile, pipe) if path.exists()]


def test_a_killed_soffices_sockets_are_removed(tmp_path, libreoffice):
    profile, pipe = f"file://{tmp_path}/profile", f"xlnet-test-{os.getpid()}"
    office = subprocess.Popen([soffice(), f"-env:UserInstallation={profile}", "--headless", "--invisible",
                               "--norestore", "--nologo", "--nodefault", f"--accept=pipe,name={pipe};urp;"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(pipe_paths(profile, pipe)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(pipe_paths(profile, pipe)) == 2  # the profile's and the accept pipe's
    finally:
        os.killpg(office.pid, signal.SIGKILL)
        office.wait()
    assert len(pipe_paths(profile, pipe)) == 2  # a kill leaves them
    remove_pipes(profile, pipe)
    assert pipe_paths(profile, pipe) == []


def test_a_missing_engine_says_how_to_install_it(small_workbook):
    before = sha(small_workbook)
    r = compare(small_workbook, "--libreoffice", "--engine", "deps", "--time-limit", "1", "--model", "linear",
                "--quiet")
    if r.exit_code == 0:
        pytest.skip("the DEPS engine is installed here")
    assert r.output.splitlines()[-1] == (
        "Error: LibreOffice: engine deps is not installed; install it with: sudo apt-get install libreoffice-calc "
        "libreoffice-nlpsolver python3-uno default-jre (the NLP solver needs the full libreoffice-calc, which "
        "replaces -nogui, and Java)")
    assert sha(small_workbook) == before


def test_bad_solver_settings_are_refused_before_starting(small_workbook):
    with pytest.raises(XlnetError, match=r"^--time-limit must be a positive number of seconds, not -1\.$"):
        solve(small_workbook, [], time_limit=-1)
    with pytest.raises(XlnetError, match=r"^--engine must be one of swarm, deps, sco, not 'grg'\.$"):
        solve(small_workbook, [], engine="grg")


def test_compare_takes_xlnets_fit_from_the_workbook_only_for_the_same_rows_and_settings(tmp_path):
    from xlnet.commands.compare import compare_workbook
    from xlnet.commands.fit import fit_workbook
    from xlnet.commands.restore import restore_workbook

    out = build(out=tmp_path / "t.xlsx").out
    sheets = ("linear", "nnet")
    assert {r.xlnet_source for r in compare_workbook(out, sheets=sheets)} == {"refit"}
    fitted = {r.sheet: r for r in fit_workbook(out, sheets=sheets)}
    before = sha(out)
    taken = compare_workbook(out, sheets=sheets)
    assert sha(out) == before
    for r in taken:
        assert r.xlnet_source == "workbook"
        assert r.xlnet == r.workbook == fitted[r.sheet].after
        assert r.xlnet_seconds == round(fitted[r.sheet].seconds, 3)
        assert r.gap_percent == 0
    text = compare(out, "--quiet", "--model", "nnet").output.splitlines()
    assert re.match(r"nnet    xlnet \(as fitted\) +0\.12\d{8} ", text[2]), text[2]
    assert text[-1] == ("xlnet (as fitted): the workbook holds xlnet fit's result for these rows and settings; "
                        "--refit fits again")
    # other settings, --refit, or parameters that another command wrote: fitted again
    assert {r.xlnet_source for r in compare_workbook(out, sheets=sheets, random_state=1)} == {"refit"}
    assert {r.xlnet_source for r in compare_workbook(out, sheets=sheets, refit=True)} == {"refit"}
    restore_workbook(out, 1, before=True, sheets=("nnet",))
    got = {r.sheet: r.xlnet_source for r in compare_workbook(out, sheets=sheets)}
    assert got == {"linear": "workbook", "nnet": "refit"}
