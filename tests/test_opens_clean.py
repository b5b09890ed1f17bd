"""Built and fitted workbooks pass Microsoft's Open XML SDK rules (openxml-audit, Office 2019): no errors, no
warnings, the closest check to "Excel opens it without repair" that runs here."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT
from xlnet.commands.build import build
from xlnet.cli import cli

AUDIT = Path(sys.executable).with_name("openxml-audit")


def audit(path: Path) -> dict:
    if not AUDIT.exists():
        pytest.skip("openxml-audit is not installed (bash scripts/test installs it)")
    done = subprocess.run([str(AUDIT), "-f", "office2019", "-m", "0", "-o", "json", str(path)],
                          capture_output=True, text=True, timeout=300)
    (report,) = json.loads(done.stdout)
    return report


@pytest.mark.parametrize("csv, options", [
    (None, {}),
    (None, {"valid_pct": 0.2}),
    (ROOT / "data" / "penguins.csv", {"target": "sex", "loss": "logloss", "hidden": 3, "valid_pct": 0.2}),
])
def test_built_and_fitted_workbooks_open_clean(tmp_path, csv, options):
    out = build(csv, tmp_path / "w.xlsx", **options).out
    report = audit(out)
    assert (report["error_count"], report["warning_count"], report["verdict"]["prediction"]) == (0, 0, "opens-clean")
    fitted = tmp_path / "f.xlsx"
    shutil.copy(out, fitted)
    for _ in range(2):  # a first fit adds xlnet's sheets, a second rewrites them
        assert CliRunner().invoke(cli, ["fit", str(fitted), "--quiet", "--restarts", "2", "--epochs", "5"]
                                  ).exit_code == 0
    report = audit(fitted)
    assert (report["error_count"], report["warning_count"]) == (0, 0), report["errors"][:3]
