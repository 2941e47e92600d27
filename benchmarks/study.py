"""Run a one-factor-at-a-time study: every run, its records, its TensorBoard logs and the study report.

    python -m benchmarks.study fashion-ofat                # the full preset on all the data
    python -m benchmarks.study fashion-ofat --scale 0.05   # 5% of the data, for a quick look
    python -m benchmarks.study california-ofat --mlflow    # also log each run to a local MLflow store
    python -m benchmarks.study --list

Writes to ``reports/study/<study>/`` (``reports/study/<study>-scale<scale>/`` with ``--scale``):
``results.csv`` (one row per run, rewritten atomically after each run), ``runs/<run>.toml``,
``tensorboard/<run>/`` (HParams; ``tensorboard --logdir <dir>/tensorboard``), ``README.md`` and
``figures/``. A rerun reuses the runs already in ``results.csv`` with the same configuration,
data scale, seed and study version, unless ``--fresh`` is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shlex
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Importing this module imports the benchmarks package first, which sets the Keras backend.
import keras
import numpy as np
import pandas as pd
import tomli_w
from tqdm import tqdm

from benchmarks.cli import OneLineParser, add_mlflow_argument, check_output_dir, run_guarded
from benchmarks.definitions import DATASETS, Dataset
from benchmarks.store import write_bytes_atomically, write_csv_atomically
from benchmarks.study_definitions import STUDIES, STUDY_VERSION, Study
from tuning.errors import TuningError
from tuning.metrics import metric_for
from tuning.models import build_model
from tuning.splits import Split
from tuning.tracking import MLFLOW_FILE, check_extras, make_trackers, mlflow_uri
from tuning.training import fit_configuration

PROG = "python -m benchmarks.study"
RESULTS_FILE = "results.csv"
RUNS_DIR = "runs"
TENSORBOARD_DIR = "tensorboard"
# Settings a run uses that are not the builder's: fit arguments, and the run's seed offset.
NOT_BUILDER_KEYS = ("epochs", "batch_size", "run_seed")
EVALUATE_BATCH_SIZE = 8192
EXIT_REPORT_FAILED = 1


@dataclass(frozen=True)
class StudyRun:
    """One configuration of a study: the baseline with ``changed`` applied; ``varied`` names it in its group."""

    run_id: str
    group: str
    changed: Mapping[str, Any]
    config: Mapping[str, Any]
    varied: Mapping[str, Any]

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.varied.items())

    def key(self, study: Study, scale: float, seed: int) -> str:
        identity = {
            "run": self.run_id,
            "study_version": STUDY_VERSION,
            "dataset": study.dataset,
            "config": dict(self.config),
            "scale": scale,
            "seed": seed,
            "backend": keras.backend.backend(),
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def group_runs(study: Study) -> list[StudyRun]:
    """Every run of every group, in the study's order."""
    runs = []
    for group in study.groups:
        for index, changed in enumerate(group.configurations(), 1):
            varied = {k: changed[k] for k in group.factors}
            config = {**study.baseline, **changed}
            runs.append(StudyRun(f"{group.name}-{index:02d}", group.name, changed, config, varied))
    return runs


def combined_runs(study: Study, rows: Sequence[Mapping[str, Any]], score: str, higher: bool) -> list[StudyRun]:
    """The combinations, from the groups' finished runs ranked on the validation ``score``."""
    runs = []
    for combination in study.combinations:
        config = dict(study.baseline)
        for group in study.groups:
            if not group.combine:
                continue
            ranked = sorted(
                (r for r in rows if r["group"] == group.name and r["status"] == "ok" and math.isfinite(r[score])),
                key=lambda r: r[score],
                reverse=higher,
            )
            if len(ranked) > combination.pick:
                config.update({factor: ranked[combination.pick][factor] for factor in group.factors})
        config.update({k: study.baseline[k] for k in combination.keep_baseline})
        changed = {k: v for k, v in config.items() if v != study.baseline[k]}
        runs.append(StudyRun(f"combined-{combination.name}", "combined", changed, config, changed))
    return runs


class EpochTimes(keras.callbacks.Callback):
    """Wall time of each epoch, so that the first (compiling) epoch can be told from the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._started = 0.0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.seconds.append(time.perf_counter() - self._started)


def train_run(
    run: StudyRun, dataset: Dataset, split: Split, fixed: Mapping[str, Any], seed: int
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Train (by the trial recipe), validate and test one configuration; a failure is recorded, never raised."""
    metric = metric_for(dataset.classification)
    started = time.time()
    clock = EpochTimes()
    values = {**fixed, **{k: v for k, v in run.config.items() if k not in NOT_BUILDER_KEYS}}
    n_params: list[int] = []

    def build() -> keras.Model:
        model = build_model(
            n_features=split.x_train.shape[1],
            n_classes=int(np.max(split.y_train)) + 1 if dataset.classification else None,
            **values,
        )
        n_params.append(model.count_params())
        return model

    fit_started = time.perf_counter()
    fitted = fit_configuration(
        build,
        split.x_train,
        split.y_train,
        epochs=run.config["epochs"],
        batch_size=run.config["batch_size"],
        # The split stays the study's; a run_seed offset changes only initialisation and shuffling.
        seed=seed + run.config.get("run_seed", 0),
        validation=(split.x_val, split.y_val),
        callbacks=[clock],
    )
    history = fitted.history
    result: dict[str, Any] = {"status": "ok" if fitted.ok else "failed", "error": fitted.error}
    if n_params:
        result["n_params"] = n_params[0]
    if fitted.epochs:
        result["fit_time_s"] = round(time.perf_counter() - fit_started, 3)
        test = fitted.model.evaluate(
            split.x_test, split.y_test, batch_size=EVALUATE_BATCH_SIZE, verbose=0, return_dict=True
        )
        result[f"test_{metric.name}"] = float(test[metric.name])
        result["test_loss"] = float(test["loss"])
    for name in ("loss", metric.name):
        result[f"train_{name}"] = history.get(name, [math.nan])[-1]
        result[f"val_{name}"] = history.get(f"val_{name}", [math.nan])[-1]
    result["first_epoch_s"] = round(clock.seconds[0], 3) if clock.seconds else math.nan
    result["epoch_time_s"] = round(float(np.median(clock.seconds[1:])), 3) if len(clock.seconds) > 1 else math.nan
    result["wall_time_s"] = round(time.time() - started, 3)
    result["epochs_run"] = fitted.epochs
    return result, history


# What a run's TOML records of where it came from.
TOML_PROVENANCE = ("command", "git_commit", "started_at", "finished_at", "scale", "seed", "n_train", "n_val", "n_test")
COST = ("wall_time_s", "fit_time_s", "first_epoch_s", "epoch_time_s", "n_params")


def write_run_toml(path: Path, row: Mapping[str, Any], run: StudyRun, history: Mapping[str, list[float]]) -> None:
    def clean(values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v.item() if hasattr(v, "item") else v for k, v in values.items() if v is not None}

    document = {
        "run": clean({k: row[k] for k in ("run", "group", "label", "status", "error", "study", "study_version")}),
        "changed": clean(run.changed),
        "hyperparameters": clean(run.config),
        "results": clean({k: v for k, v in row.items() if k.startswith(("train_", "val_", "test_"))}),
        # A run that failed early has no fit time or size.
        "cost": clean({k: row.get(k) for k in COST}),
        "history": dict(history),
        "provenance": clean({k: row[k] for k in TOML_PROVENANCE if k in row}),
    }
    write_bytes_atomically(tomli_w.dumps(document).encode(), path)


@dataclass
class StudyRunner:
    study: Study
    scale: float
    seed: int
    out: Path
    fresh: bool
    mlflow: str | None
    command: str

    def execute(self) -> int:
        # Here, not at the top: the harness's modules load scikit-learn, Keras Tuner and
        # matplotlib, which a bad argument or --help must not wait for.
        from benchmarks.cell import iso, machine, versions
        from benchmarks.runner import git_commit
        from benchmarks.study_report import build as build_report

        dataset = DATASETS[self.study.dataset]
        metric = metric_for(dataset.classification)
        score = f"val_{metric.name}"
        split, fixed = dataset.prepare(dataset.split(dataset.load(), self.seed, fraction=self.scale))
        # Read before --fresh deletes earlier (possibly committed) outputs, which would count as local changes.
        commit = git_commit()
        # The old results are read and the MLflow extra checked before anything is deleted or written.
        previous = {} if self.fresh else self._previous()
        uri = None if self.mlflow is None else mlflow_uri(self.mlflow, self.out)
        check_extras(mlflow=uri)
        self._prepare()
        # After --fresh has discarded the old MLflow store, not before: MLflow would lose the one it opened.
        trackers = make_trackers(tensorboard=self.out / TENSORBOARD_DIR, mlflow=uri, experiment=self.study.name)
        context = {
            "study": self.study.name,
            "study_version": STUDY_VERSION,
            "dataset": self.study.dataset,
            "scale": self.scale,
            "seed": self.seed,
            "n_train": len(split.x_train),
            "n_val": len(split.x_val),
            "n_test": len(split.x_test),
            "command": self.command,
            "git_commit": commit,
            **versions(),
            **machine(),
        }
        rows: list[dict[str, Any]] = []
        bar = tqdm(total=self.study.n_runs, desc=self.study.name, unit="run", file=sys.stderr, dynamic_ncols=True)

        def do(run: StudyRun) -> None:
            key = run.key(self.study, self.scale, self.seed)
            if key in previous:
                rows.append(previous[key])
            else:
                started = time.time()
                result, history = train_run(run, dataset, split, fixed, self.seed)
                row = {
                    "run": run.run_id,
                    "group": run.group,
                    "label": run.label,
                    **result,
                    **run.config,
                    "changed": json.dumps(run.changed, sort_keys=True),
                    "run_key": key,
                    "started_at": iso(started),
                    "finished_at": iso(time.time()),
                    **context,
                }
                shutil.rmtree(self.out / TENSORBOARD_DIR / run.run_id, ignore_errors=True)
                metrics = {k: row[k] for k in row if k.startswith(("train_", "val_", "test_"))}
                metrics["wall_time_s"] = row["wall_time_s"]
                for tracker in trackers:
                    tracker.log_run(run.run_id, run.config, metrics, history)
                write_run_toml(self.out / RUNS_DIR / f"{run.run_id}.toml", row, run, history)
                rows.append(row)
                self._save(rows)
            bar.update(1)
            bar.set_postfix_str(f"{run.run_id} {score}={rows[-1][score]:.4f}")

        for run in group_runs(self.study):
            do(run)
        for run in combined_runs(self.study, rows, score, metric.greater_is_better):
            do(run)
        bar.close()
        self._save(rows)
        failed = sum(r["status"] != "ok" for r in rows)
        print(f"{len(rows)} runs, {failed} failed; wrote {self.out / RESULTS_FILE}", file=sys.stderr)
        try:
            for path in build_report(self.study, self.out)[:1]:
                print(f"wrote {path}", file=sys.stderr)
        except Exception as exc:  # the results are safe in results.csv; the report can be rebuilt
            print(
                f"report not written ({type(exc).__name__}: {exc}); results.csv is complete, rerun "
                f"`python -m benchmarks.study_report {self.study.name} --dir {self.out}`",
                file=sys.stderr,
            )
            return EXIT_REPORT_FAILED
        return 0

    def _prepare(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        if self.fresh:
            for name in (RESULTS_FILE, MLFLOW_FILE):
                (self.out / name).unlink(missing_ok=True)
            for name in (RUNS_DIR, TENSORBOARD_DIR):
                shutil.rmtree(self.out / name, ignore_errors=True)
        (self.out / RUNS_DIR).mkdir(exist_ok=True)

    def _previous(self) -> dict[str, dict[str, Any]]:
        path = self.out / RESULTS_FILE
        if not path.exists():
            return {}
        try:
            frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise TuningError(f"cannot resume from {str(path)!r}: {exc}; rerun with --fresh") from None
        if "run_key" not in frame.columns:
            raise TuningError(f"cannot resume from {str(path)!r}: it has no run_key column; rerun with --fresh")
        frame["error"] = frame["error"].fillna("") if "error" in frame else ""
        frame["label"] = frame["label"].fillna("") if "label" in frame else ""
        # Failed runs are tried again: a crash may have been the machine's, not the configuration's.
        return {row["run_key"]: row for row in frame.to_dict("records") if row.get("status") == "ok"}

    def _save(self, rows: list[dict[str, Any]]) -> None:
        write_csv_atomically(pd.DataFrame(rows), self.out / RESULTS_FILE)


def default_out(study: str, scale: float) -> Path:
    suffix = "" if scale == 1.0 else f"-scale{scale:g}"
    return Path("reports") / "study" / f"{study}{suffix}"


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction of the data in (0, 1], got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a seed >= 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("study", nargs="?", choices=list(STUDIES), help="the study to run")
    parser.add_argument("--list", action="store_true", help="list the studies and their run counts")
    parser.add_argument("--scale", type=_scale, default=1.0, help="fraction of the data to use (default: 1)")
    parser.add_argument(
        "--seed", type=_seed, default=0, help="seed of the split and of every run, plus its run_seed (default: 0)"
    )
    parser.add_argument("--out", type=Path, help="output directory (default: reports/study/<study>[-scale<k>])")
    parser.add_argument("--fresh", action="store_true", help="discard earlier results in the output directory")
    add_mlflow_argument(parser, "run")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        for study in STUDIES.values():
            print(f"{study.name:18s} {study.n_runs:3d} runs  {study.description}")
        return 0
    if args.study is None:
        parser.error("name a study, or --list")
    out = args.out if args.out is not None else default_out(args.study, args.scale)
    command = f"{PROG} " + shlex.join(sys.argv[1:] if argv is None else argv)

    def run() -> int:
        check_output_dir(out)
        runner = StudyRunner(STUDIES[args.study], args.scale, args.seed, out, args.fresh, args.mlflow, command)
        return runner.execute()

    return run_guarded(PROG, run)


if __name__ == "__main__":
    sys.exit(main())
