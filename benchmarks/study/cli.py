"""The command line of ``python -m benchmarks.study``: arguments first, then the runs."""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

# Only light modules before the arguments are parsed: a bad argument, --help or --list
# must not wait for Keras.
from benchmarks.common.cli import OneLineParser, add_mlflow_argument, check_output_dir, run_guarded
from benchmarks.common.environment import use_benchmark_environment
from benchmarks.study.studies import STUDIES

PROG = "python -m benchmarks.study"


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
    parser = OneLineParser(
        prog=PROG, description="Run a one-factor-at-a-time study: every run, its records and the study report."
    )
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
    use_benchmark_environment()
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
        from benchmarks.study.runner import StudyRunner

        check_output_dir(out)
        runner = StudyRunner(STUDIES[args.study], args.scale, args.seed, out, args.fresh, args.mlflow, command)
        return runner.execute()

    return run_guarded(PROG, run)
