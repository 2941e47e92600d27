"""The comparison report, built from the harness records alone.

    python -m benchmarks.report [--in reports/ [--in DIR ...]] [--out reports/]

Reads ``comparison.csv`` and ``trials.csv`` (of several directories as one) and writes
``README.md`` (figures linked), ``report.html`` (self-contained: images inlined, every value
escaped, no JavaScript) and ``figures/*.png`` (a figure an earlier report left there is removed). Every
number in the text is computed from those records.

This module stays light: pandas, matplotlib and the statistics libraries load only when a
report is built, so that ``--help`` and a bad argument answer at once.
"""

from __future__ import annotations

import importlib
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common.cli import OneLineParser, check_output_dir, run_guarded

__all__ = ["VERSION_COLUMNS", "build", "main", "md_table", "rebuild_command", "save_figure"]

PROG = "python -m benchmarks.report"
# Names other reports share, and the module that defines each (imported on first use).
_SHARED = {
    "VERSION_COLUMNS": "benchmarks.report.records",
    "md_table": "benchmarks.report.render",
    "save_figure": "benchmarks.report.figures",
}


def __getattr__(name: str) -> Any:
    if name in _SHARED:
        return getattr(importlib.import_module(_SHARED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build(in_dirs: Path | Sequence[Path], out_dir: Path, *, reference_method: str = "random") -> list[Path]:
    """Write the report for the records in ``in_dirs`` (one directory, or several read as one) to
    ``out_dir``; returns README.md, report.html and the figures, in that order."""
    from benchmarks.report.document import write_report

    dirs = [in_dirs] if isinstance(in_dirs, Path) else list(in_dirs)
    command = rebuild_command(dirs, out_dir, reference_method)
    return write_report(dirs, out_dir, reference_method=reference_method, command=command)


def rebuild_command(in_dirs: Sequence[Path], out_dir: Path, reference_method: str = "random") -> str:
    """The command line that writes this report again, named in its header."""
    args = [arg for directory in in_dirs for arg in ("--in", str(directory))]
    if out_dir != in_dirs[0]:
        args += ["--out", str(out_dir)]
    if reference_method != "random":
        args += ["--reference", reference_method]
    return shlex.join([*PROG.split(), *args])


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument(
        "--in",
        dest="in_dirs",
        type=Path,
        action="append",
        metavar="DIR",
        help="harness output directory (default: reports); repeat it to report several as one, for example a "
        "replay and the real runs it is checked against",
    )
    parser.add_argument("--out", type=Path, help="where to write the report (default: the first --in directory)")
    parser.add_argument(
        "--reference",
        default="random",
        metavar="METHOD",
        help="the method whose median final validation score is the reference score the others race to "
        "(default: random)",
    )
    args = parser.parse_args(argv)

    def run() -> int:
        in_dirs = args.in_dirs or [Path("reports")]
        out = args.out or in_dirs[0]
        check_output_dir(out)
        for path in build(in_dirs, out, reference_method=args.reference):
            print(f"wrote {path}")
        return 0

    return run_guarded(PROG, run)
