"""The README's Python API example runs as written, and `python -m xlnet` is the command."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import ROOT, read_sheets


def readme_example() -> str:
    """The README's Python API example, with fits small enough for a test."""
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"## Python API\n\n```python\n(.*?)```", readme, re.S)[1]
    code = code.replace('fit_workbook("penguins.xlsx")', 'fit_workbook("penguins.xlsx", restarts=4, epochs=20)')
    return code.replace('cross_validate("penguins.xlsx", 5)', 'cross_validate("penguins.xlsx", 3, restarts=2, '
                                                                 'epochs=5)')


def test_the_readme_example_runs(tmp_path, monkeypatch):
    code = readme_example()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "penguins.csv").write_bytes((ROOT / "data" / "penguins.csv").read_bytes())
    scope: dict = {}
    exec(compile(code, "README", "exec"), scope)
    assert set(scope["summary"].metrics) == {"linear", "nnet", "mmult"} and scope["summary"].rows_kept == 333
    assert [r.sheet for r in scope["results"]] == ["linear", "nnet", "mmult"]
    assert all(r.after["train_loss"] < r.before["train_loss"] for r in scope["results"])
    nnet = scope["nnet"]
    assert len(nnet.params_) == len(nnet.param_names) == 4 * 11 + 5 and nnet.loss_curve_[0, 0] == 0
    # The curve is of what the fit minimises: the loss, plus the chosen weight decay's penalty.
    if nnet.weight_decay == 0:
        assert nnet.loss_curve_[0, 1] == nnet.before["train_loss"]
    else:
        assert nnet.loss_curve_[0, 1] > nnet.before["train_loss"]
    assert all(c.problem is None for c in scope["compared"])
    assert [len(r.scores) for r in scope["cv"]] == [3, 3, 3]
    start = read_sheets(tmp_path / "penguins.xlsx")
    assert start["nnet"].loss() == pytest.approx(nnet.before["train_loss"], rel=1e-12)


def test_python_dash_m_xlnet():
    r = subprocess.run([sys.executable, "-m", "xlnet", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("Usage: xlnet [OPTIONS] COMMAND [ARGS]...")


def test_the_command_leaves_at_once_yet_a_profiler_gets_its_teardown(tmp_path):
    """`python -m xlnet` skips the interpreter's teardown (os._exit once its output is flushed), so its output and
    exit status must come out whole; under a profiler it exits normally, so the profile is written."""
    import sys
    done = subprocess.run([sys.executable, "-m", "xlnet", "fit", str(tmp_path / "none.xlsx")], capture_output=True,
                          text=True)
    assert (done.returncode, done.stdout, done.stderr.count("\n")) == (1, "", 1) and "Error:" in done.stderr
    done = subprocess.run([sys.executable, "-m", "xlnet", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and all(f"  {c} " in done.stdout for c in ("build", "fit", "predict", "restore"))
    profile = tmp_path / "xlnet.prof"
    done = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "xlnet", "--help"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and profile.stat().st_size > 0
