"""The README's Python API example runs as written, and `python -m xlnet` is the command."""
from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT


def test_the_readme_example_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"## Python API\n\n```python\n(.*?)```", readme, re.S)[1]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "penguins.csv").write_bytes((ROOT / "data" / "penguins.csv").read_bytes())
    scope: dict = {}
    exec(compile(code.replace("fit_workbook(\"penguins.xlsx\")", "fit_workbook(\"penguins.xlsx\", restarts=4, "
                                                                   "epochs=20)"), "README", "exec"), scope)
    assert set(scope["summary"].metrics) == {"linear", "nnet", "mmult"}
    assert [r.sheet for r in scope["results"]] == ["linear", "nnet", "mmult"]
    assert all(r.after["train_loss"] < r.before["train_loss"] for r in scope["results"])
    assert all(c.problem is None for c in scope["compared"])


def test_python_dash_m_xlnet():
    r = subprocess.run([sys.executable, "-m", "xlnet", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("Usage: xlnet [OPTIONS] COMMAND [ARGS]...")
