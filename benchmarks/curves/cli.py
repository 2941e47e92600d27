"""The command line of ``python -m benchmarks.curves``: arguments first, then the build."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

# Only light modules before the arguments are parsed: a bad argument or --help must not wait for Keras.
from benchmarks.common.cli import OneLineParser, check_output_dir, names, positive_int, run_guarded
from benchmarks.common.environment import use_benchmark_environment
from benchmarks.curves import default_tables_dir
from benchmarks.definitions import DATASETS
from tuning.comparison import PROFILES

PROG = "python -m benchmarks.curves"
# Seeds of every grid point: one seed's luck on a grid point became a replayed grid search's result
# (Fashion-MNIST's four best grid points lie within one seed's spread of each other); the mean of
# five has under half that spread.
GRID_SEEDS = 5


def _non_negative_int(text: str) -> int:
    return 0 if text.strip() == "0" else positive_int(text)


def _multiples(text: str) -> tuple[int, ...]:
    return tuple(dict.fromkeys(positive_int(part) for part in text.split(",")))


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description="Learning-curve tables for the replay benchmark: configurations of a dataset's space trained "
        "by the trial recipe, every epoch's validation score, test score, loss and wall time recorded.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    build = commands.add_parser("build", help="train (or resume training) a dataset's curve table")
    build.add_argument(
        "datasets", type=names("dataset", list(DATASETS)), help=f"comma list of datasets ({', '.join(DATASETS)})"
    )
    build.add_argument(
        "--profile", choices=list(PROFILES), default="standard", help="the setting trained (default: standard)"
    )
    build.add_argument(
        "--configs",
        type=positive_int,
        default=400,
        help="configurations of the Sobol design, besides the grid points (default: 400)",
    )
    build.add_argument(
        "--budget-multiples",
        type=_multiples,
        default=(1, 4),
        metavar="M[,M...]",
        help="the table holds every grid point of these multiples of the setting's budget (default: 1,4)",
    )
    build.add_argument(
        "--noise-configs",
        type=_non_negative_int,
        default=40,
        help="how many of the first configurations are also trained under more seeds (default: 40)",
    )
    build.add_argument(
        "--noise-seeds", type=positive_int, default=3, help="seeds of those configurations, 0..N-1 (default: 3)"
    )
    build.add_argument(
        "--grid-seeds",
        type=positive_int,
        default=GRID_SEEDS,
        help=f"seeds of the grid points, 0..N-1: a replayed grid search reads their mean (default: {GRID_SEEDS})",
    )
    build.add_argument(
        "--max-minutes",
        type=positive_int,
        help="start no configuration after this many minutes, write the table of what finished, and exit; a rerun "
        "resumes",
    )
    build.add_argument(
        "--out", type=Path, help="directory of the tables, one subdirectory per dataset (default: reports/curves)"
    )
    resume = build.add_mutually_exclusive_group()
    resume.add_argument(
        "--resume", dest="fresh", action="store_false", default=False, help="keep finished configurations (default)"
    )
    resume.add_argument("--fresh", dest="fresh", action="store_true", help="discard the table and start again")
    report = commands.add_parser(
        "report", help="a table's README.md: what it holds, its seed noise and its surrogate's held-out fidelity"
    )
    report.add_argument(
        "datasets", type=names("dataset", list(DATASETS)), help=f"comma list of datasets ({', '.join(DATASETS)})"
    )
    report.add_argument("--profile", choices=list(PROFILES), default="standard", help="(default: standard)")
    report.add_argument("--out", type=Path, help="directory of the tables (default: reports/curves)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    use_benchmark_environment()
    args = build_parser().parse_args(argv)
    command = f"{PROG} " + shlex.join(sys.argv[1:] if argv is None else argv)
    return run_guarded(PROG, lambda: (_build if args.command == "build" else _report)(args, command))


def _tables_dir(args: argparse.Namespace) -> Path:
    return args.out or default_tables_dir(args.profile)


def _report(args: argparse.Namespace, command: str) -> int:
    from benchmarks.curves.table import load_table
    from benchmarks.curves.table_readme import write_report

    tables = [(load_table(_tables_dir(args) / name, DATASETS[name], args.profile), name) for name in args.datasets]
    for table, name in tables:
        for path in write_report(table, _tables_dir(args) / name, command=command):
            print(f"wrote {path}")
    return 0


def _build(args: argparse.Namespace, command: str) -> int:
    from benchmarks.curves.build import CurveBuild
    from benchmarks.curves.table import TABLE_FILE

    out = _tables_dir(args)
    builds = [
        CurveBuild(
            DATASETS[name],
            args.profile,
            args.configs,
            args.noise_configs,
            args.noise_seeds,
            args.budget_multiples,
            grid_seeds=args.grid_seeds,
        )
        for name in args.datasets
    ]
    check_output_dir(out)
    for build in builds:
        build.task.setting(args.profile)  # a dataset without this profile fails before anything runs
        check_output_dir(out / build.task.name)
    deadline = None if args.max_minutes is None else time.time() + 60 * args.max_minutes
    unfinished = 0
    for build in builds:
        table = build.run(out / build.task.name, command=command, fresh=args.fresh, deadline=deadline)
        jobs = len(build.jobs())
        finished = table[["config", "seed"]].drop_duplicates().shape[0] if not table.empty else 0
        unfinished += jobs - finished
        print(f"{build.task.name}: {finished} of {jobs} curves; wrote {out / build.task.name / TABLE_FILE}")
    # Past --max-minutes, unfinished curves are expected (a rerun resumes); without it, they failed.
    return 1 if unfinished and deadline is None else 0
