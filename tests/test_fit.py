"""The numpy solver: gradients, optimum, determinism, and a write-back that loses nothing."""
from __future__ import annotations

import os
import re
import zipfile

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner

from conftest import read_sheets, recalculated
from xlnet.commands.build import build
from xlnet.cli import cli
from xlnet.errors import XlnetError
from xlnet.fitting.estimator import GradientFit
from xlnet.commands.fit import fit_workbook
from xlnet.workbook.layout import HISTORY_SHEET
from xlnet.model.net import SHEETS as MODEL_SHEETS
from xlnet.xlsx import patch as patch_module


@pytest.fixture(scope="module")
def lesson():
    """X, y of the lesson's 712 rows and its models, from a built workbook."""
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as d:
        s = build(out=Path(d) / "t.xlsx")
        sheets = read_sheets(s.out)
        return sheets["linear"].X, sheets["linear"].y, {k: v.model for k, v in sheets.items()}


@pytest.mark.parametrize("name", MODEL_SHEETS)
def test_gradient_matches_central_differences(lesson, name):
    X, y, models = lesson
    model = models[name]
    W = np.random.default_rng(1).uniform(-1, 1, (3, model.n_params))
    _, g = model.loss_and_grad(X, y, W)
    h, numeric = 1e-6, np.zeros_like(W)
    for idx in np.ndindex(*W.shape):
        Wp, Wm = W.copy(), W.copy()
        Wp[idx] += h
        Wm[idx] -= h
        numeric[idx] = (model.loss_and_grad(X, y, Wp)[0][idx[0]] - model.loss_and_grad(X, y, Wm)[0][idx[0]]) / (2 * h)
    np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-8)


def test_linear_fit_reaches_the_least_squares_optimum(lesson):
    X, y, models = lesson
    w, *_ = np.linalg.lstsq(X, y, rcond=None)
    optimum = np.mean((X @ w - y) ** 2)
    assert optimum == pytest.approx(0.1442271493073, rel=1e-12)
    fitter = GradientFit(random_state=0).fit(models["linear"], X, y, np.zeros(10))
    assert (fitter.loss_ - optimum) / optimum < 1e-9


def test_net_fit_beats_excel_solver_and_is_reproducible(lesson):
    X, y, models = lesson
    W0 = np.zeros(20)
    a = GradientFit(random_state=0).fit(models["nnet"], X, y, W0)
    b = GradientFit(random_state=0).fit(models["nnet"], X, y, W0)
    assert a.loss_ <= 0.1300 < 0.143152  # Excel Solver's GRG reached 0.143152 in the lesson
    np.testing.assert_array_equal(a.W_, b.W_)
    assert a.loss_curve_[-1] == pytest.approx(a.loss_, rel=1e-9) and a.n_iter_ == len(a.loss_curve_)


@pytest.mark.parametrize("args, message", [
    (["--lr", "-1"], "--lr must be a positive number, not -1.0."),
    (["--epochs", "-3"], "--epochs must be a whole number of at least 0, not -3."),
    (["--restarts", "0"], "--restarts must be a whole number of at least 1, not 0."),
    (["--batch-size", "0"], "--batch-size must be a whole number of at least 1, not 0."),
    (["--lr", "1000", "--model", "nnet"], r"sheet 'nnet': the fit diverged: the loss reached [0-9.e+]+ after "
                                          r"epoch \d+; lower --lr \(it is 1000\)\."),
    (["--lr", "1000"], r"sheets 'nnet' and 'mmult': the fit diverged: the loss reached [0-9.e+]+ after "  # one net:
                       r"epoch \d+; lower --lr \(it is 1000\)\."),                                      # one fit
])
def test_bad_settings_and_divergence_leave_the_workbook_untouched(tmp_path, args, message):
    s = build(out=tmp_path / "t.xlsx")
    before = s.out.read_bytes()
    r = CliRunner().invoke(cli, ["fit", str(s.out), "--quiet", *args])
    assert r.exit_code == 1
    assert r.output == f"Error: {message}\n" or re.fullmatch(f"Error: {message}\n", r.output), r.output
    assert s.out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.xlsx"]


def cells(ws):
    return {c.coordinate: (c.value.text if hasattr(c.value, "text") else c.value)
            for row in ws.iter_rows() for c in row if c.value is not None}


def history_fits(ws) -> list[dict]:
    """The history sheet's fits: for each, its summary and its parameters before and after, one per cell."""
    rows = list(ws.iter_rows(values_only=True))
    header = [h for h in rows[0] if h is not None]
    fits = {}
    for row in rows[1:]:
        d = dict(zip(header, row))
        fit = fits.setdefault((d["Fit"], d["Sheet"]), {"Sheet": d["Sheet"], "Fit": d["Fit"]})
        params = [v for v in row[len(header):] if v is not None]
        fit[d["Parameters"]] = (d, params)
    return list(fits.values())


def test_fit_changes_only_parameters_and_keeps_history_and_charts(tmp_path, libreoffice):
    s = build(out=tmp_path / "t.xlsx", seed=5)
    old = openpyxl.load_workbook(s.out)
    old_sheets = read_sheets(s.out)
    r = CliRunner().invoke(cli, ["fit", str(s.out), "--quiet", "--restarts", "4", "--epochs", "50"])
    assert r.exit_code == 0, r.output
    printed = {line.split()[0]: float(line.split()[2]) for line in r.output.splitlines()[1:4]}
    new = openpyxl.load_workbook(s.out)
    new_sheets = read_sheets(s.out)
    for name in MODEL_SHEETS:
        at = new_sheets[name].layout
        params = {openpyxl.utils.get_column_letter(c) + str(rr) for c, rr in at.param_cells()}
        a, b = cells(old[name]), cells(new[name])
        assert {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)} <= params
        assert new[name].defined_names["solver_adj"].attr_text == old[name].defined_names["solver_adj"].attr_text
    assert cells(old["data"]) == cells(new["data"])
    fits = history_fits(new[HISTORY_SHEET])
    assert [h["Sheet"] for h in fits] == list(MODEL_SHEETS)
    for h in fits:
        name = h["Sheet"]
        assert h["names"][1] == new_sheets[name].layout.param_names()
        np.testing.assert_array_equal(h["replaced"][1], old_sheets[name].W)
        np.testing.assert_array_equal(h["new"][1], new_sheets[name].W)
        assert h["new"][0]["Loss"] == pytest.approx(printed[name], rel=1e-9)
        assert h["new"][0]["Valid loss"] is None
    # LibreOffice's recalculated loss cells equal what fit printed.
    values = recalculated(libreoffice, s.out, tmp_path / "lo")
    for name in MODEL_SHEETS:
        c, rr = new_sheets[name].layout.loss_cell_at
        loss = new_sheets[name].loss()
        assert values[name].cell(rr, c).value == pytest.approx(loss, rel=1e-12)
        assert loss == pytest.approx(printed[name], abs=5e-11)
    # A second fit of one sheet keeps every chart and adds its history rows.
    assert CliRunner().invoke(cli, ["fit", str(s.out), "--quiet", "--model", "nnet", "--restarts", "2",
                                    "--epochs", "10"]).exit_code == 0
    with zipfile.ZipFile(s.out) as z:
        assert len([n for n in z.namelist() if n.startswith("xl/charts/")]) == 3
    assert openpyxl.load_workbook(s.out)[HISTORY_SHEET].max_row == 1 + 3 * 4


def test_a_crash_mid_save_leaves_the_old_workbook(tmp_path, monkeypatch):
    s = build(out=tmp_path / "t.xlsx")
    before = s.out.read_bytes()

    def half_written(self):  # the disk fills while the central directory is written
        self.fp.write(before[: len(before) // 2])
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(patch_module.ZipOut, "close", half_written)
    with pytest.raises(XlnetError, match="No space left on device"):
        fit_workbook(s.out, sheets=("linear",), restarts=1, epochs=1)
    assert s.out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.xlsx"]


def test_workbook_open_in_excel_is_not_written(tmp_path):
    s = build(out=tmp_path / "t.xlsx")
    (tmp_path / "~$t.xlsx").write_bytes(b"lock")
    before = s.out.read_bytes()
    with pytest.raises(XlnetError, match=r"looks open in Excel \(~\$t.xlsx is beside it\)"):
        fit_workbook(s.out)
    assert s.out.read_bytes() == before


def test_mini_batch_sgd_is_seeded_and_fits(lesson):
    X, y, models = lesson
    W0 = np.zeros(20)
    a = GradientFit(batch_size=64, epochs=30, restarts=4, random_state=3).fit(models["nnet"], X, y, W0)
    b = GradientFit(batch_size=64, epochs=30, restarts=4, random_state=3).fit(models["nnet"], X, y, W0)
    np.testing.assert_array_equal(a.W_, b.W_)
    assert a.loss_ < 0.14 and len(a.loss_curve_) == a.n_iter_


def test_fit_out_writes_a_new_file_and_never_over_another(tmp_path):
    s = build(out=tmp_path / "t.xlsx")
    other = build(out=tmp_path / "other.xlsx", seed=9).out
    before, other_before = s.out.read_bytes(), other.read_bytes()
    r = CliRunner().invoke(cli, ["fit", str(s.out), "--out", str(other), "--quiet", "--restarts", "2"])
    assert (r.exit_code, r.output) == (1, f"Error: {other} already exists and may hold your Solver results; "
                                          "choose another --out, or fit it in place without --out.\n")
    assert other.read_bytes() == other_before
    fitted = tmp_path / "fitted.xlsx"
    r = CliRunner().invoke(cli, ["fit", str(s.out), "--out", str(fitted), "--quiet", "--restarts", "2",
                                 "--model", "linear"])
    assert r.exit_code == 0, r.output
    assert s.out.read_bytes() == before
    assert read_sheets(fitted)["linear"].loss() < read_sheets(s.out)["linear"].loss()


def test_restore_puts_a_past_fit_back_atomically_with_its_own_history_row(tmp_path):
    s = build(out=tmp_path / "t.xlsx", seed=4)
    start = read_sheets(s.out)
    assert CliRunner().invoke(cli, ["fit", str(s.out), "--quiet", "--restarts", "4", "--epochs", "20"]).exit_code == 0
    fitted = read_sheets(s.out)
    r = CliRunner().invoke(cli, ["restore", str(s.out), "--fit", "1", "--before", "--model", "nnet"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[1].split() == ["nnet", f"{fitted['nnet'].loss():.10f}", f"{start['nnet'].loss():.10f}"]
    now = read_sheets(s.out)
    np.testing.assert_array_equal(now["nnet"].W, start["nnet"].W)
    np.testing.assert_array_equal(now["mmult"].W, fitted["mmult"].W)
    assert CliRunner().invoke(cli, ["restore", str(s.out), "--fit", "1"]).exit_code == 0
    np.testing.assert_array_equal(read_sheets(s.out)["nnet"].W, fitted["nnet"].W)
    rows = list(openpyxl.load_workbook(s.out)[HISTORY_SHEET].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[2], r[3]) for r in rows if r[9] == "new"][-4:] == [
        (2, "nnet", "restore of fit 1 (replaced)"), (3, "linear", "restore of fit 1 (new)"),
        (3, "nnet", "restore of fit 1 (new)"), (3, "mmult", "restore of fit 1 (new)")]
    r = CliRunner().invoke(cli, ["restore", str(s.out), "--fit", "9"])
    assert (r.exit_code, r.output) == (1, f"Error: {s.out}: the sheet 'history' has no fit 9 of linear, nnet, "
                                          "mmult; its fits are 1, 2, 3.\n")


def test_on_very_many_rows_every_restart_is_finished_on_a_middle_sample_first(lesson, monkeypatch):
    """The path for more than MIDDLE_FROM rows, with its thresholds lowered onto the lesson's 712 rows: every
    screened restart goes through L-BFGS on the middle sample, the best FINAL go on to every row, the workbook's
    own start is among them (so the fit never ends above it), and the curve leaves the sample's iterations out."""
    from xlnet.fitting import estimator, optim
    X, y, models = lesson
    monkeypatch.setattr(estimator, "SCREEN_ROWS", 128)
    monkeypatch.setattr(estimator, "MIDDLE_FROM", 600)
    monkeypatch.setattr(estimator, "MIDDLE_ROWS", 256)
    calls = []

    def counted(f, W, **kw):
        calls.append(len(W))
        return optim.lbfgs(f, W, **kw)
    monkeypatch.setattr(estimator, "lbfgs", counted)
    monkeypatch.setattr(estimator, "can_fork", lambda: False)  # the stages' calls are counted in this process
    model = models["nnet"]
    W0 = GradientFit(restarts=8, random_state=1).fit(model, X, y, np.zeros(model.n_params)).W_  # a good start
    start = model.loss_and_grad(X, y, W0[None])[0][0]
    calls.clear()
    steps = []
    g = GradientFit(restarts=24, epochs=20, random_state=0, progress=steps.append).fit(model, X, y, W0)
    assert calls == [24, estimator.FINAL]
    assert sum(steps) == g.steps(1, model, len(y)) == 20 + 2 * 1000  # the middle's L-BFGS is counted too
    assert g.loss_ <= start
    curve = np.asarray(g.loss_curve_)
    assert np.isnan(curve).any() and np.isfinite(curve[-1]) and curve[-1] == pytest.approx(g.loss_, rel=1e-12)


@pytest.mark.parametrize("shared", [True, False])
def test_progress_moves_while_the_sheets_are_fitted_and_ends_at_its_total(tmp_path, monkeypatch, shared):
    """The bar hears from the fits as they run (restarts shared out between workers: the first share's count,
    read every PROGRESS_EVERY seconds), not once a sheet, and its steps add up to the total it was told to
    expect."""
    from xlnet import workers
    from xlnet.fitting import estimator, service
    monkeypatch.setattr(workers, "PROGRESS_EVERY", 0.01)
    if not shared:
        monkeypatch.setattr(service, "can_fork", lambda: False)
        monkeypatch.setattr(estimator, "can_fork", lambda: False)
    s = build(out=tmp_path / "t.xlsx")

    class Bar:
        steps, total = [], None

        def expect(self, total):
            self.total = total

        def __call__(self, n):
            self.steps.append(n)
    bar = Bar()
    fit_workbook(s.out, progress=bar, epochs=50)
    assert sum(bar.steps) == bar.total == 2 * (50 + 1000)  # the linear sheet's fit, and the two nets' one fit
    assert len([n for n in bar.steps if n]) > 3


def test_on_very_many_rows_the_decays_are_fitted_on_the_middle_sample_and_the_chosen_one_on_every_row(
        lesson, monkeypatch):
    """With several weight decays to choose from (fit's "auto") on more than MIDDLE_FROM rows (lowered here onto
    the lesson's rows), the warm path over the decays runs on the middle sample, the chooser sees each decay's
    best, and only the decay it chooses is fitted on every row, from that decay's best restarts."""
    from xlnet.fitting import estimator, optim
    X, y, models = lesson
    monkeypatch.setattr(estimator, "SCREEN_ROWS", 128)
    monkeypatch.setattr(estimator, "MIDDLE_FROM", 600)
    monkeypatch.setattr(estimator, "MIDDLE_ROWS", 256)
    objective, calls = estimator.objective, []

    def tagged(model, X, y, decay=0.0):
        f = objective(model, X, y, decay)
        return lambda W, rows: (calls.append((len(W), len(y), decay)) if rows is None and len(W) > 1 else None,
                                f(W, rows))[1]
    monkeypatch.setattr(estimator, "objective", tagged)
    monkeypatch.setattr(estimator, "lbfgs", lambda f, W, **kw: (calls.append(("lbfgs", len(W))),
                                                                optim.lbfgs(f, W, **kw))[1])
    monkeypatch.setattr(estimator, "can_fork", lambda: False)  # the stages' calls are counted in this process
    model, decays, seen, steps = models["nnet"], (0.0, 1e-3, 1e-2), [], []

    def choose(fits):
        seen.append(fits)
        return 1
    fitter = GradientFit(restarts=24, epochs=20, random_state=0, progress=steps.append)
    fits = fitter.fit_path(model, X, y, np.zeros(model.n_params), decays, choose=choose)
    assert [decay for *_, decay in fits] == [1e-3]
    assert [decay for _, decay in seen[0]] == list(decays)
    runs = [calls[i + 1] for i, c in enumerate(calls) if c[0] == "lbfgs"]  # each L-BFGS run's first objective
    assert [(n, rows, decay) for n, rows, decay in runs] == [
        (24, 256, 0.0), (estimator.FINAL, 256, 0.0), (estimator.FINAL, 256, 1e-3), (estimator.FINAL, 256, 1e-2),
        (estimator.FINAL, len(y), 1e-3)]
    assert sum(steps) == fitter.steps(3, model, len(y)) == 20 + 5 * 1000
    full = objective(model, X, y, 1e-3)
    assert fits[0][1] <= full(seen[0][1][0][None], None)[0][0]  # every row's fit is no worse than the sample's


def test_the_two_nets_are_one_fit_and_each_sheet_holds_its_best_in_its_own_layout(tmp_path):
    """nnet and mmult are one net written two ways: one fit from both sheets' parameters serves both, each
    sheet gets the same net (mmult's blocks the transpose of nnet's), and neither ends above where it began."""
    s = build(out=tmp_path / "t.xlsx")
    before = read_sheets(s.out)
    results = {r.sheet: r for r in fit_workbook(s.out, restarts=12, epochs=40)}
    after = read_sheets(s.out)
    nnet, mmult = after["nnet"], after["mmult"]
    assert nnet.model.same_net(mmult.model) and not nnet.model.same_net(after["linear"].model)
    assert np.array_equal(mmult.W, mmult.model.params_from(nnet.model, nnet.W))
    assert mmult.model.unpack(mmult.W)["W"].T.tolist() == nnet.model.unpack(nnet.W)["W"].tolist()
    assert mmult.loss() == pytest.approx(nnet.loss(), rel=1e-12)
    for name in ("nnet", "mmult"):
        assert after[name].loss() <= before[name].loss()
        assert results[name].iterations == results["nnet"].iterations  # one fit's
    fit_workbook(s.out, sheets=("mmult",), restarts=4, epochs=5, random_state=9)  # alone, mmult is fitted alone
    assert read_sheets(s.out)["nnet"].W.tolist() == nnet.W.tolist()


def test_restarts_shared_out_between_workers_come_back_in_order_with_the_best_restarts_curve(monkeypatch):
    """_shared runs a stage on shares of the restarts in forked workers: the restarts come back in their order,
    the curve is the best restart's value at each step (a share that stopped early keeps its last; NaN where
    nothing was measured), and the progress adds up to the curve's length."""
    from xlnet.fitting import estimator
    monkeypatch.setattr(estimator, "cores", lambda: 3)

    def run(W, progress):  # each restart "descends" for as many steps as its first value, from its second
        steps = int(W[:, 0].max())
        curve = [float(np.min(W[:, 1] - k)) if k % 2 == 0 or k == steps - 1 else float("nan") for k in range(steps)]
        for _ in curve:
            progress(1)
        return W * 2, curve
    W = np.array([[3, 10], [5, 6], [2, 7], [1, 9], [4, 1], [2, 3], [1, 8]], float)
    steps = []
    shared, curve = GradientFit(progress=steps.append)._shared(run, W)
    assert shared.tolist() == (W * 2).tolist()
    # shares [0, 1, 2], [3, 4], [5, 6]: 5 steps from 6 (6, nan, 4, nan, 2), 4 from 1 (1, nan, -1, -2), 2 from 3
    # (3, 2); a share that stopped keeps its last value
    assert curve == [1, 2, -1, -2, -2]
    assert sum(steps) == len(curve)
    monkeypatch.setattr(estimator, "can_fork", lambda: False)
    assert GradientFit()._shared(run, W)[1][:1] == [1]  # one share: the run itself


def test_a_shared_fit_of_the_lesson_net_ends_as_low_as_one_process_does(lesson, monkeypatch):
    """On two cores or more a fit's restarts are shared out; the paths differ from one process's only by
    rounding, and the best restart ends as low (the lesson's best basin)."""
    from xlnet.fitting import estimator
    X, y, models = lesson
    model = models["nnet"]
    W0 = np.random.default_rng(3).uniform(-0.5, 0.5, model.n_params)
    shared = GradientFit().fit(model, X, y, W0)
    monkeypatch.setattr(estimator, "can_fork", lambda: False)
    alone = GradientFit().fit(model, X, y, W0)
    assert shared.loss_ == pytest.approx(alone.loss_, rel=1e-5) and max(shared.loss_, alone.loss_) < 0.12895


def test_workers_are_as_many_as_the_cores_this_process_may_use(monkeypatch, tmp_path):
    """A container's CPU quota caps the workers (os.cpu_count counts the host's cores)."""
    from xlnet import workers
    assert workers.quota_in_cores("max", "100000") is None and workers.quota_in_cores("-1", "100000") is None
    assert [workers.quota_in_cores(q, "100000") for q in ("200000", "150000", "50000")] == [2, 2, 1]
    v2 = tmp_path / "cpu.max"
    v2.write_text("100000 100000\n")
    monkeypatch.setattr(workers, "CGROUP_QUOTAS", ((str(tmp_path / "absent"), None), (str(v2), None)))
    assert workers.cores() == 1 and not workers.can_fork()  # one core's quota: the work stays in this process
    v1, period = tmp_path / "quota", tmp_path / "period"
    v1.write_text("-1\n")
    period.write_text("100000\n")
    monkeypatch.setattr(workers, "CGROUP_QUOTAS", ((str(v1), str(period)),))
    assert workers.cores() == len(os.sched_getaffinity(0))
