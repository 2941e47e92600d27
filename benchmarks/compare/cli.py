"""The command line of ``python -m benchmarks.compare``: arguments first, then the run."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

# Only light modules before the arguments are parsed: a bad argument or --help must not wait
# for Keras, scikit-learn and Keras Tuner to load.
from benchmarks.common.cli import (
    OneLineParser,
    add_mlflow_argument,
    check_output_dir,
    names,
    positive_int,
    run_guarded,
)
from benchmarks.common.environment import use_benchmark_environment
from benchmarks.definitions import DATASETS, PROFILES
from tuning.errors import TuningError
from tuning.execution import LOCAL, Execution
from tuning.methods import DEFAULT_METHODS, METHOD_NAMES

DEFAULT_OUT = {"standard": "reports", "smoke": "reports/smoke", "full": "reports/full"}


def _cv(text: str) -> int | None:
    if text == "holdout":
        return None
    try:
        folds = int(text)
    except ValueError:
        folds = 0
    if folds < 2:
        raise argparse.ArgumentTypeError(f"expected 'holdout' or a number of folds >= 2, got {text!r}")
    return folds


def _cluster(text: str) -> str:
    address = LOCAL if text == "dask" else text  # this command's other name for a local cluster
    try:
        Execution(cluster=address)
    except TuningError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return address


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m benchmarks.compare",
        description="Run every search method on the benchmark datasets under the same epoch budget and split, "
        "and record score, wall time and evaluations.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="profiles:\n" + "\n".join(f"  {p.name:9s} {p.description}" for p in PROFILES.values()),
    )
    parser.add_argument(
        "--datasets",
        type=names("dataset", list(DATASETS)),
        default=list(DATASETS),
        help=f"comma list of datasets ({', '.join(DATASETS)}; default: all)",
    )
    parser.add_argument(
        "--methods",
        type=names("method", METHOD_NAMES),
        default=list(DEFAULT_METHODS),
        help=f"comma list of search methods ({', '.join(METHOD_NAMES)}), or all (default: {','.join(DEFAULT_METHODS)})",
    )
    profiles = list(PROFILES)
    parser.add_argument(
        "--profile", choices=profiles, default="standard", help="budgets, data, seeds (default: standard)"
    )
    parser.add_argument("--seeds", type=positive_int, help="number of seeds, 0..N-1 (default: the profile's)")
    parser.add_argument(
        "--budget",
        type=positive_int,
        help="epochs of training per cell, for every dataset (default: the profile's per-dataset budget)",
    )
    parser.add_argument(
        "--cv",
        type=_cv,
        default=None,
        metavar="holdout|K",
        help="score trials on the validation split (holdout, default) or by K-fold CV over train+validation",
    )
    parser.add_argument("--out", type=Path, help="output directory (default: reports/, or reports/<profile>/)")
    parser.add_argument(
        "--jobs", type=positive_int, default=1, help="parallel trials of scikit-learn, skopt and Optuna (default: 1)"
    )
    parser.add_argument(
        "--cluster",
        type=_cluster,
        metavar="local|dask|tcp://HOST:PORT",
        help="distribute trials. 'local' (or 'dask'): scikit-learn and skopt trials on a local Dask cluster of "
        "max(2, --jobs) single-threaded worker processes, and Keras Tuner trials on a Keras Tuner chief with as "
        "many workers on 127.0.0.1. tcp://HOST:PORT: scikit-learn and skopt trials on an existing Dask "
        "scheduler; Keras Tuner trials stay in this process. Needs the 'dask' extra",
    )
    parser.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="write every trial to DIR/<dataset>/<method>/seed<k>/trial-<n> as a TensorBoard HParams session "
        "(tensorboard --logdir DIR)",
    )
    add_mlflow_argument(parser, "trial")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument(
        "--resume",
        dest="fresh",
        action="store_false",
        default=False,
        help="skip cells already finished in <out>/results.sqlite (default)",
    )
    resume.add_argument("--fresh", dest="fresh", action="store_true", help="discard earlier results in <out> first")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    use_benchmark_environment()
    args = build_parser().parse_args(argv)
    return run_guarded("python -m benchmarks.compare", lambda: _run(args, argv))


def _run(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from benchmarks.compare.runner import Run

    profile = PROFILES[args.profile]
    out = args.out if args.out is not None else Path(DEFAULT_OUT[profile.name])
    check_output_dir(out)
    if args.tensorboard is not None:
        check_output_dir(args.tensorboard)
    command = "python -m benchmarks.compare " + shlex.join(sys.argv[1:] if argv is None else argv)
    run = Run(
        profile=profile,
        datasets=args.datasets,
        methods=args.methods,
        seeds=args.seeds or profile.seeds,
        budget=args.budget,
        cv=args.cv,
        out=out,
        execution=Execution(jobs=args.jobs, cluster=args.cluster),
        fresh=args.fresh,
        command=command.strip(),
        tensorboard=args.tensorboard,
        mlflow=args.mlflow,
    )
    return run.execute()
