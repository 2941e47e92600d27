"""Curve tables: the design, a build on the smoke slice of California Housing, its resume, bad input,
and every method replayed from the table."""

import json
import os
import shutil
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from benchmarks.compare.cli import main as compare
from benchmarks.curves.cli import main
from benchmarks.curves.design import configurations, grid_points
from benchmarks.curves.replay import Replay, ReplayTrainer, load_replay
from benchmarks.curves.surrogate import (
    Calibration,
    Surrogate,
    encode,
    fidelity,
    fitted_scores,
    model_error,
    other_seeds_scores,
    seed_spread,
)
from benchmarks.curves.table import JOBS_FILE, METADATA_FILE, TABLE_FILE, CurveTable
from benchmarks.curves.table_readme import write_report
from benchmarks.definitions import CALIFORNIA, DATASETS, MLP_SPACE
from tuning.errors import TuningError
from tuning.methods import METHOD_NAMES, Budget, get_method
from tuning.methods.base import BUDGET_TOLERANCE
from tuning.space import Categorical, Space
from tuning.training import Trainer

BUILD = ["build", CALIFORNIA, "--profile", "smoke", "--configs", "2", "--budget-multiples", "1"]
BUILD += ["--noise-configs", "1", "--noise-seeds", "2", "--grid-seeds", "2"]


def _planned(built) -> int:
    return json.loads((built / CALIFORNIA / METADATA_FILE).read_text())["jobs"]["planned"]


def test_the_design_is_reproducible_inside_the_space_and_holds_every_grid_point():
    design = configurations(MLP_SPACE, 16, seed=0, grid_sizes=(12, 48))
    assert design == configurations(MLP_SPACE, 16, seed=0, grid_sizes=(12, 48))
    assert design[:16] != configurations(MLP_SPACE, 16, seed=1)
    grid = grid_points(MLP_SPACE, (12, 48))
    assert all(point in design for point in grid) and len(design) == 16 + len({json.dumps(g) for g in grid})
    for point in design:
        for parameter in MLP_SPACE:
            value = point[parameter.name]
            if isinstance(parameter, Categorical):
                assert value in parameter.choices
            else:
                assert parameter.low <= value <= parameter.high
    # Space-filling: 16 Sobol points reach every choice of every categorical.
    for parameter in (p for p in MLP_SPACE if isinstance(p, Categorical)):
        assert {point[parameter.name] for point in design[:16]} == set(parameter.choices)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("curves")
    assert main([*BUILD, "--out", str(out)]) == 0
    return out


def test_a_table_holds_every_epoch_of_every_configuration_with_its_provenance(built):
    table = pd.read_csv(built / CALIFORNIA / TABLE_FILE)
    metadata = json.loads((built / CALIFORNIA / METADATA_FILE).read_text())
    setting = DATASETS[CALIFORNIA].setting("smoke")
    n_grid = len(grid_points(MLP_SPACE, metadata["design"]["grid_sizes"]))
    n_configs = 2 + n_grid
    # Seed 1 of the first configuration (the noise configurations) and of every grid point.
    curves = {(c, 0) for c in range(n_configs)} | {(0, 1)} | {(c, 1) for c in range(2, n_configs)}
    assert metadata["configurations"] == n_configs and metadata["design"]["grid_seeds"] == 2
    assert metadata["jobs"] == {"finished": len(curves), "planned": len(curves)} and n_grid == 4
    assert len(table) == len(curves) * setting.epochs_per_trial
    epochs = table.groupby(["config", "seed"]).epoch.apply(list)
    assert (epochs.map(lambda e: e == list(range(1, setting.epochs_per_trial + 1)))).all()
    assert set(epochs.index) == curves
    assert table[["val_score", "test_score", "loss", "epoch_s"]].notna().all().all() and (table.epoch_s > 0).all()
    assert {f"param_{name}" for name in MLP_SPACE.names} <= set(table.columns)
    assert Space.from_dicts(metadata["space"]).to_dicts() == MLP_SPACE.to_dicts() and metadata["metric"] == "rmse"
    assert metadata["setting"]["epochs_per_trial"] == setting.epochs_per_trial
    (source,) = metadata["provenance"]
    assert source["command"] == "python -m benchmarks.curves " + " ".join([*BUILD, "--out", str(built)])
    assert {"git_commit", "keras", "jax", "machine_cpu_model"} <= set(source)


def test_a_real_grid_search_scores_exactly_the_tables_last_epochs(built, california_data):
    # The table's seed-0 curves are the trials a cell of seed 0 trains: same split, seed and recipe.
    task = DATASETS[CALIFORNIA]
    setting = task.setting("smoke")
    problem, _ = task.problem(california_data, 0, setting.fraction)
    result = get_method("grid").search(problem, task.space, Budget(setting.budget_epochs, setting.epochs_per_trial))
    table = pd.read_csv(built / CALIFORNIA / TABLE_FILE)
    last = table[(table.seed == 0) & (table.epoch == setting.epochs_per_trial)]
    recorded = dict(zip(last.params, last.val_score, strict=True))
    assert result.trials and all(t.fidelity == setting.epochs_per_trial for t in result.trials)
    for trial in result.trials:
        assert recorded[json.dumps(trial.params, sort_keys=True)] == trial.val_score


def test_a_rerun_trains_nothing_and_writes_the_same_table(built, capfd):
    before = (built / CALIFORNIA / TABLE_FILE).read_bytes()
    capfd.readouterr()
    assert main([*BUILD, "--out", str(built)]) == 0
    assert capfd.readouterr().err.count("finished earlier, skipped") == _planned(built)
    assert (built / CALIFORNIA / TABLE_FILE).read_bytes() == before


BAD_INPUT = [
    ("unknown dataset", ["build", "mnist"], "unknown dataset 'mnist'"),
    ("zero configurations", [*BUILD, "--configs", "0"], "expected a positive integer, got '0'"),
    ("bad budget multiple", [*BUILD, "--budget-multiples", "1,x"], "expected a positive integer, got 'x'"),
    ("unknown profile", ["build", "fashion_mnist", "--profile", "huge"], "invalid choice: 'huge'"),
    ("output is a file", [*BUILD, "--out", "{file}"], "is a file, not a directory"),
    ("malformed store", [*BUILD, "--store"], "is not a valid store"),
    ("unreadable table to resume", [*BUILD, "--table"], "is unreadable (BadGzipFile); use --fresh"),
]


@pytest.mark.parametrize(("case", "args", "message"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_one_line_and_writes_nothing(case, args, message, tmp_path, capfd):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    table_dir = tmp_path / "out" / CALIFORNIA
    table_dir.mkdir(parents=True)
    if args[-1] == "--store":
        (table_dir / "results.sqlite").write_bytes(b"not a database " * 100)
        args = args[:-1]
    if args[-1] == "--table":
        for name in (TABLE_FILE, JOBS_FILE):
            (table_dir / name).write_bytes(b"not gzip at all")
        args = args[:-1]
    args = [a.replace("{file}", str(a_file)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    before = {p.name: p.read_bytes() for p in table_dir.iterdir()}
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(args))
    assert exit_info.value.code == 2
    err = capfd.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert {p.name: p.read_bytes() for p in table_dir.iterdir()} == before


def test_a_build_resumes_from_the_written_table_alone(built, tmp_path, capfd):
    # A committed table on a fresh machine: no store beside it.
    copy = tmp_path / "copy"
    shutil.copytree(built, copy, ignore=shutil.ignore_patterns("*.sqlite*"))
    capfd.readouterr()
    assert main([*BUILD, "--out", str(copy)]) == 0
    err = capfd.readouterr().err
    planned = _planned(built)
    assert f"{planned} curves taken from the table written earlier" in err
    assert err.count("finished earlier, skipped") == planned
    for name in (TABLE_FILE, METADATA_FILE):
        assert (copy / CALIFORNIA / name).read_bytes() == (built / CALIFORNIA / name).read_bytes()


def test_a_commit_of_digits_alone_stays_text_through_a_resumed_build(tmp_path, monkeypatch):
    # A short hash such as 3920318 once read back from the table as a number, so the resumed
    # build's metadata differed from the first build's; 1234e56 would read as a float.
    monkeypatch.setattr("benchmarks.common.engine.git_commit", lambda: "1234e56")
    first, again = tmp_path / "first", tmp_path / "again"
    assert main([*BUILD, "--out", str(first)]) == 0
    shutil.copytree(first, again, ignore=shutil.ignore_patterns("*.sqlite*"))
    assert main([*BUILD, "--out", str(again)]) == 0
    metadata = (again / CALIFORNIA / METADATA_FILE).read_bytes()
    assert metadata == (first / CALIFORNIA / METADATA_FILE).read_bytes()
    assert {p["git_commit"] for p in json.loads(metadata)["provenance"]} == {"1234e56"}


def _expected_score(params: dict, epoch: int) -> float:
    """A known response: better with a middle learning rate, more units and more epochs."""
    quality = -((np.log10(params["learning_rate_scale"])) ** 2) + np.log2(params["units"]) / 9
    quality += {"adam": 0.2, "adamw": 0.2, "rmsprop": 0.1, "sgd": -0.3}[params["optimizer"]]
    return 0.7 + 0.1 * quality - 0.05 / epoch


def _synthetic_table(n_configs: int = 160, epochs: int = 5, *, repeated: int = 10, worth: float = 0.0) -> pd.DataFrame:
    """Curves of ``_expected_score`` plus each seed's noise (0.01), the first ``repeated``
    configurations under seeds 0 and 1, each configuration ``worth`` (a standard deviation) better
    or worse than its parameters tell, alike under every seed."""
    rows = []
    design = configurations(MLP_SPACE, n_configs, seed=3)
    rng = np.random.default_rng(0)
    hidden = np.random.default_rng(1).normal(0, worth, n_configs)
    for number, params in enumerate(design):
        for seed in (0, 1) if number < repeated else (0,):
            noise = rng.normal(0, 0.01) + hidden[number]
            for epoch in range(1, epochs + 1):
                score = _expected_score(params, epoch) + noise
                rows.append(
                    {"config": number, "seed": seed, "params": json.dumps(params, sort_keys=True), "epoch": epoch,
                     "val_score": score, "test_score": score - 0.01, "loss": 1 - score,
                     "epoch_s": 0.01 * params["units"] / params["batch_size"] * (20 if epoch == 1 else 1),
                     "trial_error": ""}
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_the_surrogate_ranks_held_out_configurations_and_adds_each_seeds_noise():
    table = _synthetic_table()
    scores = fidelity(table, MLP_SPACE)
    assert list(scores.epoch) == [1, 2, 3, 4, 5] and (scores.configurations == 160).all()
    assert (scores.spearman > 0.9).all(), scores
    surrogate = Surrogate.fit(table, MLP_SPACE, calibration_folds=0)
    config = json.loads(table.params.iloc[0])
    curve = surrogate.curve(config, seed=4)
    assert list(curve.epoch) == [1, 2, 3, 4, 5] and curve.val_score.iloc[-1] > curve.val_score.iloc[0]
    assert curve.equals(surrogate.curve(config, seed=4)) and not curve.equals(surrogate.curve(config, seed=5))
    # The first epoch, with its compilation, is the slow one.
    assert curve.epoch_s.iloc[0] > 5 * curve.epoch_s.iloc[1]
    with pytest.raises(TuningError, match=r"units=1000.0 is outside the table's range \[32, 512\]"):
        surrogate.predict([{**config, "units": 1000}], [1])
    with pytest.raises(TuningError, match=r"epochs must lie in 1\.\.5"):
        surrogate.predict([config], [6])


def test_the_calibration_undoes_a_shrinkage_of_the_predictions_in_their_order():
    rng = np.random.default_rng(4)
    reached = rng.normal(0.8, 0.05, 400)
    # Predictions pulled halfway to the mean, as trees pull the best and worst configurations.
    predicted = 0.8 + (reached - 0.8) / 2 + rng.normal(0, 0.002, 400)
    scores = {"val_score": reached, "test_score": reached - 0.01}
    held_out = {"val_score": predicted, "test_score": predicted - 0.01}
    calibration = Calibration.from_held_out(held_out, scores, [3] * 400)
    inside = np.linspace(0.76, 0.84, 17)  # within the bins' mean predictions
    answered = calibration({"val_score": inside, "test_score": inside - 0.01}, np.full(17, 3))
    assert (np.diff(answered["val_score"]) > 0).all()
    assert answered["val_score"] == pytest.approx(0.8 + 2 * (inside - 0.8), abs=0.01)
    assert answered["test_score"] == pytest.approx(answered["val_score"] - 0.01, abs=0.002)
    # Past the end knots, a prediction moves as far as the end knot: the same order, no steeper.
    outside = np.array([0.6, 0.65, 0.95, 1.0])
    moved = calibration({"val_score": outside, "test_score": outside}, np.full(4, 3))["val_score"] - outside
    assert moved[0] == pytest.approx(moved[1]) and moved[2] == pytest.approx(moved[3]) and moved[0] < 0 < moved[2]
    # An epoch it has no knots for passes through.
    passed = calibration({"val_score": inside, "test_score": inside}, np.full(17, 4))
    assert passed["val_score"] == pytest.approx(inside)


@pytest.fixture(scope="module")
def calibrated():
    """A calibrated surrogate of two-epoch curves whose first 100 configurations have two seeds."""
    return Surrogate.fit(_synthetic_table(epochs=2, repeated=100), MLP_SPACE)


def test_a_calibrated_surrogate_keeps_the_trees_order_and_answers_the_best_configurations_at_their_worth(calibrated):
    trees = Surrogate.fit(_synthetic_table(epochs=2, repeated=100), MLP_SPACE, calibration_folds=0)
    assert trees.calibration is None and trees.error is None and calibrated.calibration is not None
    unseen = configurations(MLP_SPACE, 300, seed=11)
    expected = np.array([_expected_score(config, 2) for config in unseen])
    by_trees = trees.predict(unseen, [2] * len(unseen)).val_score.to_numpy()
    by_calibration = calibrated.predict(unseen, [2] * len(unseen)).val_score.to_numpy()
    order = np.argsort(by_trees, kind="stable")
    assert (np.diff(by_calibration[order]) >= 0).all()
    # The best configurations, calibrated, within half a seed's noise (0.01) of their expected scores,
    # and nearer them than the trees answer them.
    best = order[-30:]
    assert abs(np.mean(expected[best] - by_calibration[best])) < min(
        0.005, abs(np.mean(expected[best] - by_trees[best]))
    )


def test_the_trees_error_is_what_configurations_reach_beyond_their_answer_and_their_seeds_noise(calibrated):
    # Each configuration 0.03 better or worse than its parameters tell: no tree can know it, and
    # a real search of many configurations meets it, so replay draws it; without it, little is left.
    hidden = Surrogate.fit(_synthetic_table(epochs=2, repeated=100, worth=0.03), MLP_SPACE)
    plain = calibrated
    errors = {}
    for name, surrogate in (("hidden", hidden), ("plain", plain)):
        error = surrogate.error.xs(2, level="epoch")
        assert list(error.index) == [0, 1, 2, 3] and (np.diff(error.level) > 0).all()
        # The test score is the validation score less 0.01: the same worth, the same error.
        assert error.test_score.to_numpy() == pytest.approx(error.val_score.to_numpy(), abs=0.002)
        errors[name] = np.mean(error.val_score**2)
    # Without hidden worth, what is left is the trees' own misfit of the response on 160 configurations;
    # the hidden worth comes on top of it, and seed noise (0.01) is not counted in either.
    assert np.sqrt(errors["plain"]) < 0.015
    assert np.sqrt(errors["hidden"] - errors["plain"]) == pytest.approx(0.03, abs=0.005), errors
    # Drawn per configuration and seed, as seed noise is: a curve with the error spreads wider.
    config = json.loads(_synthetic_table().params.iloc[0])
    finals = {
        name: np.std([surrogate.curve(config, seed).val_score.iloc[-1] for seed in range(200)])
        for name, surrogate in (("hidden", hidden), ("plain", plain))
    }
    assert finals["hidden"] > 1.5 * finals["plain"]


def test_a_configuration_that_fails_to_train_is_not_spread_over_its_band_as_the_trees_error(calibrated):
    # Configuration 5 failed under seed 1: its miss of about 0.3 would make its band's error about 0.04,
    # a normal draw of which would lift every configuration of that band's best replayed trials.
    table = _synthetic_table(epochs=2, repeated=100)
    failed = (table.config == 5) & (table.seed == 1)
    table.loc[failed, ["val_score", "test_score"]] -= 0.3
    error = Surrogate.fit(table, MLP_SPACE).error.xs(2, level="epoch")
    assert (error.val_score <= calibrated.error.xs(2, level="epoch").val_score + 0.003).all(), error


def test_an_epoch_with_fewer_configurations_than_bands_gets_a_band_each(calibrated):
    # An empty band would have no level; replay's nearest band would then be that one, with no error at all.
    index = pd.MultiIndex.from_product([[0, 1, 2], [2]], names=["config", "epoch"])
    scores = np.array([0.70, 0.75, 0.80])
    reached = pd.DataFrame({"val_score": scores, "test_score": scores - 0.01, "seeds": 1}, index=index)
    answered = {"val_score": scores + np.array([0.01, -0.01, 0.0]), "test_score": scores - np.array([0.0, 0.02, 0.01])}
    error = model_error(reached, answered, calibrated.spread)
    assert list(error.index) == [(2, 0), (2, 1), (2, 2)] and error.notna().all().all(), error


def test_a_configuration_is_fitted_as_its_mean_over_seeds_and_calibrated_on_its_other_seeds_without_shifts():
    design = configurations(MLP_SPACE, 4, seed=5)
    # Seed 1's split makes every configuration look 0.1 better, configuration 0 also 0.02 luckier;
    # configuration 3 has seed 0 only.
    seed1 = {0: 0.12, 1: 0.1, 2: 0.1}
    rows = [
        {"config": c, "seed": s, "params": json.dumps(p, sort_keys=True), "epoch": 1,
         "val_score": 0.5 + c / 10 + (seed1[c] if s else 0.0), "test_score": 0.5 + c / 10, "loss": 0.4,
         "epoch_s": 0.1, "trial_error": ""}
        for c, p in enumerate(design) for s in ((0, 1) if c in seed1 else (0,))
    ]  # fmt: skip
    fitted = fitted_scores(pd.DataFrame(rows)).set_index("config")
    # On seed 0's scale: half of configuration 0's luck under seed 1, nothing of the shift.
    assert fitted.val_score.to_numpy() == pytest.approx([0.51, 0.6, 0.7, 0.8], abs=1e-12)
    assert fitted.test_score.to_numpy() == pytest.approx([0.5, 0.6, 0.7, 0.8], abs=1e-12)
    # What the calibration holds the trees to: the seeds other than 0, their shift taken out.
    others = other_seeds_scores(pd.DataFrame(rows))
    assert list(others.index) == [(0, 1), (1, 1), (2, 1)] and (others.seeds == 1).all()
    assert others.val_score.to_numpy() == pytest.approx([0.52, 0.6, 0.7], abs=1e-12)
    assert others.test_score.to_numpy() == pytest.approx([0.5, 0.6, 0.7], abs=1e-12)


def test_a_scores_model_answers_exactly_what_scikit_learn_makes_of_its_two_members():
    from sklearn.ensemble import VotingRegressor

    table = _synthetic_table()
    features = encode(MLP_SPACE, [json.loads(p) for p in table.params], table.epoch.to_numpy())
    model = Surrogate.fit(table, MLP_SPACE, calibration_folds=0).models["val_score"]
    voting = VotingRegressor([("boosted", model.boosted), ("randomised", model.randomised)])
    voting.estimators_ = [model.boosted, model.randomised]  # fitted by the surrogate
    assert np.array_equal(model.predict(features), voting.predict(features))


def test_the_report_states_the_fidelity_against_its_target(built, tmp_path):
    metadata = json.loads((built / CALIFORNIA / METADATA_FILE).read_text())
    table = CurveTable(
        _synthetic_table(), {**metadata, "setting": {**metadata["setting"], "epochs_per_trial": 5}}, MLP_SPACE
    )
    fidelity_file, readme = write_report(table, tmp_path, command="python -m benchmarks.curves report x")
    text = readme.read_text()
    assert "## Surrogate fidelity" in text and "Target at the last epoch: >= 0.9 (met: " in text
    # Ten configurations of two seeds: too few to calibrate on, so no error is drawn, and the report says so.
    error = text[text.index("## The trees' error") : text.index("## Surrogate fidelity")]
    assert "Not measured: fewer than 100 configurations trained under seeds besides 0" in error
    assert "python -m benchmarks.curves report x" in text and metadata["provenance"][0]["git_commit"] in text
    assert len(pd.read_csv(fidelity_file)) == 5


REPORT = ["report", CALIFORNIA, "--profile", "smoke"]
TABLE_CASES = [
    ("no table", "missing", "no curve table at"),
    ("corrupt table", "corrupt", "is unreadable (BadGzipFile)"),
    ("another space", "space", "was built for space"),
    ("another benchmark version", "version", "was built for benchmark_version '2025.1'"),
]


@pytest.mark.parametrize("command", ["report", "replay"])
@pytest.mark.parametrize(("case", "change", "message"), TABLE_CASES, ids=[c[0] for c in TABLE_CASES])
def test_a_bad_table_is_refused_in_one_line_and_nothing_is_written(
    case, change, message, command, built, tmp_path, capfd
):
    copy = tmp_path / "tables"
    shutil.copytree(built, copy, ignore=shutil.ignore_patterns("*.sqlite*"))
    directory = copy / CALIFORNIA
    metadata = json.loads((directory / METADATA_FILE).read_text())
    if change == "missing":
        (directory / TABLE_FILE).unlink()
    elif change == "corrupt":
        (directory / TABLE_FILE).write_bytes(b"not gzip at all")
    elif change == "space":
        metadata["space"][1]["high"] = 1024
    else:
        metadata["benchmark_version"] = "2025.1"
    (directory / METADATA_FILE).write_text(json.dumps(metadata))
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    capfd.readouterr()
    replayed = tmp_path / "replayed"
    if command == "report":
        assert main([*REPORT, "--out", str(copy)]) == 2
    else:
        assert compare([*REPLAY, "--curves", str(copy), "--out", str(replayed)]) == 2
    err = capfd.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before
    assert not replayed.exists()


def test_a_table_outlives_a_change_of_the_quality_target(built):
    # The target judges a comparison's result; the curves do not depend on it.
    task = DATASETS[CALIFORNIA]
    setting = task.setting("smoke")
    moved = replace(task, settings={**task.settings, "smoke": replace(setting, target=(setting.target or 1.0) / 2)})
    table = load_replay(built, moved, "smoke").table
    assert "target" not in table.metadata["setting"] and not table.rows.empty


REPLAY = ["--replay", "--profile", "smoke", "--datasets", CALIFORNIA, "--seeds", "2"]
# One method of each method module for the run in worker processes: a module's methods reach
# the workers by the same code.
ONE_PER_MODULE = "random,hyperband,kt_random,optuna_asha"


@pytest.fixture(scope="module")
def replayed(built, tmp_path_factory):
    """Two seeds replayed from the smoke table: every method in this process, then one method
    of each module two cells at once."""
    runs = []
    for cells, methods in (("1", "all"), ("2", ONE_PER_MODULE)):
        out = tmp_path_factory.mktemp(f"replay-cells{cells}")
        args = ["--methods", methods, "--cells", cells, "--curves", str(built), "--out", str(out)]
        assert compare([*REPLAY, *args]) == 0
        runs.append((pd.read_csv(out / "comparison.csv"), pd.read_csv(out / "trials.csv")))
    return runs


def test_every_method_replays_through_its_library_within_the_budget(replayed):
    (cells, trials), _ = replayed
    assert sorted(cells.method.unique()) == sorted(METHOD_NAMES) and (cells.seed.value_counts() == 10).all()
    assert (cells["mode"] == "replay").all() and (trials["mode"] == "replay").all()
    assert cells.error.isna().all() and (cells.n_failed_trials == 0).all() and (cells.test_evaluations == 1).all()
    within = cells.budget_deviation.abs() <= BUDGET_TOLERANCE
    assert (within | cells.budget_note.notna()).all()
    for (method, seed), cell_trials in trials.groupby(["method", "seed"]):
        cell = cells[(cells.method == method) & (cells.seed == seed)].iloc[0]
        full = cell_trials[cell_trials.fidelity == cell.epochs_per_trial]
        # The winner is the best trial at full fidelity, and its refit replays the same curve.
        assert cell.val_score == full.val_score.min() == cell.refit_val_score, method
        assert cell_trials.epochs.sum() == cell.epochs_trained


def test_a_replayed_trial_is_its_configurations_curve_under_the_cells_seed(built, replayed):
    (cells, trials), _ = replayed
    replay = load_replay(built, DATASETS[CALIFORNIA], "smoke")
    for trial in trials.itertuples():
        curve = replay.surrogate.curve(json.loads(trial.params), trial.seed).set_index("epoch")
        assert trial.val_score == pytest.approx(curve.val_score[trial.fidelity], abs=1e-12), trial.method
    # Time is simulated: a trial lasts at least the recorded time of the epochs it replayed.
    for trial in trials.itertuples():
        curve = replay.surrogate.curve(json.loads(trial.params), trial.seed).set_index("epoch")
        lasted = (pd.Timestamp(trial.finished_at) - pd.Timestamp(trial.started_at)).total_seconds()
        assert lasted >= curve.epoch_s.iloc[: trial.epochs].sum() - 0.002, trial.method
    assert (cells.wall_time_s > cells.search_time_s).all()


def test_a_replay_is_reproducible_seed_by_seed_in_one_process_or_two_and_seeds_differ(replayed):
    (cells, first), (parallel_cells, second) = replayed
    methods = ONE_PER_MODULE.split(",")
    assert sorted(parallel_cells.method.unique()) == sorted(methods)
    columns = ["method", "seed", "trial", "params", "val_score", "epochs", "fidelity"]
    assert first[first.method.isin(methods)][columns].reset_index(drop=True).equals(second[columns])
    in_process = cells[cells.method.isin(methods)].reset_index(drop=True)
    assert in_process[["method", "seed", "test_score"]].equals(parallel_cells[["method", "seed", "test_score"]])
    # The second run's cells ran in two worker processes, not in this one.
    assert first.worker_pid.unique().tolist() == [os.getpid()]
    assert second.worker_pid.nunique() == 2 and os.getpid() not in set(second.worker_pid)
    by_seed = first[first.method == "random"].groupby("seed").params.apply(list)
    assert by_seed[0] != by_seed[1]


def test_a_shorter_trial_scores_exactly_the_tables_earlier_epoch(built, california_data):
    # What replaying a rung relies on: a fit of e epochs from scratch is the first e epochs of a full one.
    task = DATASETS[CALIFORNIA]
    problem, _ = task.problem(california_data, 0, task.setting("smoke").fraction)
    table = pd.read_csv(built / CALIFORNIA / TABLE_FILE)
    curve = table[(table.config == 0) & (table.seed == 0)].set_index("epoch")
    evaluation = Trainer().evaluate(problem, json.loads(curve.params.iloc[0]), epochs=1, seed=0)
    assert evaluation.val_score == curve.val_score[1] and evaluation.epochs == 1


def test_replay_refuses_a_learning_rate_schedule():
    space = Space([*MLP_SPACE, Categorical("lr_schedule", ("constant", "warmup_cosine"))])
    with pytest.raises(TuningError, match="constant learning rate only, not lr_schedule 'warmup_cosine'"):
        Replay(CurveTable(_synthetic_table(), {}, space))


def test_a_replayed_trial_lasts_its_recorded_epochs_however_long_the_surrogate_takes():
    table = _synthetic_table()
    replay = Replay(CurveTable(table, {}, MLP_SPACE))
    answer = replay.surrogate.curve

    def slow_answer(config, seed):
        time.sleep(0.5)
        return answer(config, seed)

    replay.surrogate.curve = slow_answer
    trainer = ReplayTrainer(replay)
    config = json.loads(table.params.iloc[0])
    evaluation, _ = trainer.refit(None, config, epochs=5, seed=3)
    recorded = answer(config, 3).epoch_s.sum() + replay.scoring_s
    assert recorded <= evaluation.finished_at - evaluation.started_at < recorded + 0.1


def test_seed_noise_keeps_the_measured_link_between_an_early_epoch_and_the_last():
    rng = np.random.default_rng(1)
    design = configurations(MLP_SPACE, 30, seed=5)
    rows = [
        {"config": c, "seed": s, "params": json.dumps(p, sort_keys=True), "epoch": e, "val_score": 0.6 + noise,
         "test_score": 0.6 + noise, "loss": 0.4, "epoch_s": 0.1, "trial_error": ""}
        for c, p in enumerate(design) for s in range(3)
        for e, noise in zip((1, 2, 3), (rng.normal(0, 0.02), *[rng.normal(0, 0.02)] * 2), strict=True)
    ]  # fmt: skip
    # Each seed's luck at epoch 1 is its own; at epochs 2 and 3 it is the same.
    spread = seed_spread(pd.DataFrame(rows))
    assert abs(spread.final_correlation[1, 0]) < 0.3 and spread.final_correlation[2, 0] == pytest.approx(1.0)
    surrogate = Surrogate.fit(pd.DataFrame(rows), MLP_SPACE, calibration_folds=0)
    curves = [surrogate.curve(design[0], seed).val_score.to_numpy() for seed in range(200)]
    deviations = np.array(curves) - np.mean(curves, axis=0)
    assert np.corrcoef(deviations[:, 1], deviations[:, 2])[0, 1] > 0.95
    assert abs(np.corrcoef(deviations[:, 0], deviations[:, 2])[0, 1]) < 0.3


def test_a_seeds_shift_of_every_configuration_is_not_replayed_as_noise():
    rng = np.random.default_rng(2)
    design = configurations(MLP_SPACE, 30, seed=5)
    shifts = (0.0, 0.05, -0.05)  # a split that makes every configuration look better or worse alike
    rows = [
        {"config": c, "seed": s, "params": json.dumps(p, sort_keys=True), "epoch": 1, "val_score": 0.6 + shift + noise,
         "test_score": 0.6 + noise, "loss": 0.4, "epoch_s": 0.1, "trial_error": ""}
        for c, p in enumerate(design) for s, shift in enumerate(shifts) for noise in [rng.normal(0, 0.01)]
    ]  # fmt: skip
    spread = seed_spread(pd.DataFrame(rows), bands=1).loc[1, 0]
    # The noise that reorders configurations is 0.01, not the 0.04 the shifts would add to it.
    assert spread.val_score == pytest.approx(0.01, rel=0.2) and spread.seed_shift == pytest.approx(0.05, rel=0.1)
    assert spread.test_score == pytest.approx(0.01, rel=0.2) and spread.correlation > 0.95


def test_seed_noise_and_shifts_are_measured_on_every_repeated_configuration_whatever_its_seeds():
    rng = np.random.default_rng(5)
    design = configurations(MLP_SPACE, 50, seed=5)
    shifts = (0.0, 0.05, 0.03, 0.04, 0.06)  # each seed's split, seen from seed 0's
    # As a build with grid seeds makes them: 40 configurations under seeds 0-2, 10 grid points under 0-4.
    rows = [
        {"config": c, "seed": s, "params": json.dumps(p, sort_keys=True), "epoch": 1,
         "val_score": 0.6 + c / 1000 + shifts[s] + noise, "test_score": 0.6 + c / 1000 + noise, "loss": 0.4,
         "epoch_s": 0.1, "trial_error": ""}
        for c, p in enumerate(design) for s in range(3 if c < 40 else 5) for noise in [rng.normal(0, 0.01)]
    ]  # fmt: skip
    table = pd.DataFrame(rows)
    spread = seed_spread(table, bands=1).loc[1, 0]
    assert spread.level == pytest.approx(0.6 + np.mean(range(50)) / 1000, abs=0.002)
    assert spread.val_score == pytest.approx(0.01, rel=0.15) and spread.test_score == pytest.approx(0.01, rel=0.15)
    assert spread.seed_shift == pytest.approx(np.std(shifts, ddof=1), rel=0.2) and spread.correlation > 0.95
    # Every configuration is fitted on seed 0's level, as the mean over its own seeds (left in, the
    # shifts would move it by 0.027 or 0.036; ten configurations measure seeds 3 and 4 roughly).
    fitted = fitted_scores(table).set_index("config")
    expected = table.assign(v=table.val_score - np.array(shifts)[table.seed]).groupby("config").v.mean()
    assert fitted.val_score.to_numpy() == pytest.approx(expected.to_numpy(), abs=0.01)


def test_seed_noise_is_measured_and_replayed_per_quality_band():
    rng = np.random.default_rng(3)
    design = configurations(MLP_SPACE, 40, seed=5)
    # Configurations that train badly vary across seeds ten times more than good ones, and alike on
    # both sets; a good one's luck on the validation set is its own, not the test set's.
    quality = {c: (0.5, 0.05, 1.0) if c % 2 else (0.9, 0.005, 0.0) for c in range(len(design))}
    rows = [
        {"config": c, "seed": s, "params": json.dumps(p, sort_keys=True), "epoch": 1, "val_score": level + noise,
         "test_score": level + link * noise + (1 - link) * other, "loss": 0.4, "epoch_s": 0.1, "trial_error": ""}
        for c, p in enumerate(design) for s in range(3)
        for level, sd, link in [quality[c]] for noise, other in [rng.normal(0, sd, 2)]
    ]  # fmt: skip
    spread = seed_spread(pd.DataFrame(rows), bands=2).loc[1]
    assert spread.level.tolist() == pytest.approx([0.5, 0.9], abs=0.02)
    assert spread.val_score[0] == pytest.approx(0.05, rel=0.3) and spread.val_score[1] == pytest.approx(0.005, rel=0.3)
    assert spread.correlation[0] > 0.95 and abs(spread.correlation[1]) < 0.4
    # A pooled spread would be about 0.035 for every configuration; a good one is replayed with its band's.
    surrogate = Surrogate.fit(pd.DataFrame(rows), MLP_SPACE, calibration_folds=0)
    surrogate = replace(surrogate, spread=seed_spread(pd.DataFrame(rows), bands=2))
    good = design[0]
    replayed = np.array([surrogate.curve(good, seed).iloc[0][["val_score", "test_score"]] for seed in range(300)])
    assert np.std(replayed[:, 0]) == pytest.approx(spread.val_score[1], rel=0.2)
    assert np.corrcoef(replayed.T)[0, 1] == pytest.approx(spread.correlation[1], abs=0.15)
