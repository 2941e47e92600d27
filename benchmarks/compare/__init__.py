r"""Compare search methods on the benchmark datasets under equal budgets.

    python -m benchmarks.compare                      # the standard profile, into reports/
    python -m benchmarks.compare --profile smoke      # a few minutes, into reports/smoke/
    python -m benchmarks.compare --datasets california_housing --methods random,bayes --seeds 3

Every finished trial and cell is committed to ``<out>/results.sqlite`` as it completes;
a rerun skips finished cells (``--resume``, the default) unless ``--fresh`` is given.
``compare`` runs the same from Python, on ``tuning.comparison.Dataset``\s of your own.
``<out>/comparison.csv`` (one row per dataset, method and seed) and ``<out>/trials.csv``
(one row per trial) are rewritten atomically after each cell.
"""

from typing import Any

from benchmarks.compare.cli import main

__all__ = ["Comparison", "compare", "main"]


def __getattr__(name: str) -> Any:
    # ``compare`` (the same run from Python) needs Keras; the command line parses its arguments first.
    if name in ("Comparison", "compare"):
        from benchmarks.compare import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
