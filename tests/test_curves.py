"""Curve tables: the design, a build on the smoke slice of California Housing, its resume, and bad input."""

import json

import pandas as pd
import pytest

from benchmarks.curves.build import METADATA_FILE, TABLE_FILE
from benchmarks.curves.cli import main
from benchmarks.curves.design import configurations, grid_points
from benchmarks.definitions import CALIFORNIA, DATASETS, MLP_SPACE
from tuning.methods import Budget, get_method
from tuning.space import Categorical, Space

BUILD = ["build", CALIFORNIA, "--profile", "smoke", "--configs", "2", "--budget-multiples", "1"]
BUILD += ["--noise-configs", "1", "--noise-seeds", "2"]


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
    n_configs = 2 + len(grid_points(MLP_SPACE, metadata["design"]["grid_sizes"]))
    assert metadata["configurations"] == n_configs and metadata["jobs"] == {"finished": n_configs + 1, "planned": 7}
    assert len(table) == (n_configs + 1) * setting.epochs_per_trial
    epochs = table.groupby(["config", "seed"]).epoch.apply(list)
    assert (epochs.map(lambda e: e == list(range(1, setting.epochs_per_trial + 1)))).all()
    assert set(epochs.index) == {(c, 0) for c in range(n_configs)} | {(0, 1)}
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
    assert capfd.readouterr().err.count("finished earlier, skipped") == 7
    assert (built / CALIFORNIA / TABLE_FILE).read_bytes() == before


BAD_INPUT = [
    ("unknown dataset", ["build", "mnist"], "unknown dataset 'mnist'"),
    ("zero configurations", [*BUILD, "--configs", "0"], "expected a positive integer, got '0'"),
    ("bad budget multiple", [*BUILD, "--budget-multiples", "1,x"], "expected a positive integer, got 'x'"),
    ("unknown profile", ["build", "fashion_mnist", "--profile", "huge"], "invalid choice: 'huge'"),
    ("output is a file", [*BUILD, "--out", "{file}"], "is a file, not a directory"),
    ("malformed store", [*BUILD, "--store"], "is not a valid store"),
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
