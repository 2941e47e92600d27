"""The command line of ``python -m benchmarks.perf``: arguments first, then the measurements."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common.cli import OneLineParser, check_output_dir, run_guarded
from benchmarks.common.environment import use_benchmark_environment
from benchmarks.perf.measure import CHILDREN

PROG = "python -m benchmarks.perf"
PERF_CSV = "perf.csv"
PERF_MD = "perf.md"
# Its own store: perf and benchmarks.compare both write to reports/ by default.
PERF_STORE = "perf"
EXIT_MEASUREMENT_FAILED = 1


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description="Measure how close trials run to the hardware, and what the toolkit adds; write perf.csv "
        "and perf.md. Each measurement is committed to <out>/perf.sqlite as it finishes, and a rerun on the "
        "same commit skips the finished ones unless --fresh is given.",
    )
    parser.add_argument("--out", type=Path, default=Path("reports"), help="where perf.csv and perf.md go")
    parser.add_argument("--quick", action="store_true", help="fewer epochs and fits, for a smoke check")
    parser.add_argument("--fresh", action="store_true", help="measure everything again")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    use_benchmark_environment()
    args = build_parser().parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.quick)))
        return 0
    command = f"{PROG} " + shlex.join(sys.argv[1:] if argv is None else argv)
    return run_guarded(PROG, lambda: _run(args, command.strip()))


def _run(args: argparse.Namespace, command: str) -> int:
    import pandas as pd

    from benchmarks.common.engine import Engine, Job, JobContext
    from benchmarks.common.provenance import DISTRIBUTIONS
    from benchmarks.common.store import write_csv_atomically
    from benchmarks.definitions import DATASETS
    from benchmarks.perf.measure import Measurement, measurements
    from benchmarks.perf.summary import derive, summary, write_markdown
    from tuning.methods.base import Status

    check_output_dir(args.out)
    default_backend = os.environ["KERAS_BACKEND"]
    # A typical standard-profile trial: the batch size a grid holds, the profile's epochs.
    standard_trials = {
        short: (DATASETS[name].space["batch_size"].center, DATASETS[name].setting("standard").epochs_per_trial)
        for short, name in (("fashion", "fashion_mnist"), ("california", "california_housing"))
    }
    engine = Engine(
        args.out, command=command, key_column="measurement_key", fresh=args.fresh, outputs=(PERF_CSV,), store=PERF_STORE
    )
    with engine:
        # Measurements describe the code that ran: a rerun on another commit measures again.
        mode = "quick" if args.quick else "full"
        todo: dict[str, Measurement] = {f"{m.name}/{mode}/{engine.commit}": m for m in measurements(default_backend)}
        jobs = [Job(key, m.name) for key, m in todo.items()]

        def work(job: Job, context: JobContext) -> dict[str, Any]:
            found = todo[job.key].run(args.quick)
            for number, row in enumerate(found):
                context.record(number, row)
            context.advance(1)
            return {"measurement": job.name, "rows": len(found)}

        finished = engine.run(jobs, work)
        rows = derive(engine.records(todo).to_dict("records"))
    failed = [row for row in finished if row.get("status") == Status.FAILED]
    info = {k: v for k, v in finished[0].items() if k.startswith("machine_") or k in ("python", *DISTRIBUTIONS)}
    write_csv_atomically(pd.DataFrame([{**r, **info} for r in rows]), args.out / PERF_CSV)
    print(f"wrote {args.out / PERF_CSV}")
    if failed:
        print(f"{len(failed)} measurements failed, so {PERF_MD} was not written; rerun to retry them", file=sys.stderr)
        return EXIT_MEASUREMENT_FAILED
    figures = summary(rows, default_backend, standard_trials)
    run_time = _run_time(finished)
    write_markdown(
        args.out / PERF_MD, rows, figures, info, command, default_backend, commit=engine.commit, run_time=run_time
    )
    print(json.dumps(figures, indent=2))
    print(f"wrote {args.out / PERF_MD}")
    return 0


def _run_time(finished: list[dict[str, Any]]) -> str:
    """From the first measurement's start to the last one's end; those of an earlier run of this
    commit that this one reused count with their own times."""
    import pandas as pd

    started = pd.to_datetime([row["started_at"] for row in finished]).min()
    ended = pd.to_datetime([row["finished_at"] for row in finished]).max()
    seconds = round((ended - started).total_seconds())
    span = f"{started.isoformat(timespec='seconds')} to {ended.isoformat(timespec='seconds')}"
    return f"{seconds // 60} min {seconds % 60} s ({span})"
