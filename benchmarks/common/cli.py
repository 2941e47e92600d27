"""What every command-line entry point shares: one-line errors with exit code 2, and argument checks."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from tuning.errors import TuningError

__all__ = [
    "EXIT_BAD_INPUT",
    "OneLineParser",
    "add_mlflow_argument",
    "check_output_dir",
    "names",
    "positive_int",
    "run_guarded",
]

EXIT_BAD_INPUT = 2


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, not argparse's usage block: the same shape as every other bad input.
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def names(kind: str, known: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse type for a comma list drawn from ``known``, or ``all``."""

    def parse(text: str) -> list[str]:
        found = [n.strip() for n in text.split(",") if n.strip()]
        if found == ["all"]:
            return list(known)
        unknown = [n for n in found if n not in known]
        if unknown or not found:
            raise argparse.ArgumentTypeError(f"unknown {kind} {text!r}; choose from {', '.join(known)} or all")
        return list(dict.fromkeys(found))

    return parse


def add_mlflow_argument(parser: argparse.ArgumentParser, unit: str) -> None:
    parser.add_argument(
        "--mlflow",
        nargs="?",
        const="",
        metavar="URI",
        help=f"also log every {unit} to MLflow (the 'mlflow' extra): a tracking URI, or by default "
        "sqlite:///<out>/mlflow.db",
    )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def check_output_dir(out: Path) -> None:
    """Refuse an unusable output directory before anything is written."""
    if out.exists() and not out.is_dir():
        raise TuningError(f"output path {str(out)!r} is a file, not a directory")
    nearest = next(p for p in (out, *out.parents) if p.exists())
    try:
        # Try it rather than trust permission bits: root, read-only mounts and /proc differ.
        tempfile.TemporaryFile(dir=nearest).close()
    except OSError:
        raise TuningError(f"output directory {str(out)!r} is not writable") from None


def run_guarded(prog: str, run: Callable[[], int]) -> int:
    """``run()``, with a bad input reported as one line and exit code 2, and Ctrl-C as 130."""
    try:
        return run()
    except TuningError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted; finished work is kept, rerun to resume", file=sys.stderr)
        return 130
