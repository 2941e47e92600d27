"""Rebuild a study's report from its ``results.csv`` and the study definition alone.

    python -m benchmarks.study.rebuild fashion-ofat [--dir reports/study/fashion-ofat]

The report itself is ``benchmarks.study.document``, imported once the arguments are parsed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common.cli import OneLineParser, run_guarded
from benchmarks.study.studies import STUDIES

PROG = "python -m benchmarks.study.rebuild"


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=list(STUDIES))
    parser.add_argument("--dir", type=Path, help="the study's output directory (default: reports/study/<study>)")
    args = parser.parse_args(argv)

    def run() -> int:
        from benchmarks.study.document import build

        directory = args.dir or Path("reports") / "study" / args.study
        for path in build(STUDIES[args.study], directory)[:1]:
            print(f"wrote {path}")
        return 0

    return run_guarded(PROG, run)


if __name__ == "__main__":
    sys.exit(main())
