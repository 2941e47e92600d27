"""Your model, your data: the README's example and a definition file, run as a user runs them."""

import json
import math
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.compare import compare, main
from tuning.comparison import Dataset, Setting
from tuning.errors import TuningError

REPO = Path(__file__).resolve().parents[1]
DEFINITION = REPO / "tests" / "fixtures" / "definitions" / "california_mae.py"


def _readme_example() -> str:
    found = re.search(r"<!-- example: digits -->\n```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert found, "README.md lost its digits example"
    return found.group(1)


def test_the_readme_example_runs_the_comparison_on_digits(tmp_path, monkeypatch, capsys):
    code = _readme_example()
    assert len(code.strip().splitlines()) <= 20
    monkeypatch.chdir(tmp_path)

    exec(compile(code, "README.md example", "exec"), {"__name__": "readme_example"})

    printed = capsys.readouterr().out
    out = tmp_path / "digits-results"
    cells = pd.read_csv(out / "comparison.csv")
    assert sorted(cells.method) == ["bayes", "hyperband", "random"]
    assert (cells.metric == "accuracy").all() and cells.greater_is_better.all()
    assert cells.test_score.between(0.5, 1).all() and (cells.test_evaluations == 1).all()
    assert cells.builder.str.endswith(".build").all()
    assert {p["name"] for p in json.loads(cells.space.iloc[0])} == {"units", "learning_rate", "batch_size"}
    trials = pd.read_csv(out / "trials.csv")
    assert {"param_units", "param_learning_rate", "param_batch_size"} <= set(trials.columns)
    # The same report as the built-in benchmark's, about this space and these methods.
    report = (out / "README.md").read_text()
    assert "digits" in report and "hyperband" in report
    assert (out / "report.html").exists() and (out / "figures" / "parameters_digits.png").exists()
    assert "test_score" in printed


@pytest.mark.parametrize("parallel", ["--jobs", "--cells"])
def test_a_definition_file_runs_from_the_command_line(parallel, tmp_path):
    out = tmp_path / "out"
    # Two trials or two cells at once: the definition file's builder must reach worker processes
    # that cannot import it.
    argv = [
        *["--definition", str(DEFINITION), "--profile", "smoke", "--methods", "random,hyperband"],
        *[parallel, "2", "--out", str(out)],
    ]

    assert main(argv) == 0

    cells = pd.read_csv(out / "comparison.csv")
    assert sorted(cells.method) == ["hyperband", "random"]
    assert (cells.dataset == "california_housing").all() and (cells.metric == "mae").all()
    assert not cells.greater_is_better.any()
    assert cells.builder.str.endswith("california_mae.build").all()
    assert cells.test_score.map(math.isfinite).all()
    assert (out / "README.md").exists()
    assert (pd.read_csv(out / "trials.csv").worker_pid != os.getpid()).any(), "no trial ran in a worker"
    # A rerun reuses every finished cell: nothing trains again.
    before = (out / "comparison.csv").read_text()
    assert main(argv) == 0
    assert (out / "comparison.csv").read_text() == before


def test_a_dataset_refuses_what_it_cannot_run():
    settings = {"smoke": Setting(1.0, 6, 3)}
    with pytest.raises(TuningError, match="a dataset's name must be a Python identifier"):
        Dataset("my data", load=list, space=None, metric="mae", settings=settings)
    with pytest.raises(TuningError, match="settings must map profiles"):
        Dataset("d", load=list, space=_space(), metric="mae", settings={"huge": Setting(1.0, 6, 3)})
    with pytest.raises(TuningError, match="unknown metric 'r2'"):
        Dataset("d", load=list, space=_space(), metric="r2", settings=settings)
    with pytest.raises(TuningError, match="unknown method 'annealing'"):
        compare([Dataset("d", load=list, space=_space(), metric="mae", settings=settings)], methods=["annealing"])


def _space():
    from tuning.space import Int, Space

    return Space([Int("units", 8, 16)])
