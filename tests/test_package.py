"""xlnet installs as a package: a wheel and an sdist built from the repository run the README's commands from a
fresh virtual environment, with no checkout beside them, and a checkout never shadows the installed package."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from test_api import readme_example


def run(args: list, cwd: Path) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The sdist, and the wheel built from it, as `python -m build` makes them."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", out, ROOT], cwd=out)
    return out


def empty_folder(path: Path) -> Path:
    path.mkdir()
    return path


def commands_run(venv: Path, where: Path) -> None:
    xlnet = venv / "bin" / "xlnet"
    lesson_csv = run([venv / "bin" / "python", "-c", "from xlnet.presets import titanic; print(titanic.CSV)"],
                     where).strip()
    assert str(venv) in lesson_csv and Path(lesson_csv).is_file()
    assert "Wrote workbooks/titanic.xlsx" in run([xlnet, "build"], where)  # the README's headline command
    run([xlnet, "fit", "workbooks/titanic.xlsx", "--quiet", "--restarts", "4", "--epochs", "20"], where)
    out = run([xlnet, "predict", "workbooks/titanic.xlsx", lesson_csv, "--out", "p.csv"], where)
    assert "Predicted 891 rows" in out and (where / "p.csv").read_text().startswith("row,Survived\n1,")
    assert "Wrote sgd.xlsx" in run([xlnet, "lesson", "sgd", "--out", "sgd.xlsx"], where)
    # The README's Python API example, in an environment with only xlnet's own dependencies (no pandas).
    (where / "data").mkdir()
    (where / "data" / "penguins.csv").write_bytes((ROOT / "data" / "penguins.csv").read_bytes())
    (where / "example.py").write_text(readme_example())
    run([venv / "bin" / "python", "example.py"], where)


def test_the_wheel_and_the_sdist_install_and_run_on_their_own(dist, tmp_path):
    wheel, = dist.glob("xlnet-*.whl")
    sdist, = dist.glob("xlnet-*.tar.gz")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], tmp_path)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, wheel], tmp_path)
    commands_run(venv, empty_folder(tmp_path / "from-wheel"))
    run([*pip, "--force-reinstall", "--no-deps", sdist], tmp_path)
    commands_run(venv, empty_folder(tmp_path / "from-sdist"))
    # From inside a checkout, a script imports the installed package, not the checkout's source.
    found = run([venv / "bin" / "python", "-c", "import xlnet; print(xlnet.__file__)"], ROOT).strip()
    assert found.startswith(str(venv)), found
