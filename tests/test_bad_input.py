"""Every bad input a user can give, in one table: a one-line message naming the bad value.

CLI cases must exit with code 2, print one line and no traceback, and leave the output
directory exactly as it was. Library cases must raise a ``TuningError`` subclass. Every
command answers a bad argument or ``--help`` before TensorFlow or Keras Tuner loads.
"""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.compare import main
from tuning import datasets
from tuning.datasets import load_fashion_mnist
from tuning.errors import (
    ChecksumMismatchError,
    InvalidBudgetError,
    InvalidSpaceError,
    TuningError,
    UnsupportedOptionError,
)
from tuning.methods import Budget, get_method
from tuning.space import Categorical, Float, Int, Space
from tuning.wrappers import make_estimator

REPO_CAL = Path(__file__).resolve().parents[1] / "data" / "california_housing" / "cal_housing.data"
SMOKE = ["--profile", "smoke", "--datasets", "california_housing", "--methods", "grid"]

CLI_CASES = [
    ("unknown dataset", ["--datasets", "mnist"], "unknown dataset 'mnist'"),
    ("unknown method", ["--methods", "grid,annealing"], "unknown method 'grid,annealing'"),
    ("unknown profile", ["--profile", "huge"], "invalid choice: 'huge'"),
    ("empty method list", ["--methods", ","], "unknown method ','"),
    ("zero budget", ["--budget", "0"], "expected a positive integer, got '0'"),
    ("negative budget", ["--budget", "-5"], "expected a positive integer, got '-5'"),
    ("non-numeric budget", ["--budget", "lots"], "expected a positive integer, got 'lots'"),
    ("budget below one trial", ["--budget", "1"], "cannot pay for one trial"),
    ("zero seeds", ["--seeds", "0"], "expected a positive integer, got '0'"),
    ("zero jobs", ["--jobs", "0"], "expected a positive integer, got '0'"),
    ("negative jobs", ["--jobs", "-2"], "expected a positive integer, got '-2'"),
    ("zero cells", ["--cells", "0"], "expected a positive integer, got '0'"),
    ("cells with parallel trials", ["--cells", "2", "--jobs", "2"], "argument --jobs: not with --cells"),
    ("parallel trials on a cluster", ["--cluster", "tcp://127.0.0.1:9", "--jobs", "2"], "argument --jobs: not with"),
    ("a local cluster by name", ["--cluster", "local"], "expected a Dask scheduler address tcp://HOST:PORT"),
    ("parallel trials in a replay", ["--replay", "--jobs", "2"], "argument --jobs: not with --replay"),
    ("one fold", ["--cv", "1"], "expected 'holdout' or a number of folds >= 2, got '1'"),
    ("folds for hyperband", ["--methods", "hyperband", "--cv", "3"], "hyperband scores on the holdout split only"),
    ("bad cluster", ["--cluster", "my-laptop"], "expected a Dask scheduler address tcp://HOST:PORT"),
    ("cluster address without a host", ["--cluster", "tcp://"], "got 'tcp://'"),
    ("unreachable scheduler", ["--cluster", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
    ("output is a file", ["--out", "{file}"], "is a file, not a directory"),
    ("output not writable", ["--out", "/proc/tuning-results"], "'/proc/tuning-results' is not writable"),
    ("corrupt data file", ["--data", "corrupt"], "checksum mismatch for"),
    ("truncated data file", ["--data", "truncated"], "checksum mismatch for"),
    ("malformed resume store", ["--store", "garbage"], "is not a valid store"),
    ("tensorboard dir is a file", ["--tensorboard", "{file}"], "is a file, not a directory"),
    ("mlflow extra missing", ["--mlflow-missing"], "MLflow is not installed; install the extra"),
    ("reference method not run", ["--reference", "bayes"], "argument --reference: 'bayes' is not one of the methods"),
    ("definition file missing", ["--definition", "{tmp}/none.py"], "definition file '{tmp}/none.py' does not exist"),
    ("definition defines nothing", ["--definition", "{definition:empty}"], "defines no DATASETS"),
    ("definition that raises", ["--definition", "{definition:typo}"], "failed: NameError: name 'Spce' is not defined"),
    ("dataset not in definition", ["--definition", "{definition:ok}", "--datasets", "fashion"], "unknown dataset"),
    ("unknown metric", ["--definition", "{definition:metric}"], "unknown metric 'r2'"),
    ("no setting for profile", ["--definition", "{definition:ok}", "--profile", "full"], "no setting for profile"),
    ("loader that raises", ["--definition", "{definition:loader}"], "failed to load: OSError: no such table"),
    ("builder that raises", ["--definition", "{definition:raises}"], "builder build raised for {'units': 12}: Value"),
    ("uncompiled model", ["--definition", "{definition:uncompiled}"], "returned a model that is not compiled"),
    ("not a model", ["--definition", "{definition:none}"], "returned NoneType, not a keras.Model"),
    ("wrong output shape", ["--definition", "{definition:outputs}"], "outputs shape (3,) per sample; metric 'mae'"),
    ("parameter not accepted", ["--definition", "{definition:param}"], "does not accept parameter 'width'"),
    ("data shape does not fit", ["--definition", "{definition:shape}"], "data of shape (8,) per sample does not fit"),
]

# A definition file for --definition, and what each bad-input case changes in it.
DEFINITION = (Path(__file__).parent / "fixtures" / "definitions" / "california_mae.py").read_text()
DEFINITION_CHANGES = {
    "ok": [],
    "empty": [("DATASETS = [", "OTHER = [")],
    "typo": [("space=Space(", "space=Spce(")],
    "metric": [('metric="mae"', 'metric="r2"')],
    "loader": [
        ("    return load_california_housing", "    raise OSError('no such table')\n    return load_california")
    ],
    "raises": [("    model = keras.Sequential", "    raise ValueError('no GPU here')\n    model = keras.Sequential")],
    "uncompiled": [('    model.compile("adam", "mean_absolute_error")\n', "")],
    "none": [("    return model", "    return None")],
    "outputs": [("keras.layers.Dense(1)]", "keras.layers.Dense(3)]")],
    "param": [('Int("units", 8, 16)', 'Int("units", 8, 16), Int("width", 1, 2)')],
    "shape": [("keras.Input(input_shape)", "keras.Input((5,))")],
}


def _definition(tmp_path: Path, kind: str) -> str:
    text = DEFINITION
    for old, new in DEFINITION_CHANGES[kind]:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"definition_{kind}.py"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(("case", "args", "message"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input(case, args, message, tmp_path, monkeypatch, capfd):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier results")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    if args[:1] == ["--data"]:
        bad = tmp_path / "data" / "california_housing"
        bad.mkdir(parents=True)
        raw = REPO_CAL.read_bytes()
        (bad / "cal_housing.data").write_bytes(raw[: len(raw) // 2] if args[1] == "truncated" else raw[:-2] + b"9\n")
        monkeypatch.setenv("TUNING_DATA_DIR", str(tmp_path / "data"))
        args = []
    if args == ["--mlflow-missing"]:
        # As if the extra were not installed, also when another test already imported it.
        for module in ["mlflow", *(m for m in sys.modules if m.startswith("mlflow."))]:
            monkeypatch.setitem(sys.modules, module, None)
        args = ["--mlflow"]
    if args[:1] == ["--store"]:
        (out / "results.sqlite").write_bytes(b"not a database " * 100)
        args = []
    args = [_definition(tmp_path, a.split(":")[1][:-1]) if a.startswith("{definition:") else a for a in args]
    argv = [
        *SMOKE,
        "--out",
        str(out),
        *[a.replace("{file}", str(a_file)).replace("{tmp}", str(tmp_path)) for a in args],
    ]
    message = message.replace("{tmp}", str(tmp_path))
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(argv))

    assert exit_info.value.code == 2
    # capfd, not capsys: what libraries write straight to the descriptor reaches the terminal too.
    err = capfd.readouterr().err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert a_file.read_text() == "x"


REPO = Path(__file__).resolve().parents[1]
# Runs a command as `python -m` does, then reports its exit code and every module it loaded.
PROBE = """
import json, runpy, sys
sys.argv = sys.argv[1:]
code = 0
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""
# Seconds to load, before a command could answer; TensorFlow also prints start-up lines.
SLOW_MODULES = {"keras", "jax", "tensorflow", "keras_tuner", "scikeras"}
COMMAND_CASES = [
    ("benchmarks.compare", ["--jobs", "0"], "expected a positive integer, got '0'"),
    ("benchmarks.compare", ["--replay", "--cv", "3"], "argument --cv: not with --replay"),
    ("benchmarks.study", ["california-ofat", "--scale", "0"], "expected a fraction of the data in (0, 1]"),
    ("benchmarks.perf", ["--repeats", "3"], "unrecognized arguments: --repeats 3"),
    ("benchmarks.report", ["--in"], "argument --in: expected one argument"),
    ("benchmarks.curves", ["build", "mnist"], "unknown dataset 'mnist'"),
    ("benchmarks.study.rebuild", ["nope"], "argument study: invalid choice: 'nope'"),
]


@pytest.mark.parametrize("help_asked", [False, True], ids=["bad argument", "help"])
@pytest.mark.parametrize(
    ("module", "args", "message"), COMMAND_CASES, ids=[f"{c[0]} {' '.join(c[1])}" for c in COMMAND_CASES]
)
def test_commands_answer_before_loading_the_slow_libraries(module, args, message, help_asked):
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    argv = ["--help"] if help_asked else args
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if help_asked:
        assert report["code"] == 0 and done.stderr == "" and "usage: python -m " + module in done.stdout
    else:
        assert report["code"] == 2 and len(done.stderr.splitlines()) == 1 and message in done.stderr, done.stderr
    assert not SLOW_MODULES & set(report["modules"])


SPACE = Space([Int("units_1", 8, 16)])


def _corrupt_fashion(tmp_path: Path) -> Path:
    own = tmp_path / "fashion-mnist"
    own.mkdir()
    for name in datasets.FASHION_MNIST_SHA256:
        shutil.copy(datasets.DEBIAN_FASHION_DIR / name, own / name)
    (own / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b truncated")
    return tmp_path


LIBRARY_CASES = [
    ("int low > high", lambda t: Int("units", 10, 5), InvalidSpaceError, "low <= high must hold, got (10, 5)"),
    ("log with low 0", lambda t: Float("lr", 0.0, 1.0, log=True), InvalidSpaceError, "needs low > 0, got low=0.0"),
    ("log with low < 0", lambda t: Int("u", -4, 8, log=True), InvalidSpaceError, "needs low > 0, got low=-4"),
    (
        "empty choices",
        lambda t: Categorical("opt", ()),
        InvalidSpaceError,
        "opt: a categorical parameter needs at least one choice",
    ),
    ("duplicate names", lambda t: Space([Int("a", 1, 2), Int("a", 1, 3)]), InvalidSpaceError, "['a']"),
    ("repeated choices", lambda t: Categorical("opt", ("a", "a")), InvalidSpaceError, "choices must be distinct"),
    ("fractional int bound", lambda t: Int("units", 1.5, 8), InvalidSpaceError, "must be integers, got 1.5"),
    ("infinite bound", lambda t: Float("lr", 0.0, math.inf), InvalidSpaceError, "bounds must be finite"),
    ("name with a space", lambda t: Int("bad name", 1, 2), InvalidSpaceError, "must be an identifier"),
    ("default outside", lambda t: Int("u", 1, 8, default=9), InvalidSpaceError, "default 9 is outside [1, 8]"),
    ("empty space", lambda t: Space([]), InvalidSpaceError, "at least one parameter"),
    ("zero budget", lambda t: Budget(0, 1), InvalidBudgetError, "total_epochs must be a positive integer, got 0"),
    ("zero epochs", lambda t: Budget(10, 0), InvalidBudgetError, "epochs_per_trial must be a positive integer, got 0"),
    ("unknown method", lambda t: get_method("tpe"), TuningError, "unknown method 'tpe'"),
    (
        "folds for a Keras Tuner method",
        lambda t: get_method("kt_random").plan(SPACE, Budget(10, 2), folds=3),
        UnsupportedOptionError,
        "kt_random scores on the holdout split only",
    ),
    (
        "truncated Fashion-MNIST file",
        lambda t: load_fashion_mnist(_corrupt_fashion(t), download=False),
        ChecksumMismatchError,
        "train-labels-idx1-ubyte.gz",
    ),
    (
        "wrapper with an unknown optimizer",
        lambda t: make_estimator(False, optimizer="adagrad", epochs=1).fit([[0.0], [1.0]], [0.0, 1.0]),
        TuningError,
        "unknown optimizer 'adagrad'",
    ),
    (
        "wrapper with too many layers",
        lambda t: make_estimator(True, n_layers=9, epochs=1).fit([[0.0], [1.0]], [0, 1]),
        TuningError,
        "n_layers must be in [1, 4], got 9",
    ),
]


@pytest.mark.parametrize(("case", "call", "error", "message"), LIBRARY_CASES, ids=[c[0] for c in LIBRARY_CASES])
def test_library_bad_input(case, call, error, message, tmp_path):
    with pytest.raises(error) as info:
        call(tmp_path)
    assert message in str(info.value) and "\n" not in str(info.value)
