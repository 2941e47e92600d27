"""OFAT studies: their expansion, their checkable hypotheses, and a whole study run on a slice of real data."""

import dataclasses
import json
import math
import shutil
import sqlite3
import tomllib

import pandas as pd
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata

from benchmarks.study import main
from benchmarks.study.document import verdict_text
from benchmarks.study.rebuild import main as rebuild_main
from benchmarks.study.runner import StudyRunner, combined_runs, group_runs
from benchmarks.study.studies import (
    STUDIES,
    Beats,
    BeatsBaseline,
    BestAmong,
    BestBeats,
    ClosesGap,
    Combination,
    Context,
    Group,
    Improves,
    MattersMore,
    SmallEffect,
    Study,
    Verdict,
)
from tuning.metrics import ACCURACY, RMSE

FASHION = STUDIES["fashion-ofat"]


def test_fashion_preset_has_the_seed_study_runs_plus_the_schedule_group():
    counts = {g.name: len(g.configurations()) for g in FASHION.groups}
    assert counts == {
        "epochs": 3,
        "units": 36,
        "batch_size": 6,
        "depth": 3,
        "learning_rate": 6,
        "optimizer": 4,
        "sgd_momentum": 4,
        "sgd_schedule": 5,
        "seed_noise": 4,
    }
    # The seven groups of the hand-run study: 58 single-factor runs plus 3 combinations = 61.
    added = ("sgd_momentum", "sgd_schedule", "seed_noise")
    assert sum(counts.values()) - sum(counts[g] for g in added) + len(FASHION.combinations) == 61
    assert FASHION.n_runs == 74
    runs = group_runs(FASHION)
    assert len({r.run_id for r in runs}) == len(runs)
    baseline = dict(FASHION.baseline)
    assert baseline | {"epochs": 5, "units_1": 256, "units_2": 256, "batch_size": 64} == baseline
    assert (baseline["learning_rate"], baseline["optimizer"], baseline["n_layers"]) == (1e-3, "adam", 2)
    # Each run changes only its group's factors (and the group's fixed settings).
    for run in runs:
        group = next(g for g in FASHION.groups if g.name == run.group)
        assert set(run.changed) <= set(group.factors) | set(group.fixed)
        assert {k: v for k, v in run.config.items() if k not in run.changed} == {
            k: v for k, v in baseline.items() if k not in run.changed
        }


def test_combinations_take_each_groups_best_and_runner_up():
    study = STUDIES["fashion-ofat"]
    rows = []
    for group in study.groups:
        for i, config in enumerate(group.configurations()):
            # A known ranking: the last level of every group is best, the one before it second.
            rows.append({"group": group.name, "status": "ok", "val_accuracy": 0.5 + 0.01 * i, **config})
    best, runner_up, at_pace = combined_runs(study, rows, "val_accuracy", higher=True)
    assert best.config["epochs"] == 10 and best.config["batch_size"] == 128 and best.config["n_layers"] == 3
    assert (best.config["units_1"], best.config["units_2"]) == (512, 512)
    assert best.config["learning_rate"] == 1e-5 and best.config["optimizer"] == "rmsprop"
    # The schedule group does not take part: it is not one of the seed study's factors.
    assert best.config["lr_schedule"] == "constant" and best.config["momentum"] == 0.0
    assert runner_up.config["epochs"] == 5 and runner_up.config["optimizer"] == "adamw"
    assert (runner_up.config["units_1"], runner_up.config["units_2"]) == (512, 256)
    assert at_pace.config["batch_size"] == 64 and at_pace.config["epochs"] == 5
    assert at_pace.config["units_1"] == 512
    # Lower-is-better metrics rank the other way round.
    lowest, *_ = combined_runs(study, rows, "val_accuracy", higher=False)
    assert lowest.config["epochs"] == 3 and lowest.config["optimizer"] == "sgd"


def _context(frame, metric=ACCURACY, baseline=0.85):
    return Context(metric=metric, score=f"val_{metric.name}", baseline=baseline, runs=frame)


def test_expectations_decide_from_the_numbers():
    epochs = pd.DataFrame({"epochs": [3, 5, 10], "val_accuracy": [0.80, 0.85, 0.86], "run": ["a", "b", "c"]})
    ctx = _context(epochs)
    rising = Improves("epochs").check(epochs, ctx)
    assert rising.supported and rising.distance == pytest.approx(0.01)  # the smaller rise decides
    falling = Improves("epochs").check(epochs.assign(val_accuracy=[0.80, 0.86, 0.85]), ctx)
    assert not falling.supported and falling.distance == pytest.approx(0.01)
    rmse = epochs.rename(columns={"val_accuracy": "val_rmse"})
    assert Improves("epochs").check(rmse.assign(val_rmse=[0.6, 0.5, 0.4]), _context(rmse, RMSE)).supported

    best = BestAmong("epochs", (10,)).check(epochs, ctx)
    assert best == Verdict(True, "best epochs = 10 (val_accuracy 0.8600)", pytest.approx(0.01))
    assert SmallEffect(0.1).check(epochs, ctx).supported and not SmallEffect(0.05).check(epochs, ctx).supported
    assert BeatsBaseline(0.005).check(epochs, ctx).supported
    assert not BeatsBaseline(0.02).check(epochs, ctx).supported

    units = pd.DataFrame(
        {"units_1": [16, 16, 64, 64], "units_2": [16, 64, 16, 64], "val_accuracy": [0.70, 0.72, 0.80, 0.81]}
    )
    verdict = MattersMore("units_1", "units_2").check(units, _context(units))
    assert verdict.supported and "over units_1: 9.50 points, over units_2: 1.50 points" in verdict.evidence
    assert not MattersMore("units_2", "units_1").check(units, _context(units)).supported

    optimizers = pd.DataFrame({"optimizer": ["sgd", "adam", "rmsprop"], "val_accuracy": [0.75, 0.88, 0.86]})
    beats = Beats("optimizer", ("adam", "rmsprop"), "sgd", 0.05).check(optimizers, _context(optimizers))
    assert beats.supported and beats.distance == pytest.approx(0.06)
    # A level whose run failed (absent from the finished runs) cannot support the claim.
    absent = Beats("optimizer", ("adam", "adamw"), "sgd", 0.05).check(optimizers, _context(optimizers))
    assert not absent.supported and "no finished run for optimizer = adamw" in absent.evidence

    schedules = pd.DataFrame({"lr_schedule": ["constant", "cosine", "step"], "val_accuracy": [0.880, 0.884, 0.879]})
    gain = BestBeats("lr_schedule", "constant", 0.003).check(schedules, _context(schedules))
    assert gain.supported and "best lr_schedule = cosine by 0.40 points over constant" in gain.evidence

    plain = pd.DataFrame({"group": ["optimizer"], "optimizer": ["sgd"], "val_accuracy": [0.25]})
    momentum = pd.DataFrame({"momentum": [0.0, 0.9], "val_accuracy": [0.80, 0.84], "run": ["x", "y"]})
    closes = ClosesGap("optimizer", {"optimizer": "sgd"}, 0.9).check(momentum, _context(plain))
    assert closes.supported and "98% of the gap closed" in closes.evidence
    assert not ClosesGap("optimizer", {"optimizer": "sgd"}, 0.99).check(momentum, _context(plain)).supported
    # No gap (the reference is as good as the baseline, or the baseline failed): never "supported".
    for baseline in (0.25, math.nan):
        verdict = ClosesGap("optimizer", {"optimizer": "sgd"}, 0.9).check(momentum, _context(plain, baseline=baseline))
        assert not verdict.supported and "no gap to close" in verdict.evidence


def test_a_verdict_within_twice_the_seed_noise_is_inconclusive():
    frame = pd.DataFrame({"val_accuracy": [0.8]})
    noisy = Context(ACCURACY, "val_accuracy", 0.8, frame, noise=0.004, noise_seeds=5)
    assert verdict_text(Verdict(True, "", distance=0.007), noisy) == "Inconclusive (leans supported)"
    assert verdict_text(Verdict(False, "", distance=0.009), noisy) == "Not supported"
    unmeasured = Context(ACCURACY, "val_accuracy", 0.8, frame)
    assert verdict_text(Verdict(True, "", distance=0.0001), unmeasured) == "Supported"


@pytest.fixture(scope="module")
def california_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    assert main(["california-ofat", "--scale", "0.05", "--out", str(out), "--mlflow"]) == 0
    return out


def test_a_whole_study_writes_every_record(california_study):
    out = california_study
    study = STUDIES["california-ofat"]
    results = pd.read_csv(out / "results.csv")
    assert len(results) == study.n_runs and (results["status"] == "ok").all()
    assert list(results["run"]) == [r.run_id for r in group_runs(study)] + ["combined-best"]
    for column in ("train_loss", "val_loss", "train_rmse", "val_rmse", "test_rmse", "wall_time_s", "command"):
        assert results[column].notna().all(), column
    assert (results["val_rmse"] > 0).all() and (results["wall_time_s"] > 0).all()

    # One TOML per run, with its settings, results and per-epoch history.
    record = tomllib.loads((out / "runs" / "units-06.toml").read_text())
    assert record["changed"] == {"units_1": 64, "units_2": 256}
    assert record["hyperparameters"]["epochs"] == 20 and len(record["history"]["val_loss"]) == 20
    row = results.set_index("run").loc["units-06"]
    assert record["results"]["val_rmse"] == pytest.approx(row["val_rmse"])

    # TensorBoard: an HParams session per run with the run's settings, and per-epoch curves.
    events = EventAccumulator(str(out / "tensorboard" / "units-06"), size_guidance={"tensors": 0})  # keep all
    events.Reload()
    content = events.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content
    session = hparams_metadata.parse_session_start_info_plugin_data(content)
    assert session.hparams["units_2"].number_value == 256 and session.hparams["optimizer"].string_value == "adam"
    assert len(events.Tensors("epoch_val_loss")) == 20 and events.Tensors("test_rmse")
    assert len(list((out / "tensorboard").iterdir())) == study.n_runs

    # MLflow (the extra is installed by `make test`): one run per study run, in a local SQLite store.
    mlflow = pytest.importorskip("mlflow", reason="the optional 'mlflow' extra is not installed")
    client = mlflow.MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("california-ofat").experiment_id], max_results=1000)
    assert len(runs) == study.n_runs
    assert {r.info.run_name for r in runs} == set(results["run"])


def test_the_report_states_hypothesis_result_and_a_generated_conclusion(california_study):
    out = california_study
    study = STUDIES["california-ofat"]
    text = (out / "README.md").read_text()
    results = pd.read_csv(out / "results.csv")
    assert "python -m benchmarks.study california-ofat --scale 0.05" in text and "keras 3.15" in text
    for group in [*study.groups, None]:
        name = group.name if group else "combined"
        section = text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        hypothesis = group.hypothesis if group else study.combined_hypothesis
        assert f"**Hypothesis.** {hypothesis}" in section
        assert "**Result.** Best " in section and "**Conclusion.** " in section
        assert (out / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    # The conclusion is the definition's expectation applied to these numbers: recompute one.
    epochs = results[results["group"] == "epochs"].sort_values("epochs")
    rising = epochs["val_rmse"].is_monotonic_decreasing and epochs["val_rmse"].is_unique
    epochs_section = text.split("## epochs\n", 1)[1]
    assert ("**Conclusion.** Supported" if rising else "**Conclusion.** Not supported") in epochs_section
    best = results.loc[results["val_rmse"].idxmin()]
    assert f"{best['val_rmse']:.4f}" in text
    # The seed noise is measured (the baseline under 5 run seeds) and stated; it decides what is conclusive.
    seeds = results[(results["group"] == "seed_noise") | (results["run"] == "epochs-02")]["val_rmse"]
    assert f"standard deviation {seeds.std(ddof=1):.4f} over 5 run seeds" in text
    assert "Inconclusive" in text or "Supported" in text


def test_a_rerun_reuses_finished_runs(california_study, tmp_path):
    out = tmp_path / "again"
    out.mkdir()
    before = pd.read_csv(california_study / "results.csv")
    # The study "was interrupted" after its first 8 runs: only they are in the store.
    shutil.copy(california_study / "results.sqlite", out / "results.sqlite")
    with sqlite3.connect(out / "results.sqlite") as db:
        db.execute("DELETE FROM jobs WHERE key NOT IN (SELECT key FROM jobs ORDER BY rowid LIMIT 8)")
    assert main(["california-ofat", "--scale", "0.05", "--out", str(out)]) == 0
    after = pd.read_csv(out / "results.csv")
    assert len(after) == len(before)
    assert list(after["started_at"].head(8)) == list(before["started_at"].head(8))  # reused, not retrained
    pd.testing.assert_series_equal(after["val_rmse"], before["val_rmse"], rtol=1e-5)
    assert set(json.loads(after["changed"].iloc[-1])) == set(json.loads(before["changed"].iloc[-1]))


BAD_STUDY_INPUT = [
    (["mnist-ofat"], "invalid choice: 'mnist-ofat'"),
    ([], "name a study, or --list"),
    (["california-ofat", "--scale", "0"], "expected a fraction of the data in (0, 1], got '0'"),
    (["california-ofat", "--scale", "1.5"], "expected a fraction of the data in (0, 1], got '1.5'"),
    (["california-ofat", "--seed", "-1"], "expected a seed >= 0, got '-1'"),
    (["california-ofat", "--out", "{file}"], "is a file, not a directory"),
    (["california-ofat", "--out", "{out}"], "is not a valid store"),
]


@pytest.mark.parametrize(("args", "message"), BAD_STUDY_INPUT, ids=[" ".join(a) or "none" for a, _ in BAD_STUDY_INPUT])
def test_study_bad_input(args, message, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.csv").write_text("run,group\nearlier,results\n")
    (out / "results.sqlite").write_text("this is not a store\n")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    argv = [a.replace("{file}", str(a_file)).replace("{out}", str(out)) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and a_file.read_text() == "x"


BROKEN = Study(
    name="broken",
    dataset="california_housing",
    description="a study with one run that cannot be built",
    baseline={**STUDIES["california-ofat"].baseline, "epochs": 2, "units_1": 8, "units_2": 8, "batch_size": 256},
    groups=(Group("units", {"units_1": (8, -1)}, "Width matters.", Beats("units_1", (8,), -1, 0.0)),),
    combinations=(Combination("best", 0, "the best level"),),
    combined_hypothesis="The best beats the baseline.",
    combined_expectation=BeatsBaseline(0.0),
)


def test_a_failed_run_is_recorded_reported_and_retried(tmp_path):
    def run() -> int:
        return StudyRunner(BROKEN, 0.05, 0, tmp_path, fresh=False, mlflow=None, command="test").execute()

    assert run() == 0
    results = pd.read_csv(tmp_path / "results.csv").set_index("run")
    assert results.loc["units-01", "status"] == "ok" and results.loc["units-02", "status"] == "failed"
    assert "-1" in results.loc["units-02", "error"]
    failed = tomllib.loads((tmp_path / "runs" / "units-02.toml").read_text())
    assert failed["run"]["status"] == "failed" and "fit_time_s" not in failed["cost"]
    text = (tmp_path / "README.md").read_text()
    assert "1 run(s) failed and are left out: units_1=-1:" in text
    assert "Not supported: no finished run for units_1 = -1" in text
    # A rerun keeps the finished run and tries the failed one again.
    assert run() == 0
    again = pd.read_csv(tmp_path / "results.csv").set_index("run")
    assert again.loc["units-01", "started_at"] == results.loc["units-01", "started_at"]
    assert again.loc["units-02", "started_at"] != results.loc["units-02", "started_at"]


TINY = dataclasses.replace(
    BROKEN,
    name="tiny",
    description="a study of two runs",
    groups=(Group("units", {"units_1": (8, 16)}, "Width matters.", Beats("units_1", (16,), 8, 0.0)),),
)


def test_fresh_with_mlflow_logs_every_run(tmp_path):
    mlflow = pytest.importorskip("mlflow", reason="the optional 'mlflow' extra is not installed")
    (tmp_path / "results.csv").write_text("earlier results, to discard\n")
    # --fresh used to delete the store MLflow had just opened: the first run then failed to log.
    assert StudyRunner(TINY, 0.05, 0, tmp_path, fresh=True, mlflow="", command="test").execute() == 0
    results = pd.read_csv(tmp_path / "results.csv")
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id], max_results=1000)
    assert sorted(r.info.run_name for r in runs) == sorted(results["run"]) and len(runs) == TINY.n_runs


def test_rebuild_command_bad_input(tmp_path, capsys):
    assert rebuild_main(["california-ofat", "--dir", str(tmp_path)]) == 2
    assert "no study results at" in capsys.readouterr().err
    (tmp_path / "results.csv").write_text("run,group,status,label\nx,y,ok,z\n")
    assert rebuild_main(["california-ofat", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "does not match study 'california-ofat'" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


@pytest.mark.slow
def test_the_fashion_preset_runs_end_to_end_on_a_slice(tmp_path):
    assert main(["fashion-ofat", "--scale", "0.01", "--out", str(tmp_path)]) == 0
    results = pd.read_csv(tmp_path / "results.csv")
    assert len(results) == FASHION.n_runs and (tmp_path / "figures" / "units.png").exists()
