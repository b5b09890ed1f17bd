"""Build, fit, compare and predict Titanic-like CSVs of growing size: wall time and peak memory per command.

    python bench/scale.py [--rows 10000 100000] [--target Survived] [--keep DIR] [--repeat 5]

The CSVs are made by scripts/make_large_csv.py (resampled passengers). Each command runs as its own process
under GNU time, so its peak RSS is its own. Prints, per size: seconds, peak MiB, the file size, the losses
reached (and the linear sheet's against its least-squares optimum), the time per 1,000 rows (flat = linear
growth), and beside compare and predict a pandas peer (`pip install pandas`) in a process of its own: pandas
reading the same rows; reading the new rows, predicting and writing. `--rows 1000000` runs a million.
`--target Survived` builds an analyst's workbook (the spec inferred, 20 % held out, the weight decay chosen by
fit) instead of the lesson's. `compare` after `fit` takes the fit the workbook holds (the same rows and
settings); `compare --refit` fits again, as compare does for a workbook fitted otherwise. `--repeat N` times
compare, predict and their peers N times each, in turn, and takes the medians; the last lines say how much
longer compare and predict take at the largest size than at the smallest, and their peers.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# The peers of compare and predict, each a process of its own as xlnet's commands are (Python and pandas start
# up in it too): pandas reading the rows; and reading the new rows, predicting (a product of the numeric
# columns with weights) and writing a prediction per row.
PEERS = {
    "compare": "import sys, pandas as pd; pd.read_csv(sys.argv[1])",
    "predict": ("import sys, numpy as np, pandas as pd; d = pd.read_csv(sys.argv[1]); x = d.select_dtypes('number')"
                ".fillna(0).to_numpy(); pd.DataFrame({'row': np.arange(1, len(d) + 1), 'p': x @ np.linspace(0, 1, "
                "x.shape[1])}).to_csv(sys.argv[2], index=False)"),
}
PEER_NAMES = {"compare": "pandas.read_csv", "predict": "pandas read, predict, write"}


def pandas_here() -> bool:
    return subprocess.run([sys.executable, "-c", "import pandas"], capture_output=True).returncode == 0


def timed(args: list[str]) -> tuple[float, float, str]:
    """(seconds, peak MiB, stdout) of one command."""
    done = subprocess.run(["/usr/bin/time", "-f", "%e %M", *args], capture_output=True, text=True, check=True)
    seconds, kib = done.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kib) / 1024, done.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--keep", type=Path, help="Keep the CSVs and workbooks in this folder.")
    ap.add_argument("--target", help="Build with --target TARGET (inferred spec, 20 %% validation set, weight decay "
                                     "chosen by fit) instead of the lesson's preset.")
    ap.add_argument("--repeat", type=int, default=1, help="Run compare, predict and their peers this many times, "
                                                          "in turn, and report the medians.")
    args = ap.parse_args()
    xlnet = [sys.executable, "-m", "xlnet"]
    medians: dict[tuple[str, int], tuple[float, float | None]] = {}
    print(f"{'rows':>9} {'command':<16}{'s':>9}{'MiB':>8}{'s/1k rows':>11}  notes")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for n in args.rows:
            csv, book, new = folder / f"t{n}.csv", folder / f"t{n}.xlsx", folder / f"new{n}.csv"
            subprocess.run([sys.executable, str(ROOT / "scripts" / "make_large_csv.py"), str(n), str(csv)], check=True)
            subprocess.run([sys.executable, str(ROOT / "scripts" / "make_large_csv.py"), str(n), str(new),
                            "--seed", "1"], check=True)
            # Each of the 891 passengers' names repeats in about n / 891 resampled rows: past the level rule's 30 rows
            # Name would be inferred as a category of 100 dummies (a 2 GB workbook at a million rows); an analyst
            # leaves such a column out.
            target = ["--target", args.target, "--ignore", "Name"] if args.target else []
            runs = [("build", [*xlnet, "build", str(csv), "--out", str(book), "--force", *target]),
                    ("fit", [*xlnet, "fit", str(book), "--quiet"]),
                    ("compare", [*xlnet, "compare", str(book), "--quiet"]),
                    ("compare --refit", [*xlnet, "compare", str(book), "--quiet", "--refit"]),
                    ("predict", [*xlnet, "predict", str(book), str(new), "--out", str(folder / "p.csv"), "--force"])]
            peers = {}
            for name, command in runs:
                repeat = args.repeat if name in PEERS else 1
                peer = [sys.executable, "-c", PEERS[name], str(csv if name == "compare" else new),
                        str(folder / "peer.csv")] if name in PEERS and pandas_here() else None
                ours, theirs = [], []
                for _ in range(repeat):  # in turn, so that both see the machine's same moments
                    theirs += [timed(peer)] if peer else []
                    ours.append(timed(command))
                if peer:
                    peers[name] = median_of(theirs)[:2]
                seconds, mib, out = median_of(ours)
                medians[name, n] = seconds, peers.get(name, (None,))[0]
                note = ""
                if name == "build":
                    note = f"file {book.stat().st_size / 2**20:.1f} MiB"
                if name == "fit":
                    note = "losses " + " ".join(line.split()[2] for line in out.splitlines()[1:4])
                if name.startswith("compare"):  # the linear sheet's fitted loss against its least-squares optimum
                    rows = {" ".join(line.split()[:2]): line.split() for line in out.splitlines()}
                    fitted, best = float(rows["linear workbook"][2]), float(rows["linear least"][3])
                    note = f"linear / least squares - 1 = {fitted / best - 1:.1e}"
                if name in peers:
                    note += f"{'; ' if note else ''}{peers[name][0]:.2f} s, {peers[name][1]:.0f} MiB for " \
                            f"{PEER_NAMES[name]}: ratio {seconds / peers[name][0]:.2f}"
                print(f"{n:>9} {name:<16}{seconds:>9.{2 if repeat > 1 else 1}f}{mib:>8.0f}{seconds / n * 1000:>11.3f}  "
                      f"{note}", flush=True)
    for name in PEERS:
        sizes = sorted(n for (command, n) in medians if command == name)
        if len(sizes) > 1 and None not in medians[name, sizes[0]]:
            (ours, peer), (ours_0, peer_0) = medians[name, sizes[-1]], medians[name, sizes[0]]
            print(f"{name} from {sizes[0]:,} to {sizes[-1]:,} rows: {ours / ours_0:.2f} times the time; "
                  f"{PEER_NAMES[name]}: {peer / peer_0:.2f} times")


def median_of(results: list[tuple[float, float, str]]) -> tuple[float, float, str]:
    """The run of median time (and the peak memory of them all)."""
    ranked = sorted(results, key=lambda r: r[0])
    seconds, _, out = ranked[(len(ranked) - 1) // 2]
    return seconds, max(r[1] for r in results), out


if __name__ == "__main__":
    main()
