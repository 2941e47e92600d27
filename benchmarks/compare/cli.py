"""The command line of ``python -m benchmarks.compare``: arguments first, then the run."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Mapping, Sequence
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
from benchmarks.curves import default_tables_dir
from benchmarks.definitions import DATASETS, DEFAULT_DATASETS
from tuning.comparison import PROFILES, Dataset, load_definitions, resolve_reference
from tuning.errors import TuningError
from tuning.execution import LOCAL, Execution, check_address
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
    try:
        check_address(text)
        if text == LOCAL:
            raise TuningError("local")
    except TuningError:
        raise argparse.ArgumentTypeError(
            f"expected a Dask scheduler address tcp://HOST:PORT (--cells N alone runs a local cluster), got {text!r}"
        ) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m benchmarks.compare",
        description="Run every search method on the benchmark datasets under the same epoch budget and split, "
        "and record score, wall time and evaluations.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="profiles:\n" + "\n".join(f"  {p.name:9s} {p.description}" for p in PROFILES.values()),
    )
    parser.add_argument(
        "--definition",
        type=Path,
        metavar="FILE",
        help="a Python file declaring DATASETS (tuning.comparison.Dataset: your data, builder, space, metric and "
        "budgets) to compare on instead of the built-in datasets",
    )
    parser.add_argument(
        "--datasets",
        type=_comma_list,
        help=f"comma list of datasets, or all (built-in: {', '.join(DATASETS)}; default: "
        f"{', '.join(DEFAULT_DATASETS)}, or all of a definition file's)",
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
    parser.add_argument(
        "--out",
        type=Path,
        help="output directory (default: reports/, or reports/<profile>/; with --definition FILE, reports/<FILE's "
        "name>/ and reports/<FILE's name>/<profile>/)",
    )
    parser.add_argument(
        "--reference",
        metavar="METHOD",
        help="the method whose median final score the report's budget-to-target figures race to (default: random if "
        "it runs, else the first method)",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        help="parallel trials of scikit-learn, skopt and Optuna's TPE (default: 1)",
    )
    parser.add_argument(
        "--cells",
        type=positive_int,
        default=1,
        help="cells (dataset, method, seed) run at once on a local Dask cluster, each worker a process with its "
        "share of the cores (one thread each on as many cores as cells), or with --cluster on that scheduler's "
        "workers; a cell's trials run one at a time (default: 1)",
    )
    parser.add_argument(
        "--cluster",
        type=_cluster,
        metavar="tcp://HOST:PORT",
        help="run the cells on an existing Dask scheduler's workers, --cells at once (each worker single-threaded, "
        "with this environment and the data; see docs/cluster.md). Needs the 'dask' extra",
    )
    parser.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="write every trial to DIR/<dataset>/<method>/seed<k>/trial-<n> as a TensorBoard HParams session "
        "(tensorboard --logdir DIR)",
    )
    add_mlflow_argument(parser, "trial")
    parser.add_argument(
        "--replay",
        action="store_true",
        help="answer every trial and refit from the datasets' learning-curve tables (python -m benchmarks.curves) "
        "instead of training: the same methods' library code, 30 seeds in minutes, time simulated from the "
        "recorded epoch times (default --out: reports/replay)",
    )
    parser.add_argument(
        "--curves",
        type=Path,
        metavar="DIR",
        help="with --replay, the directory of the curve tables, one subdirectory per dataset (default: "
        "reports/curves, or reports/curves/<profile>)",
    )
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


def _comma_list(text: str) -> list[str]:
    found = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not found:
        raise argparse.ArgumentTypeError(f"expected a comma list of datasets, got {text!r}")
    return found


def _chosen(
    requested: list[str] | None, known: Mapping[str, Dataset], where: str, default: Sequence[str] | None = None
) -> list[Dataset]:
    """The datasets named in ``requested``; ``None`` means ``default``, or every known one."""
    if requested == ["all"]:
        return list(known.values())
    if requested is None:
        requested = list(default or known)
    unknown = [n for n in requested if n not in known]
    if unknown:
        raise TuningError(f"unknown dataset {unknown[0]!r}; {where} has {', '.join(known)}")
    return [known[n] for n in requested]


def _check_parallelism(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """One level of parallelism: cells run at once run their trials one at a time, or trials inside
    would fight them for the cores."""
    if args.jobs > 1 and (args.cells > 1 or args.cluster is not None):
        option = "--cells" if args.cells > 1 else "--cluster"
        parser.error(f"argument --jobs: not with {option} (cells run at once run their trials one at a time)")


def _check_replay(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Replay answers holdout trials of the built-in datasets one at a time in a cell (--cells runs cells at once)."""
    if not args.replay:
        if args.curves is not None:
            parser.error("argument --curves: only with --replay")
        return
    refused = {
        "--definition": args.definition is not None,
        "--cv": args.cv is not None,
        "--jobs": args.jobs > 1,
    }
    for option, given in refused.items():
        if given:
            parser.error(
                f"argument {option}: not with --replay (it replays the built-in datasets' holdout trials, one at a "
                "time in a cell: replayed trials take microseconds; --cells runs cells at once)"
            )


def main(argv: Sequence[str] | None = None) -> int:
    use_benchmark_environment()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.definition is None:
        try:
            args.datasets = _chosen(args.datasets, DATASETS, "the built-in benchmark", DEFAULT_DATASETS)
        except TuningError as exc:
            parser.error(f"argument --datasets: {exc}")
    try:
        resolve_reference(args.methods, args.reference)
    except TuningError as exc:
        parser.error(f"argument --reference: {exc}")
    _check_parallelism(parser, args)
    _check_replay(parser, args)
    return run_guarded("python -m benchmarks.compare", lambda: _run(args, argv))


def _run(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from benchmarks.compare.runner import Run

    profile = PROFILES[args.profile]
    out = args.out
    datasets = args.datasets
    if args.definition is not None:
        datasets = _chosen(datasets, load_definitions(args.definition), f"{args.definition}")
        if out is None:
            out = Path("reports", args.definition.stem, *([] if profile.name == "standard" else [profile.name]))
    for dataset in datasets:
        dataset.setting(profile.name)  # a definition without this profile's budget fails before anything runs
    if out is None:
        out = Path(DEFAULT_OUT[profile.name])
        if args.replay:
            out = Path("reports", "replay", *([] if profile.name == "standard" else [profile.name]))
    check_output_dir(out)
    if args.tensorboard is not None:
        check_output_dir(args.tensorboard)
    command = "python -m benchmarks.compare " + shlex.join(sys.argv[1:] if argv is None else argv)
    run = Run(
        profile=profile,
        datasets=datasets,
        methods=args.methods,
        seeds=args.seeds or profile.seeds,
        budget=args.budget,
        cv=args.cv,
        out=out,
        execution=Execution(jobs=args.jobs),
        cell_workers=args.cells,
        cluster=args.cluster,
        fresh=args.fresh,
        command=command.strip(),
        tensorboard=args.tensorboard,
        mlflow=args.mlflow,
        reference_method=args.reference,
        replay_tables=(args.curves or default_tables_dir(profile.name)) if args.replay else None,
    )
    return run.execute()
